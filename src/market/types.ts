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
