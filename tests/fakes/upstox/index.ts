/**
 * Fake Upstox API (api.upstox.com + api-hft.upstox.com) for tests and benchmarks.
 *
 *   const fake = await FakeUpstox.start({ now: () => clock });
 *   const token = fake.issueToken({ userId: "AB1234" });
 *   // point the client at fake.apiBase / fake.hftBase (and the instruments "assets" host at fake.apiBase)
 *   // WebSocket feeds: GET /v3/feed/market-data-feed/authorize (or /v2/feed/portfolio-stream-feed/authorize)
 *   // gives a one-time ws://127.0.0.1 URL; see feeds.ts
 *   // trading: orders on hftBase, GTT and the margin/brokerage calculators on apiBase;
 *   // fake.triggerGtt(id) / expireGtt(id) drive a GTT, fake.orderWriteHeaders() shows X-Algo-Name
 *   await fake.close();
 */
export {
  FakeUpstox,
  DEFAULT_USER_ID,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_REDIRECT_URI,
  MAX_QUOTE_KEYS,
  type RecordedRequest,
  type FakeUpstoxOptions,
} from "./server.js";
export {
  DEFAULT_SEGMENT_STATUS,
  FEED_CODE_TTL_MS,
  FEED_LIMITS,
  FEED_MODES,
  PORTFOLIO_UPDATE_TYPES,
  fitWithinLimits,
  gttUpdate,
  orderUpdate,
  parseFeedRequest,
  type FeedConnectionInfo,
  type FeedCounters,
  type FeedKind,
  type FeedLimitError,
  type FeedMode,
  type FeedRequestRecord,
} from "./feeds.js";
export { MAX_CANDLES, type Candle, type CandleUnit } from "./candles.js";
export { errorBody, type UpstoxErrorBody, type UpstoxErrorItem } from "./errors.js";
export { LIMITS as RATE_LIMITS, type LimitCategory } from "./rate-limit.js";
export { TERMINAL_STATUSES, type FakeOrder, type FakeTrade } from "./orders.js";
export { FINAL_RULE_STATUSES, gttExpiry, type FakeGtt, type FakeGttRule, type FakeGttStrategy } from "./gtt.js";
export { charges, EQUITY_MARGIN_SHARE, MAX_MARGIN_INSTRUMENTS, RATES as CHARGE_RATES } from "./charges.js";
export type { InstrumentRecord } from "./instruments.js";
export type { HolidayEntry, ExchangeSession } from "./calendar.js";
export { istMs, isoIst, istDateString } from "./time.js";
