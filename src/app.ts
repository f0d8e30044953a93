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
import { jobSchedules, ScheduleKeeper } from "./queue/schedules.js";
import { createRedisConnection, resolveRedis } from "./redis/connect.js";
import { watchRedis } from "./redis/watch.js";
import { ShutdownStack, withTimeout } from "./lifecycle/shutdown.js";
import { JobFailureLog } from "./queue/job-failures.js";
import { isShutdown } from "./lifecycle/abort.js";
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
  /**
   * Stops everything within `budgetMs` (default SHUTDOWN_TIMEOUT) and never rejects: what
   * could not close politely is dropped (and logged).
   */
  stop(budgetMs?: number): Promise<void>;
}

/** Telegram's documented ceiling for a bot: about 30 messages a second across all chats. */
const TELEGRAM_GLOBAL_PER_SECOND = 30;

/** The composition root: builds every service from validated config, and tears them down in order. */
export async function startApp(config: Config, opts: AppOptions): Promise<RunningApp> {
  const { log } = opts;
  const clock = opts.clock ?? Date.now;
  const startedAt = clock();
  const shutdown = new ShutdownStack({ budgetMs: config.shutdownTimeoutMs, log });
  const stop = (budgetMs?: number) => shutdown.stop(budgetMs).then(() => undefined);
  const lifecycle = { stopping: shutdown.stopping, cutOff: shutdown.cutOff };

  try {
    mkdirSync(config.dataDir, { recursive: true });
    const db = openDatabase(config.databasePath);
    shutdown.push({ name: "sqlite", run: () => void db.close() });

    const redis = await resolveRedis({
      url: config.redis.url,
      log,
      workDir: path.join(config.dataDir, "redis"),
      ...(opts.defaultRedisUrl ? { defaultUrl: opts.defaultRedisUrl } : {}),
    });
    if (redis.embedded) shutdown.push({ name: "private redis-server", run: () => redis.embedded!.stop(), abandon: () => redis.embedded!.kill() });
    const connection = createRedisConnection(redis.url, `uab:${opts.role}`);
    // Created below, once metrics exist; the outage is counted from the first lost event.
    let countOutage = () => {};
    const redisWatch = watchRedis(connection, log, { onLost: () => countOutage() });
    const redisReady = redisWatch.up;
    // QUIT waits in ioredis' offline queue forever when Redis is gone: only ask politely when connected.
    shutdown.push({
      name: "redis connection",
      run: async () => {
        redisWatch.close();
        if (redisReady()) await connection.quit().catch(() => connection.disconnect());
        else connection.disconnect();
      },
      abandon: () => connection.disconnect(),
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
    countOutage = () => metrics.redisOutages.inc();
    // The queues re-emit the shared connection's errors, already told by the watch (so they go
    // to debug while Redis is down); without a listener BullMQ prints each as a bare stack.
    for (const q of Object.values(queues)) q.on("error", (err) => redisWatch.report(err, `queue ${q.name}`));
    shutdown.push({
      name: "queues",
      run: () => Promise.all(Object.values(queues).map((q) => q.close())).then(() => undefined),
      abandon: () => Promise.all(Object.values(queues).map((q) => q.disconnect().catch(() => {}))).then(() => undefined),
    });

    const users = new UserRepository(db, clock);
    const rules = new AlertRuleRepository(db, clock);
    const email = createEmailSender({ smtpUrl: config.email.smtpUrl, from: config.email.from, outDir: path.join(config.dataDir, "mail"), signal: lifecycle.cutOff });
    shutdown.push({ name: "email", run: () => email.close() });
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
          signals: lifecycle,
          // Told once per token: the user hears it the first time Upstox refuses their login.
          onTokenExpired: (userId, refusal) => {
            const user = users.get(userId);
            if (!user) return;
            const payload = refusal.scheduledExpiry ? { expired: true } : { expired: false, ...(refusal.reason ? { reason: refusal.reason } : {}) };
            const ids = channelsFor(user, "token_expired", clock()).map((channel) =>
              outbox.enqueueRow({ userId, channel, kind: "token_expired", dedupKey: `token-expired:${userId}:${clock()}:${channel}`, payload }),
            );
            enqueueNotifications(queues, ids, delivery).catch((err: unknown) => log.error({ err, userId }, "could not queue the token-expired notice"));
          },
        })
      : undefined;
    if (upstox) shutdown.push({ name: "upstox client", run: () => upstox.client.close(), abandon: () => upstox.client.destroy() });
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
      candleSource: opts.candleSource ?? (upstox ? new UpstoxCandleSource(upstox.client, upstox.tokens, clock, config.upstox.marketDataUser) : simulator!),
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
      telegram: createTelegramSender({ botToken: config.telegram.botToken, apiRoot: config.telegram.apiRoot, log, signal: lifecycle.cutOff }),
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
      lifecycle,
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
        (queue, job, err) => reportJob(queue, job, err),
      ),
    );
    const failures = new JobFailureLog(log);
    function reportJob(queue: QueueName, job: Job | undefined, err?: Error) {
      if (err && isShutdown(err)) {
        metrics.jobs.inc({ queue, outcome: "interrupted" });
        // Notifications go back to the queue (jobs/notify); scheduled work runs at its next time.
        return log.info({ queue, jobId: job?.id }, `job ${queue} stopped by the shutdown`);
      }
      metrics.jobs.inc({ queue, outcome: err ? "failed" : "completed" });
      if (!err) return failures.recovered(queue);
      metrics.errors.inc({ where: queue });
      failures.failed(queue, job, err);
    }
    for (const w of workers) w.on("error", (err) => redisWatch.report(err, `worker ${w.name}`));
    // Closing a worker waits for its active jobs: this is the drain on shutdown. When the
    // budget runs low, calls still on the wire are cut off (their rows stay pending), and
    // when Redis is gone no job could finish anyway, so the close is forced at once.
    shutdown.pushDrain({
      name: "workers",
      close: () => Promise.all(workers.map((w) => w.close(!redisReady()))).then(() => undefined),
      abandon: () => Promise.all(workers.map((w) => w.disconnect().catch(() => {}))).then(() => undefined),
    });

    let http: HttpServer | undefined;
    let bot: RunningBot | undefined;
    if (opts.role === "all") {
      const keeper = new ScheduleKeeper({
        queues,
        redis: connection,
        prefix: config.redis.prefix,
        schedules: jobSchedules({ pollIntervalSeconds: config.pollIntervalSeconds, backupCron: config.backup.cron, upstox: Boolean(upstox) }),
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

      const oauth = new OAuthStates(connection, config.redis.prefix);
      const chatBot = config.telegram.botToken ? createBot(services, oauth, config.telegram.botToken) : undefined;
      const routes: Record<string, RouteHandler> = {
        [UNSUBSCRIBE_PATH]: (req, res, url) => handleUnsubscribe(req, res, url, services),
      };
      if (chatBot) {
        bot = await startBot(chatBot, services);
        shutdown.push({ name: "telegram bot", run: () => bot!.stop() });
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
      shutdown.push({ name: "http server", run: () => http!.close() });
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
    await stop();
    throw err;
  }
}

/**
 * A sweep after Redis lost its jobs needs no grace: re-queuing uses the row's job id, so a row
 * whose job survived (or is being written right now) is not queued twice.
 */
const RESTORED_SWEEP_GRACE_MS = 0;

async function queueWarmUps(s: Services): Promise<number> {
  s.ruleBook.refresh();
  let queued = 0;
  for (const key of s.watchlists.instrumentKeysInUse()) if (await queueWarmUpIfNeeded(s, key)) queued++;
  return queued;
}

/** How long /healthz and /metrics wait for Redis before reporting it down. */
const REDIS_CHECK_TIMEOUT_MS = 2000;

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
  const history = redis.ok
    ? await redisCall(redisReady, () => s.queues["warm-up-candles"].getJobCounts("waiting", "active", "delayed", "prioritized", "failed"))
        .then((c) => ({ pending: (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0), failed: c.failed ?? 0 }))
        .catch(() => undefined)
    : undefined;
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
    history,
  });
}
