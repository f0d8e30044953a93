import { describe, expect, it } from "vitest";
import {
  DEFAULT_SPECS,
  InstrumentIndicators,
  computeFull,
  specKey,
  type IndicatorSpec,
  type IndicatorValues,
  type MacdValue,
} from "../../../src/signals/indicators/index.js";
import { expectValuesClose, genCandles, MINUTE } from "./helpers.js";

/** Every kind, default parameters plus edge-case variants (period 1, long periods, fractional multipliers). */
const ALL_SPECS: IndicatorSpec[] = [
  ...DEFAULT_SPECS,
  { kind: "rsi", period: 2 },
  { kind: "sma", period: 1 },
  { kind: "sma", period: 200 },
  { kind: "ema", period: 200 },
  { kind: "ema", period: 1 },
  { kind: "macd", fast: 5, slow: 35, signal: 5 },
  { kind: "bb", period: 5, stdDev: 2.5 },
  { kind: "atr", period: 1 },
  { kind: "supertrend", period: 7, multiplier: 1.5 },
  { kind: "volume_sma", period: 7 },
];

function streamAndCompare(seed: number, price: number, n: number, checkAt: (i: number) => boolean): number {
  const candles = genCandles(n, { seed, price });
  const ind = new InstrumentIndicators(ALL_SPECS);
  let checks = 0;
  for (let i = 0; i < n; i++) {
    const out = ind.next(candles[i]!);
    expect(out).toBe(ind.values());
    const seen = i + 1;
    if (checkAt(seen)) {
      expectValuesClose(ind.values(), computeFull(ALL_SPECS, candles.slice(0, seen)), `seed ${seed} after ${seen}`);
      checks++;
    }
  }
  expect(ind.count).toBe(n);
  expect(ind.lastTs).toBe(candles[n - 1]!.ts);
  return checks;
}

const CHECKPOINTS = new Set([150, 199, 200, 201, 240, 300, 374, 375, 376, 377, 500, 749, 750, 751, 1000, 1124, 1125, 1126, 1200, 1500, 2000]);

describe("InstrumentIndicators.next equals computeFull", () => {
  it("for every spec kind: every candle up to 130, then across SMA/BB wrap points and IST day boundaries", () => {
    const checks = streamAndCompare(11, 1000, 2000, (i) => i <= 130 || CHECKPOINTS.has(i));
    expect(checks).toBe(130 + CHECKPOINTS.size);
  });

  it("for large prices (index-like ~45,000) and small prices (~2.5)", () => {
    streamAndCompare(12, 45_000, 1200, (i) => i % 97 === 0 || CHECKPOINTS.has(i));
    streamAndCompare(13, 2.5, 1200, (i) => i % 97 === 0 || CHECKPOINTS.has(i));
  });

  it("stays equal over a long run (20,000 candles: drift of the rolling sums stays bounded)", () => {
    streamAndCompare(14, 800, 20_000, (i) => i % 5_000 === 0 || i === 19_999);
  });

  it("produces every value once enough candles have been seen", () => {
    const candles = genCandles(400, { seed: 15 });
    const ind = InstrumentIndicators.fromCandles(DEFAULT_SPECS, candles);
    for (const s of DEFAULT_SPECS) expect(ind.values()[specKey(s)], specKey(s)).toBeDefined();
    const fresh = new InstrumentIndicators(DEFAULT_SPECS);
    expect(fresh.values()).toEqual(Object.fromEntries(DEFAULT_SPECS.map((s) => [specKey(s), undefined])));
    expect(fresh.count).toBe(0);
    expect(fresh.lastTs).toBeUndefined();
    expect(fresh.specs).toEqual(DEFAULT_SPECS);
  });
});

describe("restart: fromCandles", () => {
  it("fromCandles(first 400) then next for the rest equals streaming everything from scratch", () => {
    const candles = genCandles(1500, { seed: 21 });
    const scratch = new InstrumentIndicators(ALL_SPECS);
    for (const c of candles.slice(0, 400)) scratch.next(c);
    const restored = InstrumentIndicators.fromCandles(ALL_SPECS, candles.slice(0, 400));
    expect(restored.values()).toEqual(scratch.values());
    expect(restored.count).toBe(400);
    expect(restored.lastTs).toBe(candles[399]!.ts);
    for (const c of candles.slice(400)) {
      expect(restored.next(c)).toEqual(scratch.next(c));
      expect(restored.previous()).toEqual(scratch.previous());
    }
    expect(restored.count).toBe(scratch.count);
  });

  it("rejects unsorted candles", () => {
    const candles = genCandles(10, { seed: 22 });
    const swapped = [...candles.slice(0, 5), candles[6]!, candles[5]!];
    expect(() => InstrumentIndicators.fromCandles(DEFAULT_SPECS, swapped)).toThrow(/not after lastTs/);
  });
});

describe("previous()", () => {
  it("holds the values before the last next", () => {
    const candles = genCandles(600, { seed: 31 });
    const ind = new InstrumentIndicators(DEFAULT_SPECS);
    expect(ind.previous()).toEqual(ind.values());
    let before: IndicatorValues = ind.values();
    let crossings = 0;
    for (const c of candles) {
      const snapshot = structuredClone(before);
      ind.next(c);
      expect(ind.previous()).toEqual(snapshot);
      expect(ind.previous()).toBe(before); // the earlier object, not mutated since
      const p = ind.previous()["macd:12:26:9"] as MacdValue | undefined;
      const v = ind.values()["macd:12:26:9"] as MacdValue | undefined;
      if (p && v && Math.sign(p.histogram) !== Math.sign(v.histogram)) crossings++;
      before = ind.values();
    }
    expect(crossings).toBeGreaterThan(3); // MACD crossed its signal line: detectable from previous() vs values()
  });
});

describe("next() input checks", () => {
  it("throws on a non-increasing ts and leaves the state untouched", () => {
    const candles = genCandles(100, { seed: 41 });
    const ind = InstrumentIndicators.fromCandles(DEFAULT_SPECS, candles);
    const values = ind.values();
    const prev = ind.previous();
    const last = candles[99]!;
    expect(() => ind.next({ ...last })).toThrow(/is not after lastTs/);
    expect(() => ind.next({ ...last, ts: last.ts - MINUTE })).toThrow(/is not after lastTs/);
    expect(() => ind.next({ ...last, ts: Number.NaN })).toThrow(/is not after lastTs/);
    expect(() => ind.next({ ...last, ts: last.ts + MINUTE, close: Number.NaN })).toThrow(/non-finite/);
    expect(() => ind.next({ ...last, ts: last.ts + MINUTE, volume: Infinity })).toThrow(/non-finite/);
    expect(ind.values()).toBe(values);
    expect(ind.previous()).toBe(prev);
    expect(ind.count).toBe(100);
    expect(ind.lastTs).toBe(last.ts);
    expect(ind.lastCandle).toBe(candles[99]);
    // and continues correctly
    const more = genCandles(101, { seed: 41 });
    ind.next(more[100]!);
    expectValuesClose(ind.values(), computeFull(DEFAULT_SPECS, more), "after rejected candles");
  });

  it("rejects invalid specs", () => {
    expect(() => new InstrumentIndicators([{ kind: "rsi", period: 0 }])).toThrow(/period/);
    expect(() => new InstrumentIndicators([{ kind: "bb", period: 20, stdDev: 0 }])).toThrow(/stdDev/);
  });

  it("de-duplicates specs by key", () => {
    const ind = new InstrumentIndicators([{ kind: "rsi", period: 14 }, { kind: "rsi", period: 14 }, { kind: "vwap" }]);
    expect(ind.specs.map(specKey)).toEqual(["rsi:14", "vwap"]);
    expect(ind.debugSizes().states).toBe(2);
  });
});

describe("the state's own record of the last candle", () => {
  it("lastCandle is the candle last fed, and has() answers for every key it computes", () => {
    const candles = genCandles(30, { seed: 54 });
    const ind = new InstrumentIndicators([{ kind: "rsi", period: 14 }, { kind: "vwap" }]);
    expect(ind.lastCandle).toBeUndefined();
    for (const c of candles) ind.next(c);
    expect(ind.lastCandle).toBe(candles[29]);
    expect(ind.has("rsi:14")).toBe(true);
    expect(ind.has("vwap")).toBe(true);
    expect(ind.has("ema:20")).toBe(false);
  });
});
