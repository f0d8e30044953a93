import type { Job } from "bullmq";
import { JOBS, jobSchedules, type JobDefinition } from "../jobs/index.js";
import { queueWarmUpIfNeeded } from "../jobs/warm-up-candles.js";
import { buildServices } from "./build-services.js";
import type { Config } from "./config/load.js";
import { seedDemo } from "./demo/seed.js";
import { appRoutes } from "./http/routes.js";
import { startHttpServer, type RouteHandler } from "./http/server.js";
import { Heartbeat } from "./lifecycle/heartbeat.js";
import { ShutdownStack } from "./lifecycle/shutdown.js";
import type { Logger } from "./log/logger.js";
import type { CandleSource, QuoteSource } from "./market/types.js";
import type { DeliveryPolicy, QueueName } from "./queue/queues.js";
import { ScheduleKeeper } from "./queue/schedules.js";
import { startWorkers, type RunnableJob } from "./queue/workers.js";
import type { Services } from "./services.js";
import type { StreamObserver } from "./market/stream/market-stream.js";

export type Role = "all" | "worker";

export interface AppOptions {
  role: Role;
  demo: boolean;
  log: Logger;
  clock?: () => number;
  /** Where to look for Redis when REDIS_URL is unset (tests point this at a dead port). */
  defaultRedisUrl?: string;
  /** Market data instead of the seeded simulator (tests script prices with it). */
  quoteSource?: QuoteSource;
  /** Closed candles instead of the simulator's or Upstox's (tests script them). */
  candleSource?: CandleSource;
  /** Retry policy of notify jobs; defaults to 6 attempts, exponential backoff from 2 s. */
  delivery?: Partial<DeliveryPolicy>;
  /** Told of every evaluated batch of ticks (the bench measures tick-to-outbox with it). */
  streamObserver?: StreamObserver;
}

export interface RunningApp {
  services: Services;
  /** The bound HTTP port, when this role serves HTTP. */
  httpPort: number | undefined;
  redisUrl: string;
  /**
   * Stops everything within `budgetMs` (default SHUTDOWN_TIMEOUT) and never rejects: what
   * could not close politely is dropped (and logged).
   */
  stop(budgetMs?: number): Promise<void>;
}

/**
 * A sweep after Redis lost its jobs needs no grace: re-queuing uses the row's job id, so a row
 * whose job survived (or is being written right now) is not queued twice.
 */
const RESTORED_SWEEP_GRACE_MS = 0;

/**
 * The composition root: builds the services, runs the registry's jobs (jobs/index.ts) in
 * every role, and in the "all" role also the schedules, the chat bot and HTTP. Everything it
 * opens is closed by one shutdown stack, in reverse order, within SHUTDOWN_TIMEOUT.
 */
export async function startApp(config: Config, opts: AppOptions): Promise<RunningApp> {
  const { log } = opts;
  const clock = opts.clock ?? Date.now;
  const startedAt = clock();
  const shutdown = new ShutdownStack({ budgetMs: config.shutdownTimeoutMs, log });
  const stop = (budgetMs?: number) => shutdown.stop(budgetMs).then(() => undefined);

  try {
    const built = await buildServices(config, { ...opts, clock, startedAt }, shutdown);
    const { services, redisWatch } = built;
    const { queues, metrics } = services;

    if (opts.demo) {
      const seeded = await seedDemo(services);
      if (seeded.created) log.info({ rules: seeded.rules }, "demo trader created with a watchlist and alerts near the current prices");
    }

    // Workers: every role runs them; more `--role=worker` processes add capacity. Closing them
    // is the drain on shutdown: when the budget runs low, calls still on the wire are cut off.
    const heartbeat = new Heartbeat(services.redis, config.redis.prefix, { role: opts.role, startedAt });
    await heartbeat.start();
    shutdown.push({ name: "heartbeat", run: () => heartbeat.stop() });
    const workers = startWorkers({ connection: services.redis, prefix: config.redis.prefix, jobs: bindJobs(services), log, metrics, redis: redisWatch });
    shutdown.pushDrain({ name: "workers", close: workers.close, abandon: workers.abandon });

    // The real-time path: every process competes for the feeds' lease; one holds the sockets.
    // Closed before the workers, so its last evaluations' jobs are queued while they still run.
    if (built.feeds && (built.feeds.market || built.feeds.portfolio)) {
      const { MarketStream } = await import("./market/stream/market-stream.js");
      const stream = new MarketStream(services, built.feeds, opts.streamObserver);
      stream.start();
      shutdown.push({ name: "market feeds", run: () => stream.close() });
    }

    let httpPort: number | undefined;
    if (opts.role === "all") {
      const upstox = Boolean(services.upstox);
      const keeper = new ScheduleKeeper({
        queues,
        redis: services.redis,
        prefix: config.redis.prefix,
        schedules: jobSchedules({ pollIntervalSeconds: config.pollIntervalSeconds, backupCron: config.backup.cron, upstox }),
        log,
        onRestored: async () => {
          metrics.schedulesRestored.inc();
          // What the loss may have cost: the poll due now, the jobs of pending rows, the calendar.
          await queues["poll-quotes"].add("poll-quotes", {}, { jobId: `restored-${clock()}` });
          await queues["sweep-outbox"].add("sweep-outbox", { graceMs: RESTORED_SWEEP_GRACE_MS }, { jobId: `restored-${clock()}` });
          if (upstox) await queues["refresh-calendar"].add("refresh-calendar", {}, { jobId: `restored-${clock()}` });
          await queueWarmUps(services);
        },
      });
      shutdown.push({ name: "schedule check", run: () => keeper.close() });
      await keeper.register();
      keeper.watch();
      // Rows a stop or a crash left pending whose jobs are gone go now, not a minute from now.
      await queues["sweep-outbox"].add("sweep-outbox", { graceMs: 0 }, { jobId: `start-${startedAt}` });
      if (upstox) {
        await queues["refresh-calendar"].add("refresh-calendar", {}, { jobId: `start-${startedAt}` });
        if (services.instruments.count() === 0) await queues["refresh-instruments"].add("refresh-instruments", {}, { jobId: "initial-load" });
      }

      const chat = config.telegram.botToken ? await startChatBot(services, config.telegram.botToken) : undefined;
      if (chat) shutdown.push({ name: "telegram bot", run: () => chat.stop() });
      const http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        log,
        onError: () => metrics.errors.inc({ where: "http" }),
        routes: appRoutes({
          services,
          oauth: services.oauth,
          telegramWebhook: chat?.webhook,
          sendToChat: chat?.sendToChat,
          health: { startedAt, redisUp: redisWatch.up, sqlitePing: built.sqlitePing },
        }),
      });
      shutdown.push({ name: "http server", run: () => http.close() });
      httpPort = http.port;
      log.info({ port: http.port, host: config.http.host }, `HTTP on http://${config.http.host}:${http.port} (/healthz, /metrics)`);

      // Warm-up from history on start: indicators are ready at the first close, not hours later.
      const queued = await queueWarmUps(services);
      if (queued) log.info({ instruments: queued }, "loading candle history for instruments in use");
    }

    log.info(
      {
        role: opts.role,
        source: services.quotes.name,
        pollEvery: config.pollIntervalSeconds,
        redis: built.redisUrl.replace(/\/\/.*@/, "//***@"),
        db: config.databasePath,
      },
      "bot started",
    );
    return { services, httpPort, redisUrl: built.redisUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface ChatBot {
  /** In webhook mode, the route Telegram posts updates to. */
  webhook: { path: string; handle: RouteHandler } | undefined;
  sendToChat: (chatId: number, html: string) => Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Telegram chat bot, started. Its modules (grammY's runner, every handler) are loaded
 * here, only when there is a bot token: a start without one (the demo) does not pay for them.
 */
async function startChatBot(services: Services, token: string): Promise<ChatBot> {
  const [{ createBot }, { startBot, WEBHOOK_PATH }] = await Promise.all([import("./bot/create-bot.js"), import("./bot/start-bot.js")]);
  const chatBot = createBot(services, services.oauth, token);
  const running = await startBot(chatBot, services);
  return {
    webhook: running.webhook && { path: WEBHOOK_PATH, handle: running.webhook },
    sendToChat: async (chatId, html) => void (await chatBot.api.sendMessage(chatId, html, { parse_mode: "HTML" })),
    stop: () => running.stop(),
  };
}

/** The registry's jobs with the services bound: what a worker runs for each queue. */
function bindJobs(s: Services): Record<QueueName, RunnableJob> {
  const defs = JOBS as Record<QueueName, JobDefinition>;
  const bound = {} as Record<QueueName, RunnableJob>;
  for (const name of Object.keys(defs) as QueueName[]) {
    const def = defs[name];
    bound[name] = { processor: (job: Job, token?: string) => def.processor(job as Job<never>, s, token), concurrency: def.concurrency?.(s.config) ?? 1 };
  }
  return bound;
}

async function queueWarmUps(s: Services): Promise<number> {
  s.ruleBook.refresh();
  let queued = 0;
  for (const key of s.watchlists.instrumentKeysInUse()) if (await queueWarmUpIfNeeded(s, key)) queued++;
  return queued;
}
