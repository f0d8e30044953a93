import { istParts } from "../market/calendar.js";
import type { CandleSource, HistoryOptions, MarketCandle } from "../market/types.js";
import type { UpstoxClient } from "./client.js";
import type { TokenStore } from "./token-store.js";
import { NoMarketDataSessionError } from "./quote-source.js";

const MINUTE = 60_000;

/**
 * Closed one-minute candles from Upstox at the cost of quotes, not of history calls: OHLC
 * v3 with interval I1 returns the previous minute's candle for 500 instruments a call.
 * History (for warm-up) uses the v3 historical and intraday endpoints, one instrument a call.
 */
export class UpstoxCandleSource implements CandleSource {
  constructor(
    private readonly client: UpstoxClient,
    private readonly tokens: TokenStore,
    private readonly now: () => number = Date.now,
    /** UPSTOX_MARKET_DATA_USER: whose token serves history and candles, while valid. */
    private readonly preferredTelegramId?: number,
  ) {}

  private session() {
    const s = this.tokens.marketDataSession(this.preferredTelegramId);
    if (!s) throw new NoMarketDataSessionError();
    return s;
  }

  async getLastClosedCandles(instrumentKeys: readonly string[]): Promise<Map<string, MarketCandle>> {
    const ohlc = await this.client.getOhlc(this.session(), instrumentKeys, "I1");
    const out = new Map<string, MarketCandle>();
    for (const [key, q] of ohlc) {
      const bar = q.prev;
      if (!bar || !bar.ts) continue;
      out.set(key, { ts: bar.ts - (bar.ts % MINUTE), open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume });
    }
    return out;
  }

  /**
   * Today's candles first (the intraday endpoint), then earlier days (the historical one) only
   * when today's are not enough: one call where one is enough, and none for today before its
   * session started.
   */
  async getCandleHistory(instrumentKey: string, fromMs: number, toMs: number, opts: HistoryOptions = {}): Promise<MarketCandle[]> {
    const session = this.session();
    const from = istParts(new Date(fromMs)).date;
    const to = istParts(new Date(toMs)).date;
    const today = istParts(new Date(this.now())).date;
    const inRange = (cs: readonly MarketCandle[]) => cs.filter((c) => c.ts >= fromMs && c.ts < toMs);
    const intraday = to >= today && opts.tradedToday !== false ? inRange(await this.client.getIntradayCandles(session, instrumentKey, "minutes", 1)) : [];
    const enough = opts.atLeast !== undefined && intraday.length >= opts.atLeast;
    const past =
      from < today && !enough
        ? inRange(await this.client.getHistoricalCandles(session, instrumentKey, "minutes", 1, to < today ? to : previousDay(today), from))
        : [];
    const byTs = new Map<number, MarketCandle>();
    for (const c of [...past, ...intraday]) byTs.set(c.ts, { ts: c.ts, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
    return [...byTs.values()].sort((a, b) => a.ts - b.ts);
  }
}

function previousDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}
