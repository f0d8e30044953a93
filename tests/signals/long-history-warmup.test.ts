import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { CandleRepository } from "../../src/db/repositories/candles.js";
import { istInstant, sessionOn } from "../../src/market/calendar.js";
import { seededRandom } from "../../src/market/simulator.js";
import { aggregate, type SessionOf } from "../../src/market/timeframes.js";
import type { MarketCandle } from "../../src/market/types.js";
import { candlesNeeded, computeFull } from "../../src/signals/indicators/index.js";
import { TimeframeIndicators, type BarUpdate } from "../../src/signals/timeframe-indicators.js";
import { removeDir, tempDir } from "../support/env.js";
import { alertRule } from "../support/rules.js";

const KEY = "NSE_EQ|INE002A01018";
const DAY = 86_400_000;
const sessionOf: SessionOf = (ts) => sessionOn(new Date(ts), new Set(), new Map());
const TODAY = "2025-01-17"; // a Friday

/** `n` weekday session bars before TODAY, oldest first: a random walk around ₹800. */
function dailyBars(n: number): MarketCandle[] {
  const rnd = seededRandom(5);
  const days: number[] = [];
  for (let t = istInstant(TODAY, 0).getTime() - DAY; days.length < n; t -= DAY) {
    const s = sessionOf(t);
    if (s) days.unshift(s.start);
  }
  let price = 800;
  return days.map((ts) => {
    const open = price;
    price = Math.max(50, price + (rnd() - 0.5) * 30);
    return { ts, open, high: Math.max(open, price) + rnd() * 5, low: Math.min(open, price) - rnd() * 5, close: price, volume: 1000 };
  });
}

/** Today's minutes, falling all day (so RSI on daily bars drops). */
function todaysMinutes(from: number): MarketCandle[] {
  const out: MarketCandle[] = [];
  let price = from;
  for (let m = 9 * 60 + 15; m < 15 * 60 + 30; m++) {
    const open = price;
    price -= 0.4;
    out.push({ ts: istInstant(TODAY, m).getTime(), open, high: open + 0.2, low: price - 0.2, close: price, volume: 100 });
  }
  return out;
}

describe("rules on daily bars seeded from fetched daily history", () => {
  let dir: string;
  let db: Database;
  let candles: CandleRepository;
  beforeEach(() => {
    dir = tempDir("uab-long-");
    db = openDatabase(path.join(dir, "bot.sqlite"));
    candles = new CandleRepository(db);
  });
  afterEach(() => {
    db.close();
    removeDir(dir);
  });

  const rules = [
    alertRule("rsi_below", { level: 30, period: 14, timeframe: "1d" }),
    alertRule("all_of", { timeframe: "1d", conditions: [{ kind: "price_vs", params: { side: "above", ref: "ema", period: 200 } }] }),
  ];

  it("'rsi below 30 on 1d' and 'price above ema 200 on 1d' have settled values at today's first daily close, equal to a full recompute", () => {
    const history = dailyBars(1000);
    candles.upsertBars("1d", KEY, history);
    const minutes = todaysMinutes(history.at(-1)!.close);
    const live = new TimeframeIndicators(candles, sessionOf);
    let restarted: TimeframeIndicators | undefined;
    let closed = 0;
    for (const [i, m] of minutes.entries()) {
      candles.upsert("1m", [[KEY, m]]);
      // Another process picks the state up in the afternoon: the same from the stored bars and minutes.
      if (i === 200) restarted = new TimeframeIndicators(candles, sessionOf);
      const out = live.onMinute(KEY, m, rules);
      const again = restarted?.onMinute(KEY, m, rules);
      const u = out.get("1d");
      if (!u) continue;
      closed++;
      const today = aggregate(minutes, "1d", sessionOf);
      expect(u.bar).toEqual(today[0]);
      // Already there before today's bar: seeded, not waiting 200 days.
      expect(u.previous["rsi:14"]).toBeTypeOf("number");
      expect(u.previous["ema:200"]).toBeTypeOf("number");
      expect(u.previousCandle?.ts).toBe(history.at(-1)!.ts);
      const specs = [
        { kind: "rsi" as const, period: 14 },
        { kind: "ema" as const, period: 200 },
      ];
      // The state reads the bars its indicators need to settle (two spare), not all 1,000 stored...
      const read = computeFull(specs, [...history.slice(-(candlesNeeded(specs) + 2)), ...today]);
      expect(u.values["rsi:14"]).toBeCloseTo(read["rsi:14"] as number, 6);
      expect(u.values["ema:200"]).toBeCloseTo(read["ema:200"] as number, 6);
      // ...and settled means within 0.1 % of a recompute over everything.
      const all = computeFull(specs, [...history, ...today]);
      expect(Math.abs((u.values["ema:200"] as number) - (all["ema:200"] as number))).toBeLessThan((all["ema:200"] as number) * 0.001);
      expect(again?.get("1d")).toEqual(u);
    }
    expect(closed).toBe(1);
  });

  it("without fetched history the same rules have only what the minutes hold: no value yet", () => {
    const minutes = todaysMinutes(800);
    const t = new TimeframeIndicators(candles, sessionOf);
    const closes: BarUpdate[] = [];
    for (const m of minutes) {
      candles.upsert("1m", [[KEY, m]]);
      const u = t.onMinute(KEY, m, rules).get("1d");
      if (u) closes.push(u);
    }
    expect(closes).toHaveLength(1);
    expect(closes[0]!.values["rsi:14"]).toBeUndefined();
    expect(closes[0]!.values["ema:200"]).toBeUndefined();
  });
});
