import type { BarHistorySource, LongTimeframe } from "../market/bar-history.js";
import type { MarketCandle } from "../market/types.js";
import type { UpstoxClient } from "./client.js";
import { NoMarketDataSessionError } from "./quote-source.js";
import type { TokenStore } from "./token-store.js";

/**
 * Hourly and daily history from Upstox's v3 historical candles (`hours/1`, `days/1`), one
 * instrument and one span a call, on the token that serves market data. Background work: it
 * only uses the budget live quotes leave.
 */
export class UpstoxBarHistory implements BarHistorySource {
  constructor(
    private readonly client: UpstoxClient,
    private readonly tokens: TokenStore,
    /** UPSTOX_MARKET_DATA_USER: whose token serves history, while valid. */
    private readonly preferredTelegramId?: number,
  ) {}

  async bars(instrumentKey: string, tf: LongTimeframe, fromDate: string, toDate: string): Promise<MarketCandle[]> {
    const session = this.tokens.marketDataSession(this.preferredTelegramId);
    if (!session) throw new NoMarketDataSessionError();
    const candles = await this.client.getHistoricalCandles(session, instrumentKey, tf === "1d" ? "days" : "hours", 1, toDate, fromDate);
    return candles.map((c) => ({ ts: c.ts, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }));
  }
}
