import type { CandleSource, MarketCandle } from "../../src/market/types.js";
import type { Quote, QuoteSource } from "../../src/market/types.js";
import { SIMULATED_SYMBOLS } from "../../src/market/simulator.js";

/** A quote source whose prices the test sets: each call returns the current price of each known key. */
export class ScriptedQuotes implements QuoteSource {
  readonly name = "scripted";
  readonly prices = new Map<string, number>();
  calls = 0;

  constructor(private readonly now: () => number) {}

  set(instrumentKey: string, price: number): void {
    this.prices.set(instrumentKey, price);
  }

  async getQuotes(keys: readonly string[]): Promise<Map<string, Quote>> {
    this.calls++;
    const out = new Map<string, Quote>();
    for (const key of keys) {
      const price = this.prices.get(key);
      if (price === undefined) continue;
      const sym = SIMULATED_SYMBOLS.find((s) => `NSE_EQ|${s.isin}` === key);
      out.set(key, {
        instrumentKey: key,
        symbol: sym?.symbol ?? key,
        lastPrice: price,
        open: sym?.prevClose ?? price,
        high: price,
        low: price,
        prevClose: sym?.prevClose ?? price,
        volume: 1000,
        lastTradeAt: this.now(),
      });
    }
    return out;
  }
}

/** A candle source whose closed candles the test appends, minute by minute. */
export class ScriptedCandles implements CandleSource {
  private readonly series = new Map<string, MarketCandle[]>();

  /** Appends a closed candle; history and "last closed" read from the same series. */
  push(instrumentKey: string, candle: MarketCandle): void {
    const list = this.series.get(instrumentKey) ?? [];
    list.push(candle);
    this.series.set(instrumentKey, list);
  }

  async getLastClosedCandles(keys: readonly string[]): Promise<Map<string, MarketCandle>> {
    const out = new Map<string, MarketCandle>();
    for (const k of keys) {
      const last = this.series.get(k)?.at(-1);
      if (last) out.set(k, last);
    }
    return out;
  }

  async getCandleHistory(key: string, fromMs: number, toMs: number): Promise<MarketCandle[]> {
    return (this.series.get(key) ?? []).filter((c) => c.ts >= fromMs && c.ts < toMs);
  }
}
