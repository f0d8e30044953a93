import type { Job, Worker } from "bullmq";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { backupJob } from "../jobs/backup.js";
import { deliverNotification, type NotifyJobData } from "../jobs/notify.js";
import { pollQuotes } from "../jobs/poll-quotes.js";
import { sweepOutbox } from "../jobs/sweep-outbox.js";
import type { Config } from "./config/load.js";
import { AlertRuleRepository } from "./db/repositories/alert-rules.js";
import { AuditLog } from "./db/repositories/audit.js";
import { InstrumentRepository } from "./db/repositories/instruments.js";
import { UserRepository } from "./db/repositories/users.js";
import { WatchlistRepository } from "./db/repositories/watchlists.js";
import { openDatabase } from "./db/open.js";
import { seedDemo } from "./demo/seed.js";
import { assessHealth } from "./http/health.js";
import { sendJson, startHttpServer, type HttpServer } from "./http/server.js";
import type { Logger } from "./log/logger.js";
import { isMarketOpen } from "./market/calendar.js";
import { PollState } from "./market/poll-state.js";
import { MarketSimulator } from "./market/simulator.js";
import { createMetrics } from "./metrics.js";
import { createEmailSender } from "./notify/email.js";
import { Outbox } from "./notify/outbox.js";
import { createTelegramSender } from "./notify/telegram.js";
import { createQueues, createWorker, QUEUE_NAMES, type QueueName } from "./queue/queues.js";
import { createRedisConnection, resolveRedis } from "./redis/connect.js";
import type { Services } from "./services.js";

export type Role = "all" | "worker";

export interface AppOptions {
  role: Role;
  demo: boolean;
  log: Logger;
  clock?: () => number;
  /** Where to look for Redis when REDIS_URL is unset (tests point this at a dead port). */
  defaultRedisUrl?: string;
}

export interface RunningApp {
  services: Services;
  /** The bound HTTP port, when this role serves HTTP. */
  httpPort: number | undefined;
  redisUrl: string;
  stop(): Promise<void>;
}

const MARKET_TZ = "Asia/Kolkata";

/** The composition root: builds every service from validated config, and tears them down in order. */
export async function startApp(config: Config, opts: AppOptions): Promise<RunningApp> {
  const { log } = opts;
  const clock = opts.clock ?? Date.now;
  const startedAt = clock();
  const cleanups: Array<[string, () => Promise<void> | void]> = [];
  const stop = async () => {
    for (const [name, fn] of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, `error while closing ${name}`);
      }
    }
    cleanups.length = 0;
  };

  try {
    mkdirSync(config.dataDir, { recursive: true });
    const db = openDatabase(config.databasePath);
    cleanups.push(["sqlite", () => void db.close()]);

    const redis = await resolveRedis({
      url: config.redis.url,
      log,
      workDir: path.join(config.dataDir, "redis"),
      ...(opts.defaultRedisUrl ? { defaultUrl: opts.defaultRedisUrl } : {}),
    });
    if (redis.embedded) cleanups.push(["private redis-server", () => redis.embedded!.stop()]);
    const connection = createRedisConnection(redis.url, `uab:${opts.role}`);
    connection.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
    cleanups.push(["redis connection", async () => void (await connection.quit().catch(() => connection.disconnect()))]);

    const queues = createQueues(connection, config.redis.prefix);
    const pollState = new PollState(connection, config.redis.prefix);
    const metrics = createMetrics({
      queueCounts: async () => {
        const out: Record<string, Record<string, number>> = {};
        for (const name of QUEUE_NAMES) out[name] = await queues[name].getJobCounts("waiting", "active", "delayed", "failed");
        return out;
      },
      lastPollAgeSeconds: async () => {
        const at = await pollState.lastPollAt();
        return at === null ? null : (clock() - at) / 1000;
      },
    });
    cleanups.push(["queues", () => Promise.all(Object.values(queues).map((q) => q.close())).then(() => undefined)]);

    const users = new UserRepository(db, clock);
    const rules = new AlertRuleRepository(db, clock);
    const email = createEmailSender({ smtpUrl: config.email.smtpUrl, from: config.email.from, outDir: path.join(config.dataDir, "mail") });
    cleanups.push(["email", () => email.close()]);
    const holidays = new Set<string>();
    const services: Services = {
      config,
      log,
      db,
      clock,
      users,
      instruments: new InstrumentRepository(db, clock),
      watchlists: new WatchlistRepository(db, clock),
      rules,
      audit: new AuditLog(db, clock),
      outbox: new Outbox(db, rules, clock),
      quotes: new MarketSimulator({ seed: config.simulator.seed, now: clock }),
      pollState,
      metrics,
      queues,
      email,
      telegram: createTelegramSender({ botToken: config.telegram.botToken, apiRoot: config.telegram.apiRoot, log }),
      holidays,
      marketOpen: (at) => (config.simulator.alwaysOpen ? true : isMarketOpen(at, holidays)),
    };

    if (opts.demo) {
      const seeded = await seedDemo(services);
      if (seeded.created) log.info({ rules: seeded.rules }, "demo trader created with a watchlist and alerts near the current prices");
    }

    // Workers: every role runs them; more `--role=worker` processes add capacity.
    const processors: Record<QueueName, (job: Job) => Promise<unknown>> = {
      "poll-quotes": (job) => pollQuotes(job, services),
      notify: (job) => deliverNotification(job as Job<NotifyJobData>, services),
      "sweep-outbox": (job) => sweepOutbox(job, services),
      backup: (job) => backupJob(job, services),
    };
    const workers: Worker[] = QUEUE_NAMES.map((name) =>
      createWorker(
        connection,
        config.redis.prefix,
        { queue: name, processor: processors[name], concurrency: name === "notify" ? config.workerConcurrency : 1 },
        (queue, job, err) => {
          metrics.jobs.inc({ queue, outcome: err ? "failed" : "completed" });
          if (err) {
            metrics.errors.inc({ where: queue });
            log.error({ err, queue, jobId: job?.id, attempt: job?.attemptsMade }, `job ${queue} failed`);
          }
        },
      ),
    );
    for (const w of workers) w.on("error", (err) => log.error({ err }, "worker error"));
    // Closing a worker waits for its active jobs: this is the drain on shutdown.
    cleanups.push(["workers", () => Promise.all(workers.map((w) => w.close())).then(() => undefined)]);

    let http: HttpServer | undefined;
    if (opts.role === "all") {
      await queues["poll-quotes"].upsertJobScheduler("poll-quotes", { every: config.pollIntervalSeconds * 1000 }, { name: "poll-quotes" });
      await queues["sweep-outbox"].upsertJobScheduler("sweep-outbox", { every: 60_000 }, { name: "sweep-outbox" });
      await queues.backup.upsertJobScheduler("backup", { pattern: config.backup.cron, tz: MARKET_TZ }, { name: "backup" });

      http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        log,
        onError: () => metrics.errors.inc({ where: "http" }),
        routes: {
          "/healthz": async (_req, res) => {
            const report = await gatherHealth(services, startedAt);
            sendJson(res, report.status === "ok" ? 200 : 503, report);
          },
          "/metrics": async (_req, res) => {
            const body = await metrics.registry.metrics();
            res.writeHead(200, { "content-type": metrics.registry.contentType });
            res.end(body);
          },
        },
      });
      cleanups.push(["http server", () => http!.close()]);
      log.info({ port: http.port, host: config.http.host }, `HTTP on http://${config.http.host}:${http.port} (/healthz, /metrics)`);
    }

    log.info(
      { role: opts.role, source: services.quotes.name, pollEvery: config.pollIntervalSeconds, redis: redis.url.replace(/\/\/.*@/, "//***@"), db: config.databasePath },
      "bot started",
    );
    return { services, httpPort: http?.port, redisUrl: redis.url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function gatherHealth(s: Services, startedAt: number) {
  const now = s.clock();
  const redis = await (async () => {
    const t0 = performance.now();
    try {
      await s.pollState.isPaused();
      return { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  })();
  let sqlite: { ok: boolean; error?: string } = { ok: true };
  try {
    s.db.prepare("SELECT 1").get();
  } catch (err) {
    sqlite = { ok: false, error: (err as Error).message };
  }
  const [lastPollAt, pollingPaused] = redis.ok
    ? await Promise.all([s.pollState.lastPollAt(), s.pollState.isPaused()])
    : [null, false];
  const counts = sqlite.ok ? s.users.counts() : { linked: 0, expired: 0 };
  return assessHealth({
    now,
    startedAt,
    redis,
    sqlite,
    lastPollAt,
    pollIntervalSeconds: s.config.pollIntervalSeconds,
    marketOpen: s.marketOpen(new Date(now)),
    pollingPaused,
    marketData: { source: s.quotes.name, linkedUsers: counts.linked, expiredTokens: counts.expired },
  });
}
