import { describe, expect, it } from "vitest";
import {
  DEFAULT_SPECS,
  candlesNeeded,
  candlesNeededFor,
  istDay,
  parseSpecKey,
  specKey,
  validateSpec,
  type IndicatorSpec,
} from "../../../src/signals/indicators/index.js";

const MORE_SPECS: IndicatorSpec[] = [
  { kind: "rsi", period: 2 },
  { kind: "sma", period: 200 },
  { kind: "ema", period: 9 },
  { kind: "macd", fast: 5, slow: 35, signal: 5 },
  { kind: "bb", period: 20, stdDev: 2.5 },
  { kind: "atr", period: 7 },
  { kind: "supertrend", period: 7, multiplier: 1.5 },
  { kind: "volume_sma", period: 10 },
];

describe("specKey / parseSpecKey", () => {
  it("produces the documented keys for the defaults", () => {
    expect(DEFAULT_SPECS.map(specKey)).toEqual(["rsi:14", "ema:20", "sma:50", "macd:12:26:9", "bb:20:2", "atr:14", "supertrend:10:3", "vwap", "volume_sma:20"]);
  });

  it("round-trips every spec kind", () => {
    for (const s of [...DEFAULT_SPECS, ...MORE_SPECS]) {
      const key = specKey(s);
      expect(parseSpecKey(key), key).toEqual(s);
      expect(specKey(parseSpecKey(key)!)).toBe(key);
    }
    expect(specKey({ kind: "bb", period: 20, stdDev: 2.5 })).toBe("bb:20:2.5");
  });

  it("rejects malformed keys", () => {
    for (const bad of [
      "",
      "rsi",
      "rsi:",
      "rsi:0",
      "rsi:-3",
      "rsi:1.5",
      "rsi:14:2",
      "rsi:abc",
      "rsi:1e3",
      "macd:12:26",
      "macd:12:26:x",
      "bb:20",
      "bb:20:0",
      "bb:20:-1",
      "bb:0:2",
      "supertrend:10",
      "supertrend:10:0",
      "vwap:1",
      "vwma:20",
      "RSI:14",
    ]) {
      expect(parseSpecKey(bad), bad).toBeUndefined();
    }
  });

  it("accepts a non-canonical decimal and canonicalises it", () => {
    expect(parseSpecKey("bb:20:2.0")).toEqual({ kind: "bb", period: 20, stdDev: 2 });
    expect(parseSpecKey(" rsi:14 ")).toEqual({ kind: "rsi", period: 14 });
  });

  it("validateSpec throws on bad parameters", () => {
    expect(() => validateSpec({ kind: "rsi", period: 0 })).toThrow(/period/);
    expect(() => validateSpec({ kind: "sma", period: 2.5 })).toThrow(/period/);
    expect(() => validateSpec({ kind: "bb", period: 20, stdDev: 0 })).toThrow(/stdDev/);
    expect(() => validateSpec({ kind: "supertrend", period: 10, multiplier: Number.NaN })).toThrow(/multiplier/);
    expect(() => validateSpec({ kind: "macd", fast: 12, slow: 0, signal: 9 })).toThrow(/fast, slow/);
    expect(() => validateSpec({ kind: "nope" } as unknown as IndicatorSpec)).toThrow(/unknown kind/);
    for (const s of [...DEFAULT_SPECS, ...MORE_SPECS]) expect(() => validateSpec(s)).not.toThrow();
  });
});

describe("candlesNeeded", () => {
  it("covers the first value of every spec", () => {
    expect(candlesNeededFor({ kind: "sma", period: 50 })).toBe(50);
    expect(candlesNeededFor({ kind: "bb", period: 20, stdDev: 2 })).toBe(20);
    expect(candlesNeededFor({ kind: "volume_sma", period: 20 })).toBe(20);
    // exponential ones: first value plus settling (seed weight < 0.1 %)
    const ema = candlesNeededFor({ kind: "ema", period: 20 });
    expect(ema).toBeGreaterThan(20 + 3 * 20);
    expect(Math.pow(1 - 2 / 21, ema - 20)).toBeLessThan(1e-3);
    const rsi = candlesNeededFor({ kind: "rsi", period: 14 });
    expect(Math.pow(1 - 1 / 14, rsi - 15)).toBeLessThan(1e-3);
    expect(candlesNeededFor({ kind: "atr", period: 14 })).toBe(rsi);
    expect(candlesNeededFor({ kind: "supertrend", period: 14, multiplier: 3 })).toBe(rsi);
    const macd = candlesNeededFor({ kind: "macd", fast: 12, slow: 26, signal: 9 });
    expect(macd).toBeGreaterThan(26 + 9 - 1);
    expect(macd).toBeGreaterThanOrEqual(candlesNeededFor({ kind: "ema", period: 26 }));
    expect(candlesNeededFor({ kind: "vwap" })).toBe(375);
  });

  it("is the maximum over the specs, 0 for none, and grows with the period", () => {
    expect(candlesNeeded([])).toBe(0);
    expect(
      candlesNeeded([
        { kind: "sma", period: 10 },
        { kind: "sma", period: 200 },
      ]),
    ).toBe(200);
    expect(candlesNeeded(DEFAULT_SPECS)).toBe(375); // the session VWAP dominates
    const noVwap = DEFAULT_SPECS.filter((s) => s.kind !== "vwap");
    const n = candlesNeeded(noVwap);
    expect(n).toBe(Math.max(...noVwap.map(candlesNeededFor)));
    expect(n).toBeGreaterThan(100);
    expect(n).toBeLessThan(300);
    expect(candlesNeededFor({ kind: "rsi", period: 21 })).toBeGreaterThan(candlesNeededFor({ kind: "rsi", period: 14 }));
  });
});

describe("istDay", () => {
  it("changes at 00:00 IST (18:30 UTC)", () => {
    const before = Date.UTC(2025, 0, 6, 18, 29, 59, 999);
    const after = Date.UTC(2025, 0, 6, 18, 30, 0, 0);
    expect(istDay(after)).toBe(istDay(before) + 1);
    expect(istDay(Date.UTC(2025, 0, 6, 3, 45))).toBe(istDay(Date.UTC(2025, 0, 6, 10, 0)));
  });
});
