/** A quote as the rest of the bot sees it, whatever produced it (Upstox or the simulator). */
export interface Quote {
  instrumentKey: string;
  symbol: string;
  lastPrice: number;
  open: number;
  high: number;
  low: number;
  /** Previous session's close: the base for percent-move alerts. */
  prevClose: number;
  volume: number;
  /** Epoch ms of the last trade. */
  lastTradeAt: number;
}

export interface InstrumentInfo {
  instrumentKey: string;
  tradingSymbol: string;
  name: string;
  exchange: string;
  segment: string;
  instrumentType: string;
  isin: string | null;
  lotSize: number;
  tickSize: number;
  /** Derivatives: expiry, epoch ms (23:59:59 IST of the expiry day). */
  expiry?: number | null;
}

/** Where quotes come from. Keys are Upstox instrument keys (`NSE_EQ|INE002A01018`). */
export interface QuoteSource {
  readonly name: string;
  getQuotes(instrumentKeys: readonly string[]): Promise<Map<string, Quote>>;
}

/** A closed OHLCV candle; `ts` is the candle's start, epoch ms. */
export interface MarketCandle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * Where closed candles come from: Upstox (OHLC v3 with interval I1, 500 keys a call, plus the
 * historical API for warm-up) or the simulator. Only one-minute candles are used.
 */
export interface HistoryOptions {
  atLeast?: number;
  tradedToday?: boolean;
}

export interface CandleSource {
  /** The most recently closed one-minute candle of each key (absent when there is none yet). */
  getLastClosedCandles(instrumentKeys: readonly string[]): Promise<Map<string, MarketCandle>>;
  /**
   * Closed one-minute candles of one instrument in [fromMs, toMs), oldest first. A source that
   * pays per call may stop early: with `atLeast`, once it holds that many of the newest
   * candles; with `tradedToday: false`, without asking for today's (there are none).
   */
  getCandleHistory(instrumentKey: string, fromMs: number, toMs: number, opts?: HistoryOptions): Promise<MarketCandle[]>;
}

/**
 * One trade print from a streaming feed (Upstox's Market Data Feed V3 or the simulator),
 * as the rest of the bot sees it. Prices in rupees, times epoch ms.
 */
export interface Tick {
  instrumentKey: string;
  lastPrice: number;
  /** When the trade happened (the feed's `ltt`). */
  lastTradeAt: number;
  /** Quantity of that trade (`ltq`); 0 when unknown. */
  lastQuantity: number;
  /** Previous session's close (`cp`). */
  prevClose: number;
  /** Volume traded today (`vtt`), in full mode only. */
  volumeToday?: number;
  /** The feed's own one-minute bars (full mode: `marketOHLC` entries with interval `I1`), oldest first. */
  minuteBars?: MarketCandle[];
  /** Today's open, high and low (full mode: the `1d` bar). */
  day?: { open: number; high: number; low: number };
  /** When this process received the frame (performance.now() of this process, ms): for latency figures. */
  receivedAt: number;
}

/** What a streaming feed tells besides ticks. */
export interface FeedHandlers {
  /** A decoded frame's ticks (a snapshot or live prints), in feed order. */
  onTicks(ticks: readonly Tick[]): void;
  /** The exchange segments' status from a `market_info` message (segment → `NORMAL_OPEN`, …). */
  onSegmentStatus?(status: Readonly<Record<string, string>>, at: number): void;
  /** Connected, lost, subscribed: something in state() changed. */
  onStateChange?(state: FeedState): void;
}

export interface FeedState {
  /** "upstox-market", "upstox-portfolio", "simulator". */
  name: string;
  status: "connecting" | "connected" | "down" | "stopped";
  /** Instruments (or, for the portfolio feed, users) the feed delivers now. */
  subscribed: number;
  /** Instruments asked for beyond the feed's limits: these stay on REST polling. */
  overLimit: number;
  /** Epoch ms of the last message of any kind (ping included), null before the first. */
  lastMessageAt: number | null;
  /** Since when (epoch ms) the feed has been in `status`. */
  since: number;
  /** Reconnects since IST midnight. */
  reconnectsToday: number;
  /** Frames that could not be decoded, since start. */
  decodeErrors: number;
  lastError?: string;
}

/**
 * A streaming source of ticks. One process holds it at a time (see src/market/stream).
 * `setInstruments` states the whole wanted set; the feed subscribes and unsubscribes the
 * difference on the open connection, and re-subscribes everything after a reconnect.
 */
export interface MarketFeed {
  readonly name: string;
  start(handlers: FeedHandlers): void;
  setInstruments(instrumentKeys: readonly string[]): void;
  /** The instruments whose ticks the feed delivers now (subscribed on a live connection). */
  covered(): ReadonlySet<string>;
  /**
   * Whether bars built from this instrument's ticks are the exchange's: the feed sends its own
   * one-minute bar (full mode) or every trade. Ticks sampled without it (LTPC mode) make
   * approximate bars, which are left to the REST candle fetch.
   */
  exactBars(instrumentKey: string): boolean;
  state(): FeedState;
  /** Idempotent; resolves once the socket is closed and no timer is left. */
  close(): Promise<void>;
}
