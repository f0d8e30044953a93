import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alertCommand } from "../../src/bot/alert-command.js";
import { parseAlert } from "../../src/bot/parse-alert.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { CandleRepository } from "../../src/db/repositories/candles.js";
import { describeRule } from "../../src/format/rules.js";
import { istInstant, sessionOn } from "../../src/market/calendar.js";
import { seededRandom } from "../../src/market/simulator.js";
import { aggregate, type SessionOf } from "../../src/market/timeframes.js";
import type { MarketCandle } from "../../src/market/types.js";
import { historyNeeded } from "../../src/signals/indicator-engine.js";
import { computeFull } from "../../src/signals/indicators/index.js";
import { evaluateCandleRule, indicatorKeysFor, keysByTimeframe, type CandleInputs } from "../../src/signals/rules.js";
import { TimeframeIndicators } from "../../src/signals/timeframe-indicators.js";
import { removeDir, tempDir } from "../support/env.js";
import { alertRule } from "../support/rules.js";

const KEY = "NSE_EQ|INE002A01018";
const sessionOf: SessionOf = (ts) => sessionOn(new Date(ts), new Set(), new Map());

const parsed = (text: string) => {
  const r = parseAlert(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe("an AND alert whose parts are on different timeframes", () => {
  it("is evaluated on the shortest; only the longer parts keep a timeframe of their own", () => {
    const v = parsed("INFY rsi below 30 on 15m and price above ema 200 on 1d");
    expect(v).toMatchObject({ kind: "all_of", params: { timeframe: "15m" } });
    expect(v.params.conditions).toEqual([
      { kind: "rsi_below", params: { level: 30, period: 14 } },
      { kind: "price_vs", params: { side: "above", ref: "ema", period: 200, timeframe: "1d" } },
    ]);
    // A part without a timeframe of its own is on one-minute candles, then the shortest.
    const m = parsed("INFY macd up and rsi below 30 on 1h and supertrend up on 1d every 15m");
    expect(m.params.timeframe).toBeUndefined();
    expect(m.params.conditions!.map((c) => c.params.timeframe)).toEqual([undefined, "1h", "1d"]);
    // With no part naming its own, a trailing "on" is the whole alert's, as before.
    expect(parsed("INFY rsi below 30 and price above ema 200 on 15m").params.conditions!.every((c) => !c.params.timeframe)).toBe(true);
  });

  it("reads back as written, and in words", () => {
    for (const text of [
      "INFY rsi below 30 on 15m and price above ema 200 on 1d",
      "INFY macd up on 1m and rsi below 30 on 1h and supertrend up on 1d every 15m",
      "INFY bb down on 5m and price above sma 50 on 1h bar",
      "INFY rsi below 60 on 1m and price above ema 20 on 5m",
    ]) {
      const v = parsed(text);
      expect(alertCommand(v as Parameters<typeof alertCommand>[0], "INFY")).toBe(text);
      expect(parsed(alertCommand(v as Parameters<typeof alertCommand>[0], "INFY"))).toEqual(v);
    }
    // Written without the first part's "on 1m", it reads back with it.
    const short = parsed("INFY macd up and rsi below 30 on 1h and supertrend up on 1d");
    expect(alertCommand(short as Parameters<typeof alertCommand>[0], "INFY")).toBe("INFY macd up on 1m and rsi below 30 on 1h and supertrend up on 1d");
    const rule = { ...alertRule("all_of", parsed("INFY rsi below 30 on 15m and price above ema 200 on 1d").params), frequency: "once" as const };
    expect(describeRule(rule)).toBe("RSI(14) below 30 on 15m candles and price above EMA 200 on 1d candles (all at once), once");
  });

  it("refuses a part about the bar itself on longer bars than the alert's, and a bad timeframe in a part", () => {
    const volume = parseAlert("INFY rsi below 30 on 15m and volume 3x on 1h");
    expect(volume.ok ? "" : volume.error).toMatch(/is about the alert's own bar: put it on the shortest timeframe of the alert \(15m\)/);
    const bad = parseAlert("INFY rsi below 30 on 15min and macd up on 1h");
    expect(bad).toMatchObject({
      ok: false,
      error: 'In "rsi below 30 on 15min": "15min" is not a timeframe: use 1m, 5m, 15m, 30m, 1h, 1d.',
      usage: "/alert SYMBOL CONDITION [on 1m|5m|15m|30m|1h|1d] and CONDITION [on …] (up to 5 conditions)",
    });
    expect(volume).toMatchObject({ usage: "/alert SYMBOL CONDITION [on 1m|5m|15m|30m|1h|1d] and CONDITION [on …] (up to 5 conditions)" });
  });

  it("asks for each timeframe's indicators and history", () => {
    const rule = alertRule("all_of", parsed("INFY rsi below 30 on 15m and price above ema 50 on 1h").params);
    expect(indicatorKeysFor(rule)).toEqual(["rsi:14"]);
    expect([...keysByTimeframe(rule)]).toEqual([
      ["15m", ["rsi:14"]],
      ["1h", ["ema:50"]],
    ]);
    // EMA 50 on hourly bars needs more one-minute history than RSI 14 on 15-minute ones.
    expect(historyNeeded([rule])).toBeGreaterThanOrEqual(50 * 60);
    expect(historyNeeded([rule], (tf) => tf === "1h")).toBeLessThan(50 * 60);
  });

  it("fires at the short bar's close when the longer bar's last close agrees, naming its timeframe", () => {
    const rule = alertRule("all_of", parsed("INFY rsi below 30 on 15m and price above ema 200 on 1d").params);
    const bar: MarketCandle = { ts: Date.parse("2025-01-17T10:00:00+05:30"), open: 1510, high: 1515, low: 1505, close: 1512.3, volume: 10 };
    const daily = (ema: number): CandleInputs => ({
      candle: { ...bar, ts: 0, close: 1400 },
      previousCandle: undefined,
      values: { "ema:200": ema },
      previous: {},
    });
    const input = (ema: number | undefined): CandleInputs => ({
      candle: bar,
      previousCandle: undefined,
      values: { "rsi:14": 28.4 },
      previous: { "rsi:14": 31 },
      at: (tf) => (tf === "1d" && ema !== undefined ? daily(ema) : undefined),
    });
    // No daily bar yet: the part cannot hold.
    expect(evaluateCandleRule(rule, input(undefined), bar.ts).fired).toBe(false);
    // The daily EMA is above today's price: not all hold.
    expect(evaluateCandleRule(rule, input(1520), bar.ts).fired).toBe(false);
    const fired = evaluateCandleRule(rule, input(1498.1), bar.ts);
    expect(fired.fired).toBe(true);
    // Compared with this bar's price, not the daily bar's close.
    expect(fired.detail?.lines).toEqual(["RSI(14) 28.40 < 30", "price ₹1,512.30 > EMA 200 ₹1,498.10 (1d)"]);
  });

  describe("state on the longer bars", () => {
    let dir: string;
    let db: Database;
    beforeEach(() => {
      dir = tempDir("uab-mixed-");
      db = openDatabase(path.join(dir, "bot.sqlite"));
    });
    afterEach(() => {
      db.close();
      removeDir(dir);
    });

    it("is kept for a part's timeframe even when the alert itself is on one-minute candles, and read as of its last closed bar", () => {
      const candles = new CandleRepository(db);
      const rules = [alertRule("all_of", parsed("INFY rsi below 30 on 15m and vwap up").params)];
      expect(rules[0]!.params.timeframe).toBeUndefined();
      const tfs = new TimeframeIndicators(candles, sessionOf);
      const rnd = seededRandom(5);
      let price = 800;
      const all: MarketCandle[] = [];
      let checked = 0;
      for (let m = 9 * 60 + 15; m < 15 * 60 + 30; m++) {
        const open = price;
        price += (rnd() - 0.5) * 3;
        const c = {
          ts: istInstant("2025-01-16", m).getTime(),
          open,
          high: Math.max(open, price) + 0.5,
          low: Math.min(open, price) - 0.5,
          close: price,
          volume: 100,
        };
        all.push(c);
        candles.upsert("1m", [[KEY, c]]);
        tfs.onMinute(KEY, c, rules);
        const bars = aggregate(all, "15m", sessionOf).filter((b) => b.end <= c.ts + 60_000);
        const latest = tfs.latest(KEY, "15m");
        if (!bars.length) {
          expect(latest).toBeUndefined();
          continue;
        }
        // Mid-bar, still the last closed 15-minute bar and its RSI.
        expect(latest!.candle).toEqual(bars.at(-1));
        const want = computeFull([{ kind: "rsi", period: 14 }], bars)["rsi:14"] as number | undefined;
        if (want === undefined) expect(latest!.values["rsi:14"]).toBeUndefined();
        else {
          expect(latest!.values["rsi:14"]).toBeCloseTo(want, 9);
          checked++;
        }
      }
      // Every minute from the 15th bar's close on.
      expect(checked).toBeGreaterThan(100);
    });
  });
});
