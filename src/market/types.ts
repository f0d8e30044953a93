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
