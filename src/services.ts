import type { Database } from "better-sqlite3";
import type { Redis } from "ioredis";
import type { Backups } from "./admin/backups.js";
import type { BroadcastDrafts } from "./admin/broadcast-drafts.js";
import type { OAuthStates } from "./bot/oauth.js";
import type { Config } from "./config/load.js";
import type { AlertRuleRepository } from "./db/repositories/alert-rules.js";
import type { AuditLog } from "./db/repositories/audit.js";
import type { InstrumentRepository } from "./db/repositories/instruments.js";
import type { UserRepository } from "./db/repositories/users.js";
import type { WatchlistRepository } from "./db/repositories/watchlists.js";
import type { HealthReport } from "./http/health.js";
import type { Logger } from "./log/logger.js";
import type { MarketCalendar } from "./market/market-calendar.js";
import type { PollState } from "./market/poll-state.js";
import type { FeedStatus } from "./market/stream/feed-status.js";
import type { CandleSource, QuoteSource } from "./market/types.js";
import type { CandleRepository } from "./db/repositories/candles.js";
import type { OrderRepository } from "./orders/order-repository.js";
import type { GttRepository } from "./orders/gtt-repository.js";
import type { IndicatorEngine } from "./signals/indicator-engine.js";
import type { TimeframeIndicators } from "./signals/timeframe-indicators.js";
import type { Metrics } from "./metrics.js";
import type { EmailSender } from "./notify/email.js";
import type { Notifier } from "./notify/notifier.js";
import type { Outbox } from "./notify/outbox.js";
import type { TelegramSender } from "./notify/telegram.js";
import type { ChatLocks } from "./notify/chat-lock.js";
import type { UnsubscribeLinks } from "./notify/unsubscribe.js";
import type { RateLimiter } from "./redis/rate-limit.js";
import type { DeliveryPolicy, Queues } from "./queue/queues.js";
import type { UpstoxClient } from "./upstox/client.js";
import type { TokenStore } from "./upstox/token-store.js";
import type { RuleBook } from "./signals/rule-book.js";
import type { TradingDesk } from "./trading/trading-desk.js";

/**
 * What jobs are handed by the composition root; nothing reaches for a global. Chat handlers
 * get a narrower view without `db` and `redis` (HandlerDeps in src/bot/context.ts).
 */
export interface Services {
  config: Config;
  log: Logger;
  db: Database;
  clock: () => number;
  users: UserRepository;
  instruments: InstrumentRepository;
  watchlists: WatchlistRepository;
  rules: AlertRuleRepository;
  audit: AuditLog;
  outbox: Outbox;
  /** The one way to notify a user: decides channels, writes the outbox rows, queues them after commit. */
  notifier: Notifier;
  quotes: QuoteSource;
  /** Closed one-minute candles: Upstox OHLC I1 (and history for warm-up) or the simulator. */
  candleSource: CandleSource;
  candles: CandleRepository;
  /** Orders the bot has seen, and what it already told about each. */
  orders: OrderRepository;
  /** GTTs the bot knows of: owner, last seen rules, what was already told. */
  gtts: GttRepository;
  /** Streaming indicator state of the instruments in use. */
  indicators: IndicatorEngine;
  /** Indicator state on longer bars (5m … 1d), for the rules that ask for one. */
  timeframes: TimeframeIndicators;
  pollState: PollState;
  /** The streaming feeds' state as their holder publishes it, and the claims on closed minutes. */
  feedStatus: FeedStatus;
  /** The shared Redis connection (queues, leases, heartbeats); small shared state goes through the services below. */
  redis: Redis;
  /** One-time `state` values of Upstox login links (/login, the morning reminder, the callback). */
  oauth: OAuthStates;
  /** Broadcast drafts awaiting the admin's confirmation, and the one-a-minute send lock. */
  broadcastDrafts: BroadcastDrafts;
  /** Online database backups into BACKUP_DIR with BACKUP_RETENTION (the admin's /backup). */
  backups: Backups;
  metrics: Metrics;
  queues: Queues;
  /** Retry policy of notify jobs (attempts and backoff): the Notifier queues with it, the notify job retries by it. */
  delivery: DeliveryPolicy;
  email: EmailSender;
  telegram: TelegramSender;
  /** Telegram's ceilings, shared by every process: ~30 messages a second overall, 1 a second per chat. */
  telegramLimiter: RateLimiter<"global" | "chat">;
  chatLocks: ChatLocks;
  /** Signed one-click unsubscribe links for emails. */
  unsubscribe: UnsubscribeLinks | undefined;
  /** Trading from chat: confirmation cards, limits and the halt (every write to Upstox goes through it). */
  trading: TradingDesk;
  /** Present when an Upstox app is configured (UPSTOX_API_KEY); absent in simulator mode. */
  upstox: { client: UpstoxClient; tokens: TokenStore } | undefined;
  /** The NSE calendar (Upstox's holidays and special sessions, shared through Redis). */
  calendar: MarketCalendar;
  /** Whether the market counts as open at `at` (SIMULATOR_ALWAYS_OPEN makes it always). */
  marketOpen(at: Date): boolean;
  /** The same report /healthz serves. */
  health(): Promise<HealthReport>;
  /** Active alert rules in memory, reloaded when they change. */
  ruleBook: RuleBook;
  /**
   * The shutdown as it reaches jobs: `stopping` ends waits (rate-limit slots, backoff) at
   * once; `cutOff` aborts calls still on the wire when the drain's time is up.
   */
  lifecycle: { stopping: AbortSignal; cutOff: AbortSignal };
}
