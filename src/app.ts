import type { Job, Worker } from "bullmq";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { backupJob } from "../jobs/backup.js";
import { deliverNotification, type NotifyJobData } from "../jobs/notify.js";
import { pollQuotes } from "../jobs/poll-quotes.js";
import { fetchCandles } from "../jobs/fetch-candles.js";
import { pruneCandles } from "../jobs/prune-candles.js";
import { checkHoldingMoves } from "../jobs/holding-moves.js";
import { portfolioDigest, type DigestJobData } from "../jobs/portfolio-digest.js";
import { tokenReminder } from "../jobs/token-reminder.js";
import { syncOrders } from "../jobs/order-sync.js";
import { OrderRepository } from "./orders/order-repository.js";
import { handleOrderWebhook, orderWebhookPath } from "./http/order-webhook.js";
import { refreshCalendarJob } from "../jobs/refresh-calendar.js";
import { refreshInstrumentsJob } from "../jobs/refresh-instruments.js";
import { queueWarmUpIfNeeded, warmUpCandles, type WarmUpData } from "../jobs/warm-up-candles.js";
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
import { sendJson, startHttpServer, type HttpServer, type RouteHandler } from "./http/server.js";
import type { Logger } from "./log/logger.js";
import { MarketCalendar } from "./market/market-calendar.js";
import { PollState } from "./market/poll-state.js";
import { MarketSimulator } from "./market/simulator.js";
import type { QuoteSource } from "./market/types.js";
import { createMetrics } from "./metrics.js";
import { createEmailSender } from "./notify/email.js";
import { Outbox } from "./notify/outbox.js";
import { createTelegramSender } from "./notify/telegram.js";
import { ChatLocks } from "./notify/chat-lock.js";
import { UnsubscribeLinks } from "./notify/unsubscribe.js";
import { RateLimiter } from "./redis/rate-limit.js";
import { handleUnsubscribe, UNSUBSCRIBE_PATH } from "./http/unsubscribe-route.js";
import { createQueues, createWorker, DEFAULT_DELIVERY, enqueueNotifications, QUEUE_NAMES, type DeliveryPolicy, type QueueName } from "./queue/queues.js";
import { createRedisConnection, resolveRedis } from "./redis/connect.js";
import type { Services } from "./services.js";
import { createBot } from "./bot/create-bot.js";
import { OAuthStates } from "./bot/oauth.js";
import { startBot, WEBHOOK_PATH, type RunningBot } from "./bot/start-bot.js";
import { handleUpstoxCallback, UPSTOX_CALLBACK_PATH } from "./http/upstox-callback.js";
import { channelsFor } from "./signals/engine.js";
import { RuleBook } from "./signals/rule-book.js";
import { IndicatorEngine } from "./signals/indicator-engine.js";
import { CandleRepository } from "./db/repositories/candles.js";
import { UpstoxCandleSource } from "./upstox/candle-source.js";
import type { CandleSource } from "./market/types.js";
import { createUpstox } from "./upstox/create.js";

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
}

export interface RunningApp {
  services: Services;
  /** The bound HTTP port, when this role serves HTTP. */
  httpPort: number | undefined;
  redisUrl: string;
  stop(): Promise<void>;
}

const MARKET_TZ = "Asia/Kolkata";
/** Telegram's documented ceiling for a bot: about 30 messages a second across all chats. */
const TELEGRAM_GLOBAL_PER_SECOND = 30;

/** The composition root: builds every service from validated config, and tears them down in order. */
export async function startApp(config: Config, opts: AppOptions): Promise<RunningApp> {
  const { log } = opts;
  const clock = opts.clock ?? Date.now;
  const startedAt = clock();
  const cleanups: Cleanup[] = [];
  let stopping: Promise<void> | undefined;
  /**
   * Closes everything in reverse order of opening. Each step is bounded: a step that hangs
   * (Redis gone, so BullMQ waits forever) is abandoned after its deadline, its connections
   * dropped, and the next step runs. Rejects at the end if any step failed or timed out.
   */
  const stop = () =>
    (stopping ??= (async () => {
      const problems: string[] = [];
      for (const step of cleanups.reverse()) {
        const timeoutMs = typeof step.timeoutMs === "function" ? step.timeoutMs() : (step.timeoutMs ?? 5000);
        try {
          await withTimeout(Promise.resolve().then(step.run), timeoutMs, `closing ${step.name}`);
        } catch (err) {
          problems.push(step.name);
          log.warn({ err: (err as Error).message }, `error while closing ${step.name}`);
          if (step.abandon) await withTimeout(step.abandon(), 1000, `dropping ${step.name}`).catch(() => {});
        }
      }
      cleanups.length = 0;
      if (problems.length) throw new Error(`shutdown incomplete: ${problems.join(", ")} did not close cleanly`);
    })());

  try {
    mkdirSync(config.dataDir, { recursive: true });
    const db = openDatabase(config.databasePath);
    cleanups.push({ name: "sqlite", run: () => void db.close() });

    const redis = await resolveRedis({
      url: config.redis.url,
      log,
      workDir: path.join(config.dataDir, "redis"),
      ...(opts.defaultRedisUrl ? { defaultUrl: opts.defaultRedisUrl } : {}),
    });
    if (redis.embedded) cleanups.push({ name: "private redis-server", run: () => redis.embedded!.stop() });
    const connection = createRedisConnection(redis.url, `uab:${opts.role}`);
    connection.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
    // QUIT waits in ioredis' offline queue forever when Redis is gone: only ask politely when connected.
    const redisReady = () => connection.status === "ready";
    cleanups.push({
      name: "redis connection",
      run: async () => void (redisReady() ? await connection.quit().catch(() => connection.disconnect()) : connection.disconnect()),
      abandon: async () => connection.disconnect(),
    });

    const queues = createQueues(connection, config.redis.prefix);
    const pollState = new PollState(connection, config.redis.prefix);
    const metrics = createMetrics({
      queueCounts: () =>
        redisCall(redisReady, async () => {
          const out: Record<string, Record<string, number>> = {};
          for (const name of QUEUE_NAMES) out[name] = await queues[name].getJobCounts("waiting", "active", "delayed", "failed");
          return out;
        }),
      lastPollAgeSeconds: () =>
        redisCall(redisReady, async () => {
          const at = await pollState.lastPollAt();
          return at === null ? null : (clock() - at) / 1000;
        }),
    });
    // The queues re-emit the shared connection's errors, already logged above; without a
    // listener BullMQ prints each one to stderr as an unstructured stack.
    for (const q of Object.values(queues)) q.on("error", (err) => log.debug({ err: err.message, queue: q.name }, "queue error"));
    cleanups.push({
      name: "queues",
      run: () => Promise.all(Object.values(queues).map((q) => q.close())).then(() => undefined),
      abandon: () => Promise.all(Object.values(queues).map((q) => q.disconnect().catch(() => {}))).then(() => undefined),
    });

    const users = new UserRepository(db, clock);
    const rules = new AlertRuleRepository(db, clock);
    const email = createEmailSender({ smtpUrl: config.email.smtpUrl, from: config.email.from, outDir: path.join(config.dataDir, "mail") });
    cleanups.push({ name: "email", run: () => email.close() });
    const sqlitePing = db.prepare("SELECT 1");
    const calendar = new MarketCalendar(connection, config.redis.prefix, { alwaysOpen: config.simulator.alwaysOpen, clock });
    const outbox = new Outbox(db, rules, clock);
    const delivery = { ...DEFAULT_DELIVERY, ...opts.delivery };
    const upstox = config.upstox.apiKey
      ? createUpstox({
          config,
          db,
          redis: connection,
          log,
          metrics,
          clock,
          // Told once per token: the user hears it the first time Upstox refuses their login.
          onTokenExpired: (userId) => {
            const user = users.get(userId);
            if (!user) return;
            const ids = channelsFor(user, "token_expired", clock()).map((channel) =>
              outbox.enqueueRow({ userId, channel, kind: "token_expired", dedupKey: `token-expired:${userId}:${clock()}:${channel}`, payload: {} }),
            );
            enqueueNotifications(queues, ids, delivery).catch((err: unknown) => log.error({ err, userId }, "could not queue the token-expired notice"));
          },
        })
      : undefined;
    if (upstox) cleanups.push({ name: "upstox client", run: () => upstox.client.close() });
    const simulator = upstox ? undefined : new MarketSimulator({ seed: config.simulator.seed, now: clock });
    const candles = new CandleRepository(db);
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
      outbox,
      quotes: opts.quoteSource ?? upstox?.quoteSource ?? simulator!,
      candleSource: opts.candleSource ?? (upstox ? new UpstoxCandleSource(upstox.client, upstox.tokens, clock) : simulator!),
      candles,
      orders: new OrderRepository(db, clock),
      indicators: new IndicatorEngine(candles),
      pollState,
      redis: connection,
      metrics,
      queues,
      delivery,
      upstox: upstox && { client: upstox.client, tokens: upstox.tokens },
      email,
      telegram: createTelegramSender({ botToken: config.telegram.botToken, apiRoot: config.telegram.apiRoot, log }),
      telegramLimiter: new RateLimiter<"global" | "chat">({
        redis: connection,
        prefix: `${config.redis.prefix}:telegram`,
        limits: { global: [{ ms: 1000, limit: TELEGRAM_GLOBAL_PER_SECOND }], chat: [{ ms: 1000, limit: 1 }] },
        safetyFraction: 0.01,
        minSafetyMs: 20,
      }),
      chatLocks: new ChatLocks(connection, config.redis.prefix),
      unsubscribe: new UnsubscribeLinks(db, config.http.publicUrl),
      calendar,
      marketOpen: (at) => calendar.isOpen(at),
      ruleBook: new RuleBook(rules),
      health: () => gatherHealth(services, startedAt, redisReady, sqlitePing),
    };

    if (opts.demo) {
      const seeded = await seedDemo(services);
      if (seeded.created) log.info({ rules: seeded.rules }, "demo trader created with a watchlist and alerts near the current prices");
    }

    // Workers: every role runs them; more `--role=worker` processes add capacity.
    const processors: Record<QueueName, (job: Job, token?: string) => Promise<unknown>> = {
      "poll-quotes": (job) => pollQuotes(job, services),
      notify: (job, token) => deliverNotification(job as Job<NotifyJobData>, services, token),
      "sweep-outbox": (job) => sweepOutbox(job, services),
      backup: (job) => backupJob(job, services),
      "refresh-instruments": (job) => refreshInstrumentsJob(job, services),
      "fetch-candles": (job) => fetchCandles(job, services),
      "warm-up-candles": (job) => warmUpCandles(job as Job<WarmUpData>, services),
      "refresh-calendar": (job) => refreshCalendarJob(job, services),
      "prune-candles": (job) => pruneCandles(job, services),
      "portfolio-digest": (job) => portfolioDigest(job as Job<DigestJobData>, services),
      "holding-moves": (job) => checkHoldingMoves(job, services),
      "token-reminder": (job) => tokenReminder(job, services),
      "order-sync": (job) => syncOrders(job, services),
    };
    const workers: Worker[] = QUEUE_NAMES.map((name) =>
      createWorker(
        connection,
        config.redis.prefix,
        { queue: name, processor: processors[name], concurrency: name === "notify" ? config.workerConcurrency : name === "warm-up-candles" ? 2 : 1 },
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
    // Closing a worker waits for its active jobs: this is the drain on shutdown. It is given
    // SHUTDOWN_TIMEOUT less 3 s for the steps after it (main exits 1 at SHUTDOWN_TIMEOUT), or
    // a forced close when Redis is gone and no job could finish anyway.
    cleanups.push({
      name: "workers",
      run: () => Promise.all(workers.map((w) => w.close(!redisReady()))).then(() => undefined),
      timeoutMs: () => (redisReady() ? Math.max(1000, config.shutdownTimeoutMs - 3000) : 1000),
      abandon: () => Promise.all(workers.map((w) => w.disconnect().catch(() => {}))).then(() => undefined),
    });

    let http: HttpServer | undefined;
    let bot: RunningBot | undefined;
    if (opts.role === "all") {
      await queues["poll-quotes"].upsertJobScheduler("poll-quotes", pollSchedule(config.pollIntervalSeconds, config.simulator.alwaysOpen), { name: "poll-quotes" });
      await queues["sweep-outbox"].upsertJobScheduler("sweep-outbox", { every: 60_000 }, { name: "sweep-outbox" });
      await queues.backup.upsertJobScheduler("backup", { pattern: config.backup.cron, tz: MARKET_TZ }, { name: "backup" });
      // Second 5 of every minute: the minute that just closed has its candle by then.
      await queues["fetch-candles"].upsertJobScheduler("fetch-candles", { pattern: "5 * * * * *", tz: MARKET_TZ }, { name: "fetch-candles" });
      await queues["prune-candles"].upsertJobScheduler("prune-candles", { pattern: "0 17 * * *", tz: MARKET_TZ }, { name: "prune-candles" });
      if (upstox) {
        await queues["refresh-calendar"].upsertJobScheduler("refresh-calendar", { pattern: "0 6 * * *", tz: MARKET_TZ }, { name: "refresh-calendar" });
        await queues["refresh-calendar"].add("refresh-calendar", {}, { jobId: `start-${startedAt}` });
        const weekdays = (time: string) => ({ pattern: `${time} * * 1-5`, tz: MARKET_TZ });
        await queues["portfolio-digest"].upsertJobScheduler("digest-open", weekdays("45 8"), { name: "portfolio-digest", data: { when: "open" } });
        await queues["portfolio-digest"].upsertJobScheduler("digest-close", weekdays("45 15"), { name: "portfolio-digest", data: { when: "close" } });
        await queues["token-reminder"].upsertJobScheduler("token-reminder", weekdays("30 8"), { name: "token-reminder" });
        await queues["order-sync"].upsertJobScheduler("order-sync", { pattern: "*/30 * 9-15 * * 1-6", tz: MARKET_TZ }, { name: "order-sync" });
        await queues["holding-moves"].upsertJobScheduler("holding-moves", { pattern: "0 */5 9-15 * * 1-5", tz: MARKET_TZ }, { name: "holding-moves" });
        // Upstox publishes the day's instruments around 06:00 IST.
        await queues["refresh-instruments"].upsertJobScheduler("refresh-instruments", { pattern: "30 6 * * *", tz: MARKET_TZ }, { name: "refresh-instruments" });
        if (services.instruments.count() === 0) await queues["refresh-instruments"].add("refresh-instruments", {}, { jobId: "initial-load" });
      }

      const oauth = new OAuthStates(connection, config.redis.prefix);
      const chatBot = config.telegram.botToken ? createBot(services, oauth, config.telegram.botToken) : undefined;
      const routes: Record<string, RouteHandler> = {
        [UNSUBSCRIBE_PATH]: (req, res, url) => handleUnsubscribe(req, res, url, services),
      };
      if (chatBot) {
        bot = await startBot(chatBot, services);
        cleanups.push({ name: "telegram bot", run: () => bot!.stop() });
        if (bot.webhook) {
          const webhook = bot.webhook;
          routes[WEBHOOK_PATH] = (req, res) => webhook(req, res);
        }
      }
      if (upstox && config.upstox.webhookSecret) routes[orderWebhookPath(config.upstox.webhookSecret)] = (req, res) => handleOrderWebhook(req, res, services);
      if (upstox) {
        routes[UPSTOX_CALLBACK_PATH] = (_req, res, url) =>
          handleUpstoxCallback(url, res, services, oauth, async (chatId, html) => {
            await (chatBot?.api ?? undefined)?.sendMessage(chatId, html, { parse_mode: "HTML" });
          });
      }
      http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        log,
        onError: () => metrics.errors.inc({ where: "http" }),
        routes: {
          ...routes,
          "/healthz": async (_req, res) => {
            const report = await gatherHealth(services, startedAt, redisReady, sqlitePing);
            sendJson(res, report.status === "ok" ? 200 : 503, report);
          },
          "/metrics": async (_req, res) => {
            const body = await metrics.registry.metrics();
            res.writeHead(200, { "content-type": metrics.registry.contentType });
            res.end(body);
          },
        },
      });
      cleanups.push({ name: "http server", run: () => http!.close() });
      log.info({ port: http.port, host: config.http.host }, `HTTP on http://${config.http.host}:${http.port} (/healthz, /metrics)`);
    }

    if (opts.role === "all") {
      // Warm-up from history on start: indicators are ready at the first close, not hours later.
      const queued = await queueWarmUps(services);
      if (queued) log.info({ instruments: queued }, "loading candle history for instruments in use");
    }

    log.info(
      { role: opts.role, source: services.quotes.name, pollEvery: config.pollIntervalSeconds, redis: redis.url.replace(/\/\/.*@/, "//***@"), db: config.databasePath },
      "bot started",
    );
    return { services, httpPort: http?.port, redisUrl: redis.url, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/**
 * When to poll, in IST: every N seconds from 09:00 to 15:59 on weekdays when N divides a
 * minute (the job itself checks 09:15-15:30, holidays and special sessions), so nights and
 * weekends run no jobs at all; otherwise, or when the simulator trades around the clock,
 * a plain every-N-seconds schedule.
 */
export function pollSchedule(seconds: number, alwaysOpen: boolean): { pattern: string; tz: string } | { every: number } {
  if (seconds < 60 && 60 % seconds === 0) return { pattern: `*/${seconds} * ${alwaysOpen ? "*" : "9-15"} * * ${alwaysOpen ? "*" : "1-6"}`, tz: MARKET_TZ };
  return { every: seconds * 1000 };
}

async function queueWarmUps(s: Services): Promise<number> {
  s.ruleBook.refresh();
  let queued = 0;
  for (const key of s.watchlists.instrumentKeysInUse()) if (await queueWarmUpIfNeeded(s, key)) queued++;
  return queued;
}

interface Cleanup {
  name: string;
  run: () => Promise<void> | void;
  /** How long the step may take (default 5 s) before it is abandoned. */
  timeoutMs?: number | (() => number);
  /** Drops what the step could not close politely (connections), so nothing keeps the process alive. */
  abandon?: () => Promise<void>;
}

/** How long /healthz and /metrics wait for Redis before reporting it down. */
const REDIS_CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * A Redis call on behalf of /healthz or /metrics. The shared connection never fails a
 * command (BullMQ needs maxRetriesPerRequest: null): while Redis is down, commands wait in
 * the offline queue forever. So fail at once when not connected, and bound the wait.
 */
function redisCall<T>(ready: () => boolean, fn: () => Promise<T>): Promise<T> {
  if (!ready()) return Promise.reject(new Error("redis is not connected"));
  return withTimeout(fn(), REDIS_CHECK_TIMEOUT_MS, "redis");
}

async function gatherHealth(s: Services, startedAt: number, redisReady: () => boolean, sqlitePing: { get(): unknown }) {
  const now = s.clock();
  const redis = await (async () => {
    const t0 = performance.now();
    try {
      await redisCall(redisReady, () => s.pollState.isPaused());
      return { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  })();
  let sqlite: { ok: boolean; error?: string } = { ok: true };
  try {
    sqlitePing.get();
  } catch (err) {
    sqlite = { ok: false, error: (err as Error).message };
  }
  const [lastPollAt, pollingPaused] = redis.ok
    ? await redisCall(redisReady, () => Promise.all([s.pollState.lastPollAt(), s.pollState.isPaused()])).catch(() => [null, false] as const)
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
