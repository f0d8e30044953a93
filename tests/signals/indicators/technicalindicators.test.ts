import { describe, expect, it } from "vitest";
import { ATR, EMA, MACD, RSI } from "technicalindicators";
import { createState, type CandleInput, type IndicatorSpec, type IndicatorValue } from "../../../src/signals/indicators/index.js";
import { genCandles } from "./helpers.js";

/**
 * Our own EMA, RSI, MACD and ATR replaced technicalindicators' streaming instances (for
 * speed): they must give the very same numbers, step for step, bit for bit.
 */
function reference(spec: IndicatorSpec): (c: CandleInput) => IndicatorValue | undefined {
  switch (spec.kind) {
    case "rsi": {
      const r = new RSI({ period: spec.period, values: [] });
      return (c) => r.nextValue(c.close);
    }
    case "ema": {
      const e = new EMA({ period: spec.period, values: [] });
      return (c) => e.nextValue(c.close);
    }
    case "atr": {
      const a = new ATR({ period: spec.period, high: [], low: [], close: [] });
      return (c) => a.nextValue({ high: c.high, low: c.low, close: c.close });
    }
    case "macd": {
      const m = new MACD({
        values: [],
        fastPeriod: spec.fast,
        slowPeriod: spec.slow,
        signalPeriod: spec.signal,
        SimpleMAOscillator: false,
        SimpleMASignal: false,
      });
      return (c) => {
        const r = m.nextValue(c.close);
        if (r === undefined || r.MACD === undefined || r.signal === undefined || r.histogram === undefined) return undefined;
        return { macd: r.MACD, signal: r.signal, histogram: r.histogram };
      };
    }
    default:
      throw new Error(`no technicalindicators streaming reference for ${spec.kind}`);
  }
}

const SPECS: IndicatorSpec[] = [
  { kind: "rsi", period: 14 },
  { kind: "rsi", period: 2 },
  { kind: "rsi", period: 1 },
  { kind: "ema", period: 20 },
  { kind: "ema", period: 1 },
  { kind: "ema", period: 200 },
  { kind: "atr", period: 14 },
  { kind: "atr", period: 1 },
  { kind: "macd", fast: 12, slow: 26, signal: 9 },
  { kind: "macd", fast: 5, slow: 35, signal: 5 },
  // fast slower than slow: the line waits for both averages, as technicalindicators does.
  { kind: "macd", fast: 30, slow: 10, signal: 4 },
];

function compare(candles: readonly CandleInput[], spec: IndicatorSpec): void {
  const ours = createState(spec);
  const theirs = reference(spec);
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i]!;
    expect(ours.update(c), `${ours.key} at candle ${i}`).toEqual(theirs(c));
  }
}

describe("our streaming EMA, RSI, MACD and ATR equal technicalindicators' streaming instances exactly", () => {
  for (const spec of SPECS) {
    it(`${JSON.stringify(spec)} over 3,000 candles`, () => compare(genCandles(3000, { seed: 81 }), spec));
  }

  it("flat prices (RSI 100 while nothing falls, 0 while nothing rises) and a series starting at zero", () => {
    const flat = Array.from({ length: 60 }, (_, i): CandleInput => ({ ts: i * 60_000, open: 5, high: 5, low: 5, close: 5, volume: 1 }));
    const rising = flat.map((c, i) => ({ ...c, close: 5 + i, high: 5 + i }));
    const falling = flat.map((c, i) => ({ ...c, close: 100 - i, low: 100 - i }));
    // A seed of exactly 0: technicalindicators' EMA steps the same input once more.
    const fromZero = flat.map((c, i) => ({ ...c, close: i < 25 ? 0 : i, high: i, low: 0 }));
    for (const series of [flat, rising, falling, fromZero]) for (const spec of SPECS) compare(series, spec);
  });
});
