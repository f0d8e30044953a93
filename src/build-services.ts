import { mkdirSync } from "node:fs";
import path from "node:path";
import { Backups } from "./admin/backups.js";
import { BroadcastDrafts } from "./admin/broadcast-drafts.js";
import { OAuthStates } from "./bot/oauth.js";
import type { Config } from "./config/load.js";
import { AlertRuleRepository } from "./db/repositories/alert-rules.js";
import { AuditLog } from "./db/repositories/audit.js";
import { CandleRepository } from "./db/repositories/candles.js";
import { InstrumentRepository } from "./db/repositories/instruments.js";
import { UserRepository } from "./db/repositories/users.js";
import { WatchlistRepository } from "./db/repositories/watchlists.js";
import { openDatabase } from "./db/open.js";
import { gatherHealth } from "./http/health.js";
import type { ShutdownStack } from "./lifecycle/shutdown.js";
import type { Logger } from "./log/logger.js";
import { MarketCalendar } from "./market/market-calendar.js";
import { PollState } from "./market/poll-state.js";
import { MarketSimulator } from "./market/simulator.js";
import { FeedStatus } from "./market/stream/feed-status.js";
import type { FeedFactories } from "./market/stream/market-stream.js";
import type { CandleSource, QuoteSource } from "./market/types.js";
import { createMetrics } from "./metrics.js";
import { ChatLocks } from "./notify/chat-lock.js";
import { createEmailSender } from "./notify/email.js";
import { Outbox } from "./notify/outbox.js";
import { Notifier } from "./notify/notifier.js";
import { createTelegramSender } from "./notify/telegram.js";
import { UnsubscribeLinks } from "./notify/unsubscribe.js";
import { OrderRepository } from "./orders/order-repository.js";
import { GttRepository } from "./orders/gtt-repository.js";
import { recordGttSnapshot } from "./orders/gtt-track.js";
import { ruleOutcome } from "./orders/gtt-transitions.js";
import { snapshotFromGtt } from "./orders/gtt-update.js";
import { TimeframeIndicators } from "./signals/timeframe-indicators.js";
import { OrderCards } from "./trading/order-cards.js";
import { TradingHalt } from "./trading/trading-halt.js";
import { TradingDesk } from "./trading/trading-desk.js";
import { createQueues, DEFAULT_DELIVERY, QUEUE_NAMES, type DeliveryPolicy } from "./queue/queues.js";
import { createRedisConnection, resolveRedis } from "./redis/connect.js";
import { RateLimiter } from "./redis/rate-limit.js";
import { watchRedis, whenUp, type RedisWatch } from "./redis/watch.js";
import type { Services } from "./services.js";
import type { UpstoxClient } from "./upstox/client.js";
import type { TokenStore } from "./upstox/token-store.js";
import { IndicatorEngine } from "./signals/indicator-engine.js";
import { RuleBook } from "./signals/rule-book.js";

/** Telegram's documented ceiling for a bot: about 30 messages a second across all chats. */
const TELEGRAM_GLOBAL_PER_SECOND = 30;

export interface BuildOptions {
  role: "all" | "worker";
  log: Logger;
  clock: () => number;
  startedAt: number;
  defaultRedisUrl?: string | undefined;
  quoteSource?: QuoteSource | undefined;
  candleSource?: CandleSource | undefined;
  delivery?: Partial<DeliveryPolicy> | undefined;
}

export interface BuiltServices {
  services: Services;
  redisUrl: string;
  redisWatch: RedisWatch;
  sqlitePing: { get(): unknown };
  /** The feeds the stream holder opens (MARKET_DATA_MODE=stream); undefined in poll mode. */
  feeds: FeedFactories | undefined;
}

/**
 * Builds every service from validated config, each with its close step pushed onto the
 * shutdown stack in the order of opening (so they close in reverse).
 */
export async function buildServices(config: Config, opts: BuildOptions, shutdown: ShutdownStack): Promise<BuiltServices> {
  const { log, clock, startedAt } = opts;
  const lifecycle = { stopping: shutdown.stopping, cutOff: shutdown.cutOff };
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
      whenUp(redisReady, async () => {
        const out: Record<string, Record<string, number>> = {};
        for (const name of QUEUE_NAMES) out[name] = await queues[name].getJobCounts("waiting", "active", "delayed", "failed");
        return out;
      }),
    lastPollAgeSeconds: () =>
      whenUp(redisReady, async () => {
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
  const email = createEmailSender({
    smtpUrl: config.email.smtpUrl,
    from: config.email.from,
    outDir: path.join(config.dataDir, "mail"),
    signal: lifecycle.cutOff,
  });
  shutdown.push({ name: "email", run: () => email.close() });
  const sqlitePing = db.prepare("SELECT 1");
  const calendar = new MarketCalendar(connection, config.redis.prefix, { alwaysOpen: config.simulator.alwaysOpen, clock });
  const outbox = new Outbox(db, rules, clock);
  const delivery = { ...DEFAULT_DELIVERY, ...opts.delivery };
  const notifier = new Notifier({ db, outbox, users, queues, delivery, clock });
  // The Upstox modules (undici among them) load only with an Upstox app configured: the
  // simulator's start does not pay for them.
  const upstoxLib = config.upstox.apiKey ? { ...(await import("./upstox/create.js")), ...(await import("./upstox/candle-source.js")) } : undefined;
  const upstox = upstoxLib
    ? upstoxLib.createUpstox({
        config,
        db,
        redis: connection,
        log,
        metrics,
        clock,
        signals: lifecycle,
        // Told once per token: the user hears it the first time Upstox refuses their login.
        onTokenExpired: (userId, refusal) => {
          const payload = refusal.scheduledExpiry ? { expired: true } : { expired: false, ...(refusal.reason ? { reason: refusal.reason } : {}) };
          const ids = notifier.record({ user: userId, kind: "token_expired", dedupKey: `token-expired:${userId}:${clock()}`, payload });
          notifier.queue(ids).catch((err: unknown) => log.error({ err, userId }, "could not queue the token-expired notice"));
        },
      })
    : undefined;
  if (upstox) shutdown.push({ name: "upstox client", run: () => upstox.client.close(), abandon: () => upstox.client.destroy() });
  const simulator = upstox ? undefined : new MarketSimulator({ seed: config.simulator.seed, now: clock });
  const candles = new CandleRepository(db);
  const audit = new AuditLog(db, clock);
  const orders = new OrderRepository(db, clock);
  const gtts = new GttRepository(db, clock);
  const services: Services = {
    config,
    log,
    db,
    clock,
    users,
    instruments: new InstrumentRepository(db, clock),
    watchlists: new WatchlistRepository(db, clock),
    rules,
    audit,
    outbox,
    notifier,
    quotes: opts.quoteSource ?? upstox?.quoteSource ?? simulator!,
    candleSource:
      opts.candleSource ??
      (upstox && upstoxLib ? new upstoxLib.UpstoxCandleSource(upstox.client, upstox.tokens, clock, config.upstox.marketDataUser) : simulator!),
    candles,
    orders,
    gtts,
    indicators: new IndicatorEngine(candles),
    timeframes: new TimeframeIndicators(candles, (ts) => calendar.session(new Date(ts))),
    pollState,
    feedStatus: new FeedStatus(connection, config.redis.prefix),
    redis: connection,
    oauth: new OAuthStates(connection, config.redis.prefix),
    broadcastDrafts: new BroadcastDrafts(connection, config.redis.prefix),
    backups: new Backups(db, { dir: config.backup.dir, retention: config.backup.retention, clock }),
    metrics,
    queues,
    delivery,
    upstox: upstox && { client: upstox.client, tokens: upstox.tokens },
    trading: new TradingDesk({
      config: config.trading,
      clock,
      log,
      audit,
      cards: new OrderCards(db),
      orders,
      halt: new TradingHalt(db),
      upstox: upstox && { client: upstox.client, tokens: upstox.tokens },
      // A GTT the bot never saw and that is over already (Upstox lists failed and cancelled
      // ones) is old news: not recorded, so not told.
      recordGtt: (userId, gtt) =>
        gtts.get(gtt.gttOrderId) || gtt.rules.some((r) => ruleOutcome(r.status) === "waiting")
          ? notifier.queue(recordGttSnapshot({ db, gtts, notifier, users, now: clock() }, userId, snapshotFromGtt(gtt)))
          : Promise.resolve(),
    }),
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

  const feeds =
    config.marketData.mode === "stream" ? await feedFactories(config, { log, clock, upstox, simulator, scripted: opts.quoteSource !== undefined }) : undefined;
  return { services, redisUrl: redis.url, redisWatch, sqlitePing, feeds };
}

/**
 * The streaming feeds: Upstox's market and portfolio feeds with an Upstox app, else the
 * simulator's ticks. Prices a test scripts through its own quote source are not streamed.
 * The feed modules load only here, in stream mode.
 */
async function feedFactories(
  config: Config,
  deps: {
    log: Logger;
    clock: () => number;
    upstox: { client: UpstoxClient; tokens: TokenStore } | undefined;
    simulator: MarketSimulator | undefined;
    scripted: boolean;
  },
): Promise<FeedFactories> {
  const stallMs = config.marketData.stallSeconds * 1000;
  if (deps.upstox) {
    const { client, tokens } = deps.upstox;
    const [{ UpstoxMarketFeed }, { PortfolioStreams }] = await Promise.all([
      import("./upstox/feed/market-data-feed.js"),
      import("./upstox/feed/portfolio-feed.js"),
    ]);
    return {
      ...(deps.scripted
        ? {}
        : {
            market: ({ watchdogActive }) =>
              new UpstoxMarketFeed({
                client,
                session: () => tokens.marketDataSession(config.upstox.marketDataUser),
                log: deps.log,
                now: deps.clock,
                stallMs,
                watchdogActive,
              }),
          }),
      // Order updates come hours apart: the socket's own pings (answered by any server) are
      // what keeps a quiet portfolio socket counted as alive, and catch a half-open one.
      portfolio: (onUpdate) => new PortfolioStreams({ client, log: deps.log, now: deps.clock, stallMs, onUpdate }),
    };
  }
  if (!deps.simulator || deps.scripted) return {};
  const simulator = deps.simulator;
  const { SimulatedMarketFeed } = await import("./market/simulated-feed.js");
  return { market: () => new SimulatedMarketFeed({ simulator, now: deps.clock }) };
}
