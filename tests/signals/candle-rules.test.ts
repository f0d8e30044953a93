import { describe, expect, it } from "vitest";
import type { MarketCandle, Quote } from "../../src/market/types.js";
import { AUTO_PAUSE_MAX_FIRES, evaluateCandleRule, evaluateRule, indicatorKeysFor, type CandleInputs, type IndicatorReading } from "../../src/signals/rules.js";
import { alertRule as rule } from "../support/rules.js";

const T0 = Date.UTC(2025, 0, 6, 4, 0, 0);

const candle = (close: number, volume = 1000, ts = T0): MarketCandle => ({ ts, open: close, high: close, low: close, close, volume });
const inputs = (previous: IndicatorReading, values: IndicatorReading, c = candle(100), previousCandle?: MarketCandle): CandleInputs => ({
  candle: c,
  previousCandle,
  values,
  previous,
});

describe("candle rules", () => {
  it("reads the indicator keys the engine must keep", () => {
    expect(indicatorKeysFor(rule("rsi_below", { level: 30 }))).toEqual(["rsi:14"]);
    expect(indicatorKeysFor(rule("macd_cross_up"))).toEqual(["macd:12:26:9"]);
    expect(indicatorKeysFor(rule("ma_cross_up", { ma: "sma", fast: 50, slow: 200 }))).toEqual(["sma:50", "sma:200"]);
    expect(indicatorKeysFor(rule("bb_break_down", { period: 20, stdDev: 2.5 }))).toEqual(["bb:20:2.5"]);
    expect(indicatorKeysFor(rule("volume_spike", { period: 10 }))).toEqual(["volume_sma:10"]);
    expect(indicatorKeysFor(rule("price_above", { level: 1 }))).toEqual([]);
  });

  it("RSI below fires when RSI crosses under the level, not while it stays under", () => {
    const r = rule("rsi_below", { level: 30 });
    expect(evaluateCandleRule(r, inputs({ "rsi:14": 31 }, { "rsi:14": 29.5 }), T0)).toMatchObject({ fired: true, detail: { values: { rsi: 29.5 } } });
    expect(evaluateCandleRule(r, inputs({ "rsi:14": 29.5 }, { "rsi:14": 28 }), T0).fired).toBe(false);
    expect(evaluateCandleRule(r, inputs({ "rsi:14": undefined }, { "rsi:14": 20 }), T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("rsi_above", { level: 70 }), inputs({ "rsi:14": 69 }, { "rsi:14": 71 }), T0).fired).toBe(true);
  });

  it("MACD crossing its signal line up and down", () => {
    const k = "macd:12:26:9";
    const up = inputs({ [k]: { macd: -0.2, signal: 0.1, histogram: -0.3 } }, { [k]: { macd: 0.3, signal: 0.1, histogram: 0.2 } });
    expect(evaluateCandleRule(rule("macd_cross_up"), up, T0).fired).toBe(true);
    expect(evaluateCandleRule(rule("macd_cross_down"), up, T0).fired).toBe(false);
    const down = inputs({ [k]: { macd: 0.3, signal: 0.1, histogram: 0.2 } }, { [k]: { macd: 0.05, signal: 0.1, histogram: -0.05 } });
    expect(evaluateCandleRule(rule("macd_cross_down"), down, T0).fired).toBe(true);
  });

  it("EMA/SMA crossover of the fast over the slow average", () => {
    const r = rule("ma_cross_up", { ma: "ema", fast: 9, slow: 21 });
    expect(evaluateCandleRule(r, inputs({ "ema:9": 99, "ema:21": 100 }, { "ema:9": 101, "ema:21": 100.2 }), T0)).toMatchObject({
      fired: true,
      detail: { values: { fast: 101, slow: 100.2 } },
    });
    expect(evaluateCandleRule(r, inputs({ "ema:9": 101, "ema:21": 100 }, { "ema:9": 102, "ema:21": 100.2 }), T0).fired).toBe(false);
    const golden = rule("ma_cross_down", { ma: "sma", fast: 50, slow: 200 });
    expect(evaluateCandleRule(golden, inputs({ "sma:50": 101, "sma:200": 100 }, { "sma:50": 99, "sma:200": 100 }), T0).fired).toBe(true);
  });

  it("Bollinger breakout needs the close to cross the band", () => {
    const k = "bb:20:2";
    const bands = (upper: number, lower: number) => ({ [k]: { upper, middle: (upper + lower) / 2, lower } });
    const r = rule("bb_break_up");
    expect(evaluateCandleRule(r, inputs(bands(105, 95), bands(105.5, 95), candle(106), candle(104)), T0).fired).toBe(true);
    expect(evaluateCandleRule(r, inputs(bands(105, 95), bands(105.5, 95), candle(106), candle(105.2)), T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("bb_break_down"), inputs(bands(105, 95), bands(105, 95.5), candle(94), candle(96)), T0).fired).toBe(true);
  });

  it("volume spike compares with the average before this candle", () => {
    const r = rule("volume_spike", { multiple: 3, period: 20 });
    expect(evaluateCandleRule(r, inputs({ "volume_sma:20": 1000 }, { "volume_sma:20": 1200 }, candle(100, 3200)), T0)).toMatchObject({
      fired: true,
      detail: { values: { volume: 3200, averageVolume: 1000 } },
    });
    expect(evaluateCandleRule(r, inputs({ "volume_sma:20": 1000 }, { "volume_sma:20": 1100 }, candle(100, 2500)), T0).fired).toBe(false);
  });

  it("the indicators /quote shows can be alerted on: their keys", () => {
    expect(indicatorKeysFor(rule("supertrend_up"))).toEqual(["supertrend:10:3"]);
    expect(indicatorKeysFor(rule("supertrend_down", { period: 7, multiplier: 2.5 }))).toEqual(["supertrend:7:2.5"]);
    expect(indicatorKeysFor(rule("vwap_cross_up"))).toEqual(["vwap"]);
    expect(indicatorKeysFor(rule("atr_move", { multiple: 2 }))).toEqual(["atr:14"]);
    expect(indicatorKeysFor(rule("bb_enter"))).toEqual(["bb:20:2"]);
    expect(indicatorKeysFor(rule("gap_up", { pct: 2 }))).toEqual([]);
  });

  it("Supertrend flips: up when its direction turns from down to up, and only then", () => {
    const k = "supertrend:10:3";
    const st = (direction: 1 | -1, value: number) => ({ [k]: { value, direction } });
    expect(evaluateCandleRule(rule("supertrend_up"), inputs(st(-1, 102), st(1, 97.5)), T0)).toMatchObject({
      fired: true,
      detail: { values: { supertrend: 97.5 } },
    });
    expect(evaluateCandleRule(rule("supertrend_up"), inputs(st(1, 97), st(1, 97.5)), T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("supertrend_down"), inputs(st(1, 97), st(-1, 103)), T0).fired).toBe(true);
    expect(evaluateCandleRule(rule("supertrend_down"), inputs({ [k]: undefined }, st(-1, 103)), T0).fired).toBe(false);
  });

  it("price crossing VWAP is a true crossing of the close", () => {
    expect(evaluateCandleRule(rule("vwap_cross_up"), inputs({ vwap: 100 }, { vwap: 100.1 }, candle(100.5), candle(99.8)), T0)).toMatchObject({
      fired: true,
      detail: { values: { vwap: 100.1 } },
    });
    expect(evaluateCandleRule(rule("vwap_cross_up"), inputs({ vwap: 100 }, { vwap: 100.1 }, candle(100.5), candle(100.2)), T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("vwap_cross_down"), inputs({ vwap: 100 }, { vwap: 100 }, candle(99.5), candle(100.4)), T0).fired).toBe(true);
  });

  it("a move larger than k × ATR, measured against the ATR before the move, either way", () => {
    const r = rule("atr_move", { multiple: 2, period: 14 });
    const up = evaluateCandleRule(r, inputs({ "atr:14": 1.5 }, { "atr:14": 1.8 }, candle(103.1), candle(100)), T0);
    expect(up).toMatchObject({ fired: true, detail: { values: { atr: 1.5 } } });
    expect(up.detail!.values!.move).toBeCloseTo(3.1, 9);
    expect(evaluateCandleRule(r, inputs({ "atr:14": 1.5 }, { "atr:14": 1.8 }, candle(96.9), candle(100)), T0).fired).toBe(true);
    expect(evaluateCandleRule(r, inputs({ "atr:14": 1.5 }, { "atr:14": 1.8 }, candle(102.9), candle(100)), T0).fired).toBe(false);
  });

  it("back inside the Bollinger band from either side", () => {
    const k = "bb:20:2";
    const bands = (upper: number, lower: number) => ({ [k]: { upper, middle: (upper + lower) / 2, lower } });
    expect(evaluateCandleRule(rule("bb_enter"), inputs(bands(105, 95), bands(105, 95), candle(104), candle(106)), T0).fired).toBe(true);
    expect(evaluateCandleRule(rule("bb_enter"), inputs(bands(105, 95), bands(105, 95), candle(96), candle(94)), T0).fired).toBe(true);
    expect(evaluateCandleRule(rule("bb_enter"), inputs(bands(105, 95), bands(105, 95), candle(104), candle(103)), T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("bb_enter"), inputs(bands(105, 95), bands(105, 95), candle(106), candle(107)), T0).fired).toBe(false);
  });

  it("a gap at the open: the session's first candle against the previous session's close", () => {
    const yesterday = { ...candle(100), ts: T0 - 17.75 * 3_600_000 };
    const open = (o: number, ts = T0): MarketCandle => ({ ts, open: o, high: o + 1, low: o - 1, close: o, volume: 1 });
    expect(evaluateCandleRule(rule("gap_up", { pct: 2 }), inputs({}, {}, open(102.5), yesterday), T0)).toMatchObject({
      fired: true,
      detail: { values: { gapPct: 2.5, previousClose: 100, open: 102.5 } },
    });
    expect(evaluateCandleRule(rule("gap_up", { pct: 2 }), inputs({}, {}, open(101.5), yesterday), T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("gap_down", { pct: 2 }), inputs({}, {}, open(97.9), yesterday), T0).fired).toBe(true);
    // Within a session a jump is not a gap.
    expect(evaluateCandleRule(rule("gap_up", { pct: 2 }), inputs({}, {}, open(103), { ...candle(100), ts: T0 - 60_000 }), T0).fired).toBe(false);
  });

  it("an AND alert fires when all parts hold after they did not, says each with its value, and waits for them to part again", () => {
    const r = rule("all_of", {
      conditions: [
        { kind: "rsi_below", params: { level: 30, period: 14 } },
        { kind: "price_vs", params: { side: "above", ref: "ema", period: 200 } },
      ],
    });
    expect(indicatorKeysFor(r)).toEqual(["rsi:14", "ema:200"]);
    const at = (rsi: number, ema: number, close: number) => inputs({ "rsi:14": 40, "ema:200": ema }, { "rsi:14": rsi, "ema:200": ema }, candle(close));
    // Only one holds: nothing.
    const one = evaluateCandleRule(r, at(28.4, 1520, 1512.3), T0);
    expect(one).toMatchObject({ fired: false, state: { armed: true } });
    // Both: fires, with both values.
    const both = evaluateCandleRule(r, at(28.4, 1498.1, 1512.3), T0);
    expect(both).toMatchObject({ fired: true, state: { armed: false } });
    expect(both.detail!.lines).toEqual(["RSI(14) 28.40 < 30", "price ₹1,512.30 > EMA 200 ₹1,498.10"]);
    // Still both at the next bar: not again.
    const held = { ...r, state: both.state };
    expect(evaluateCandleRule(held, at(27, 1499, 1513), T0 + 60_000).fired).toBe(false);
    // One lets go, then both again: fires again.
    const parted = evaluateCandleRule(held, at(31, 1499, 1513), T0 + 120_000);
    expect(parted.state.armed).toBe(true);
    expect(evaluateCandleRule({ ...r, state: parted.state }, at(29, 1499, 1513), T0 + 180_000).fired).toBe(true);
    // A part without a value yet never holds.
    expect(evaluateCandleRule(r, inputs({}, { "rsi:14": 20 }, candle(1500)), T0).fired).toBe(false);
  });

  it("candle rules honour frequency, cooldown and expiry", () => {
    const cross = inputs({ "rsi:14": 31 }, { "rsi:14": 29 });
    expect(evaluateCandleRule(rule("rsi_below", { level: 30 }, { frequency: "once" }), cross, T0).finished).toBe("triggered");
    const cooled = rule("rsi_below", { level: 30 }, { cooldownSeconds: 600, lastFiredAt: T0 - 60_000 });
    expect(evaluateCandleRule(cooled, cross, T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("rsi_below", { level: 30 }, { expiresAt: T0 }), cross, T0)).toMatchObject({ fired: false, finished: "expired" });
  });

  it("price rules do not fire on candles and candle rules do not fire on quotes", () => {
    const q: Quote = { instrumentKey: "k", symbol: "X", lastPrice: 200, open: 1, high: 1, low: 1, prevClose: 100, volume: 1, lastTradeAt: T0 };
    expect(evaluateRule(rule("rsi_below", { level: 30 }), q, T0).fired).toBe(false);
    expect(evaluateCandleRule(rule("price_above", { level: 1 }), inputs({}, {}), T0).fired).toBe(false);
  });
});

describe("runaway guard", () => {
  it(`pauses a rule on its ${AUTO_PAUSE_MAX_FIRES + 1}th firing within 3 minutes`, () => {
    let r = rule("cross_up", { level: 100, rearmPct: 0.1 });
    let t = T0;
    let firings = 0;
    let finished: string | undefined;
    // Price whipsaws across the level every 5 s: each up-cross fires.
    for (let i = 0; i < 80 && !finished; i++) {
      t += 5000;
      const price = i % 2 === 0 ? 99.5 : 100.5;
      const o = evaluateRule(r, { instrumentKey: "k", symbol: "X", lastPrice: price, open: 1, high: 1, low: 1, prevClose: 100, volume: 1, lastTradeAt: t }, t);
      if (o.fired) {
        firings++;
        r = { ...r, lastFiredAt: t, fireCount: r.fireCount + 1 };
      }
      r = { ...r, state: o.state };
      finished = o.finished;
    }
    expect(firings).toBe(AUTO_PAUSE_MAX_FIRES + 1);
    expect(finished).toBe("paused");
    expect(r.state.recentFires!.length).toBeLessThanOrEqual(AUTO_PAUSE_MAX_FIRES + 1);
  });

  it("does not pause a rule whose firings are spread out", () => {
    let r = rule("cross_up", { level: 100 });
    let t = T0;
    for (let i = 0; i < 200; i++) {
      t += 20_000;
      const price = i % 2 === 0 ? 99 : 101;
      const o = evaluateRule(r, { instrumentKey: "k", symbol: "X", lastPrice: price, open: 1, high: 1, low: 1, prevClose: 100, volume: 1, lastTradeAt: t }, t);
      expect(o.finished).toBeUndefined();
      r = { ...r, state: o.state, ...(o.fired ? { lastFiredAt: t, fireCount: r.fireCount + 1 } : {}) };
    }
    expect(r.fireCount).toBe(100);
  });
});
