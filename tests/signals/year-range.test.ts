import { describe, expect, it } from "vitest";
import type { MarketCandle } from "../../src/market/types.js";
import { describeRule, indicatorFiredWording } from "../../src/format/rules.js";
import { readCondition } from "../../src/signals/conditions.js";
import { evaluateCandleRule, type CandleInputs } from "../../src/signals/rules.js";
import { MIN_YEAR_BARS, yearRangeOf, type YearRange } from "../../src/signals/year-range.js";
import { alertRule } from "../support/rules.js";

const ist = (s: string) => Date.parse(`${s}+05:30`);
const DAY = 86_400_000;
const TODAY = ist("2025-01-15T00:00:00");

/** A year of weekday bars before today around ₹100, the high on one day and the low on another. */
function year(): MarketCandle[] {
  const out: MarketCandle[] = [];
  for (let t = TODAY - 400 * DAY; t < TODAY; t += DAY) {
    const dow = new Date(t + 330 * 60_000).getUTCDay();
    if (dow === 0 || dow === 6) continue;
    const ts = t + 555 * 60_000; // 09:15 IST
    out.push({ ts, open: 100, high: 105, low: 95, close: 101, volume: 1000 });
  }
  return out;
}

const RANGE: YearRange = { high: 150, highTs: ist("2024-06-03T09:15:00"), low: 80, lowTs: ist("2024-10-01T09:15:00"), bars: 250 };

const minute = (at: string, high: number, low = high - 1): CandleInputs => ({
  candle: { ts: ist(at), open: low, high, low, close: high - 0.5, volume: 100 },
  previousCandle: undefined,
  values: {},
  previous: {},
  range52w: RANGE,
});

describe("52-week range", () => {
  it("is the highest high and lowest low of the daily bars of the 52 weeks before today, today left out", () => {
    const bars = year();
    const high = bars.findIndex((b) => b.ts > TODAY - 200 * DAY);
    bars[high]!.high = 140;
    const low = bars.findIndex((b) => b.ts > TODAY - 100 * DAY);
    bars[low]!.low = 70;
    // Older than 52 weeks, and today: neither counts.
    bars[0]!.high = 999;
    bars.push({ ts: TODAY + 555 * 60_000, open: 100, high: 500, low: 1, close: 100, volume: 1 });
    const r = yearRangeOf(bars, TODAY)!;
    expect(r).toMatchObject({ high: 140, highTs: bars[high]!.ts, low: 70, lowTs: bars[low]!.ts });
    expect(r.bars).toBe(bars.filter((b) => b.ts >= TODAY - 364 * DAY && b.ts < TODAY).length);
    expect(r.bars).toBeGreaterThan(MIN_YEAR_BARS);
    expect(yearRangeOf([], TODAY)).toBeUndefined();
  });
});

describe("52-week high and low rules", () => {
  it("fire when a candle's high goes above the 52-week high (a touch is not a new high), with the old high and its day", () => {
    const rule = alertRule("high_52w", {}, { frequency: "once" });
    expect(evaluateCandleRule(rule, minute("2025-01-15T10:00:00", 150), TODAY).fired).toBe(false);
    const o = evaluateCandleRule(rule, minute("2025-01-15T10:01:00", 150.5), TODAY);
    expect(o.fired).toBe(true);
    expect(o.finished).toBe("triggered");
    expect(o.detail?.values).toEqual({ price: 150.5, previous: 150, previousTs: RANGE.highTs, bars: 250 });
    const low = alertRule("low_52w");
    expect(evaluateCandleRule(low, minute("2025-01-15T10:01:00", 81, 80), TODAY).fired).toBe(false);
    expect(evaluateCandleRule(low, minute("2025-01-15T10:01:00", 81, 79.95), TODAY).detail?.values).toMatchObject({ price: 79.95, previous: 80 });
  });

  it("never fire without 52 weeks of daily history (a recent listing, or history not fetched yet)", () => {
    const rule = alertRule("high_52w");
    const short = { ...minute("2025-01-15T10:00:00", 500), range52w: { ...RANGE, bars: MIN_YEAR_BARS - 1 } };
    expect(evaluateCandleRule(rule, short, TODAY).fired).toBe(false);
    expect(evaluateCandleRule(rule, { ...short, range52w: undefined }, TODAY).fired).toBe(false);
  });

  it("tell a day's new high once; 'every' tells a later one only above the high last told; the next day starts afresh", () => {
    const fired = ist("2025-01-15T10:01:00");
    const perDay = alertRule("high_52w", {}, { frequency: "once_per_bar", lastFiredAt: fired, state: { armed: true, lastPrice: 151 } });
    expect(evaluateCandleRule(perDay, minute("2025-01-15T14:00:00", 170), ist("2025-01-15T14:01:00")).fired).toBe(false);
    expect(evaluateCandleRule(perDay, minute("2025-01-16T09:20:00", 152), ist("2025-01-16T09:21:00")).fired).toBe(true);

    const every = alertRule("high_52w", {}, { frequency: "every", cooldownSeconds: 0, lastFiredAt: fired, state: { armed: true, lastPrice: 151 } });
    expect(evaluateCandleRule(every, minute("2025-01-15T10:05:00", 151), ist("2025-01-15T10:06:00")).fired).toBe(false);
    const higher = evaluateCandleRule(every, minute("2025-01-15T10:06:00", 151.2), ist("2025-01-15T10:07:00"));
    expect(higher.fired).toBe(true);
    expect(higher.state.lastPrice).toBe(151.2);
    // The message still names the 52-week high it beat, not the alert before.
    expect(higher.detail?.values?.previous).toBe(150);
  });

  it("are a state in an AND alert: at a new high during the bar", () => {
    const input = minute("2025-01-15T10:00:00", 151);
    expect(readCondition({ kind: "high_52w", params: {} }, input, [])).toEqual({ holds: true, text: "high ₹151.00 > 52-week high ₹150.00" });
    expect(readCondition({ kind: "low_52w", params: {} }, input, []).holds).toBe(false);
    expect(readCondition({ kind: "high_52w", params: {} }, { ...input, range52w: undefined }, []).holds).toBe(false);
  });
});

describe("52-week rules in words", () => {
  it("say what they watch and, fired, the new price with the old extreme and its day", () => {
    expect(describeRule({ kind: "high_52w", params: {}, frequency: "once", cooldownSeconds: 0 })).toBe("makes a new 52-week high, once");
    expect(describeRule({ kind: "low_52w", params: {}, frequency: "once_per_bar", cooldownSeconds: 0 })).toBe("makes a new 52-week low, at most once a day");
    expect(describeRule({ kind: "high_52w", params: {}, frequency: "every", cooldownSeconds: 900 })).toBe(
      "makes a new 52-week high, at each further new extreme (at most every 15 min)",
    );
    expect(indicatorFiredWording("high_52w", {}, { price: 150.5, previous: 150, previousTs: RANGE.highTs, bars: 250 })).toEqual({
      headline: "made a new 52-week high",
      valuesLine: "High ₹150.50 · previous 52-week high ₹150.00 of Mon, 3 Jun 2024",
    });
  });
});
