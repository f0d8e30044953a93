import type { Database } from "better-sqlite3";
import type { Config } from "./config/load.js";
import type { AlertRuleRepository } from "./db/repositories/alert-rules.js";
import type { AuditLog } from "./db/repositories/audit.js";
import type { InstrumentRepository } from "./db/repositories/instruments.js";
import type { UserRepository } from "./db/repositories/users.js";
import type { WatchlistRepository } from "./db/repositories/watchlists.js";
import type { Logger } from "./log/logger.js";
import type { HolidaySet } from "./market/calendar.js";
import type { PollState } from "./market/poll-state.js";
import type { QuoteSource } from "./market/types.js";
import type { Metrics } from "./metrics.js";
import type { EmailSender } from "./notify/email.js";
import type { Outbox } from "./notify/outbox.js";
import type { TelegramSender } from "./notify/telegram.js";
import type { DeliveryPolicy, Queues } from "./queue/queues.js";
import type { UpstoxClient } from "./upstox/client.js";
import type { TokenStore } from "./upstox/token-store.js";

/** What jobs and handlers are handed by the composition root; nothing reaches for a global. */
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
  quotes: QuoteSource;
  pollState: PollState;
  metrics: Metrics;
  queues: Queues;
  /** Retry policy of notify jobs (attempts and backoff), used wherever outbox rows are queued. */
  delivery: DeliveryPolicy;
  email: EmailSender;
  telegram: TelegramSender;
  /** Present when an Upstox app is configured (UPSTOX_API_KEY); absent in simulator mode. */
  upstox: { client: UpstoxClient; tokens: TokenStore } | undefined;
  /** NSE holidays known so far (filled from the Upstox holidays API once connected). */
  holidays: HolidaySet;
  /** Whether the market counts as open now (the simulator can be told it always is). */
  marketOpen(at: Date): boolean;
}
