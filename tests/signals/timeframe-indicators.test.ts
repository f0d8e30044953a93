import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { CandleRepository } from "../../src/db/repositories/candles.js";
import { istInstant, sessionOn } from "../../src/market/calendar.js";
import { seededRandom } from "../../src/market/simulator.js";
import { aggregate, type SessionOf } from "../../src/market/timeframes.js";
import type { MarketCandle } from "../../src/market/types.js";
import { computeFull } from "../../src/signals/indicators/index.js";
import { TimeframeIndicators } from "../../src/signals/timeframe-indicators.js";
import { removeDir, tempDir } from "../support/env.js";
import { alertRule } from "../support/rules.js";

const KEY = "NSE_EQ|INE002A01018";
const sessionOf: SessionOf = (ts) => sessionOn(new Date(ts), new Set(), new Map());

/** Two sessions of minutes (Thu 16 and Fri 17 Jan 2025), a random walk. */
function minutes(): MarketCandle[] {
  const rnd = seededRandom(11);
  let price = 800;
  const out: MarketCandle[] = [];
  for (const date of ["2025-01-16", "2025-01-17"]) {
    for (let m = 9 * 60 + 15; m < 15 * 60 + 30; m++) {
      const open = price;
      price += (rnd() - 0.5) * 3;
      out.push({
        ts: istInstant(date, m).getTime(),
        open,
        high: Math.max(open, price) + rnd(),
        low: Math.min(open, price) - rnd(),
        close: price,
        volume: 100 + Math.floor(rnd() * 900),
      });
    }
  }
  return out;
}

describe("indicator state on longer bars", () => {
  let dir: string;
  let db: Database;
  let candles: CandleRepository;
  beforeEach(() => {
    dir = tempDir("uab-tf-");
    db = openDatabase(path.join(dir, "bot.sqlite"));
    candles = new CandleRepository(db);
  });
  afterEach(() => {
    db.close();
    removeDir(dir);
  });

  const rules = [
    alertRule("rsi_below", { level: 30, period: 14, timeframe: "15m" }),
    alertRule("ma_cross_up", { ma: "ema", fast: 5, slow: 13, timeframe: "1h" }),
    alertRule("rsi_above", { level: 70 }),
  ];

  it("gives each closed bar the values a full recompute over the aggregated bars gives, and rebuilds the same after a restart", () => {
    const all = minutes();
    const live = new TimeframeIndicators(candles, sessionOf);
    let restarted: TimeframeIndicators | undefined;
    let closes = 0;
    for (const [i, m] of all.entries()) {
      candles.upsert("1m", [[KEY, m]]);
      // A second process starts halfway through the second day and picks the state up from SQLite.
      if (i === all.length - 200) restarted = new TimeframeIndicators(candles, sessionOf);
      const out = live.onMinute(KEY, m, rules);
      const again = restarted?.onMinute(KEY, m, rules);
      for (const [tf, u] of out) {
        closes++;
        const bars = aggregate(all.slice(0, i + 1), tf, sessionOf);
        expect(u.bar).toEqual(bars.at(-1));
        const specs =
          tf === "15m"
            ? [{ kind: "rsi" as const, period: 14 }]
            : [
                { kind: "ema" as const, period: 5 },
                { kind: "ema" as const, period: 13 },
              ];
        const full = computeFull(specs, bars);
        for (const [k, v] of Object.entries(full)) if (typeof v === "number") expect(u.values[k]).toBeCloseTo(v, 6);
        if (again) expect(again.get(tf)).toEqual(u);
      }
      // Only the timeframes asked for, and only when a bar of theirs closes.
      for (const tf of out.keys()) expect(["15m", "1h"]).toContain(tf);
    }
    // 2 sessions × (25 fifteen-minute bars + 7 hour bars).
    expect(closes).toBe(2 * (25 + 7));
  });

  it("an instrument without rules on longer bars keeps nothing", () => {
    const t = new TimeframeIndicators(candles, sessionOf);
    const [m] = minutes();
    candles.upsert("1m", [[KEY, m!]]);
    expect(t.onMinute(KEY, m!, [alertRule("rsi_below", { level: 30 })]).size).toBe(0);
    expect(t.size).toBe(0);
  });
});
