import { describe, expect, it } from "vitest";
import { istInstant, sessionOn, type SpecialSession } from "../../src/market/calendar.js";
import { seededRandom } from "../../src/market/simulator.js";
import { aggregate, BarAggregator, barSpan, TIMEFRAMES, type Bar, type SessionOf, type Timeframe } from "../../src/market/timeframes.js";
import type { MarketCandle } from "../../src/market/types.js";

const MIN = 60_000;
// Thu 31 Oct 2024: a normal session. Fri 1 Nov: Diwali, closed, with the Muhurat session
// 18:00–19:15 IST (75 minutes). Mon 4 Nov: normal. Tue 5 Nov: a holiday (for this test).
const HOLIDAYS = new Set(["2024-11-01", "2024-11-05"]);
const MUHURAT: SpecialSession = {
  date: "2024-11-01",
  start: istInstant("2024-11-01", 18 * 60).getTime(),
  end: istInstant("2024-11-01", 19 * 60 + 15).getTime(),
};
const SPECIAL = new Map([[MUHURAT.date, MUHURAT]]);
const sessionOf: SessionOf = (ts) => sessionOn(new Date(ts), HOLIDAYS, SPECIAL);

/**
 * A recorded stretch of one-minute candles over those days, as the candle store holds them:
 * every session minute except a few without trades, plus stray minutes outside any session
 * (a pre-open print, a candle dated on the holiday, one in the weekend) that must be ignored.
 */
function recordedMinutes(): MarketCandle[] {
  const rnd = seededRandom(7);
  let price = 1500;
  const out: MarketCandle[] = [];
  const minute = (ts: number) => {
    const open = price;
    price = Math.max(1, price + (rnd() - 0.5) * 4);
    const high = Math.max(open, price) + rnd();
    const low = Math.min(open, price) - rnd();
    out.push({ ts, open, high, low, close: price, volume: Math.floor(rnd() * 1000) });
  };
  const days: Array<[string, number, number]> = [
    ["2024-10-31", 9 * 60 + 15, 15 * 60 + 30],
    ["2024-11-01", 18 * 60, 19 * 60 + 15],
    ["2024-11-04", 9 * 60 + 15, 15 * 60 + 30],
  ];
  minute(istInstant("2024-10-31", 9 * 60 + 8).getTime()); // pre-open
  for (const [date, from, to] of days) {
    for (let m = from; m < to; m++) {
      // No trade in a few minutes, among them the last minute of an hour bar and of the day.
      if ([9 * 60 + 40, 10 * 60 + 14, 15 * 60 + 29, 18 * 60 + 59].includes(m) && date !== "2024-10-31") continue;
      minute(istInstant(date, m).getTime());
    }
  }
  minute(istInstant("2024-11-02", 10 * 60).getTime()); // Saturday
  minute(istInstant("2024-11-05", 10 * 60).getTime()); // the holiday
  return out.sort((a, b) => a.ts - b.ts);
}

/**
 * The reference: walks each session minute by minute from its open, counting N minutes to a
 * bar (the last bar takes what is left), and gathers the recorded candles of those minutes.
 */
function reference(minutes: readonly MarketCandle[], tf: Timeframe): Bar[] {
  const n = { "1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "1d": Infinity }[tf];
  const byTs = new Map(minutes.map((m) => [m.ts, m]));
  const sessions = ["2024-10-31", "2024-11-01", "2024-11-04"].map((d) => sessionOf(istInstant(d, 12 * 60).getTime())!);
  const bars: Bar[] = [];
  for (const s of sessions) {
    let group: MarketCandle[] = [];
    let groupStart = s.start;
    let count = 0;
    const flush = (end: number) => {
      if (group.length)
        bars.push({
          ts: groupStart,
          end,
          open: group[0]!.open,
          high: Math.max(...group.map((g) => g.high)),
          low: Math.min(...group.map((g) => g.low)),
          close: group.at(-1)!.close,
          volume: group.reduce((a, g) => a + g.volume, 0),
        });
      group = [];
    };
    for (let t = s.start; t < s.end; t += MIN) {
      if (count === n) {
        flush(t);
        groupStart = t;
        count = 0;
      }
      const m = byTs.get(t);
      if (m) group.push(m);
      count++;
    }
    flush(s.end);
  }
  return bars;
}

describe("timeframes aligned to the NSE session", () => {
  const minutes = recordedMinutes();

  it("bars start at 09:15 IST and the day's last bar is short", () => {
    const day = sessionOf(istInstant("2024-10-31", 12 * 60).getTime())!;
    const at = (hhmm: number) => istInstant("2024-10-31", hhmm).getTime();
    expect(barSpan(at(9 * 60 + 15), "15m", day)).toEqual({ start: at(9 * 60 + 15), end: at(9 * 60 + 30) });
    expect(barSpan(at(10 * 60 + 14), "1h", day)).toEqual({ start: at(9 * 60 + 15), end: at(10 * 60 + 15) });
    expect(barSpan(at(15 * 60 + 20), "1h", day)).toEqual({ start: at(15 * 60 + 15), end: at(15 * 60 + 30) });
    expect(barSpan(at(15 * 60 + 29), "30m", day)).toEqual({ start: at(15 * 60 + 15), end: at(15 * 60 + 30) });
    expect(barSpan(at(9 * 60 + 14), "5m", day)).toBeUndefined();
    expect(barSpan(at(15 * 60 + 30), "1d", day)).toBeUndefined();
    const muhurat = sessionOf(MUHURAT.start)!;
    expect(barSpan(MUHURAT.start + 70 * MIN, "1h", muhurat)).toEqual({ start: MUHURAT.start + 60 * MIN, end: MUHURAT.end });
  });

  it.each(TIMEFRAMES)("aggregate(%s) equals the reference over recorded minutes with a holiday and a short session", (tf) => {
    const bars = aggregate(minutes, tf, sessionOf);
    expect(bars).toEqual(reference(minutes, tf));
    // Nothing from the holiday, the weekend or before the open.
    for (const b of bars) expect(sessionOf(b.ts)).toBeDefined();
  });

  it("counts: 1h has 7 bars on a normal day (the last 15 minutes long) and 2 in the Muhurat session; 1d one per session", () => {
    const hours = aggregate(minutes, "1h", sessionOf);
    expect(hours.filter((b) => b.ts >= MUHURAT.start && b.ts < MUHURAT.end).map((b) => (b.end - b.ts) / MIN)).toEqual([60, 15]);
    expect(hours.filter((b) => b.ts < MUHURAT.start).map((b) => (b.end - b.ts) / MIN)).toEqual([60, 60, 60, 60, 60, 60, 15]);
    expect(aggregate(minutes, "1d", sessionOf).map((b) => (b.end - b.ts) / MIN)).toEqual([375, 75, 375]);
  });

  it("the live aggregator closes the same bars, holding one open bar per timeframe", () => {
    const tfs: Timeframe[] = ["1h", "5m", "15m", "1d"];
    const live = new BarAggregator(tfs, sessionOf);
    const closed = new Map<Timeframe, Bar[]>(tfs.map((tf) => [tf, []]));
    for (const m of minutes) {
      const out = live.push(m);
      // Shortest first, whatever order they were asked in.
      expect(out.map((c) => c.timeframe)).toEqual([...out.map((c) => c.timeframe)].sort((a, b) => TIMEFRAMES.indexOf(a) - TIMEFRAMES.indexOf(b)));
      for (const c of out) closed.get(c.timeframe)!.push(c.bar);
      for (const tf of tfs)
        if (live.current(tf) && live.current(tf)!.ts > m.ts) throw new Error(`${tf} open bar at ${live.current(tf)!.ts} after minute ${m.ts}`);
    }
    // Bars whose last minute had no trade close when their time is up.
    for (const c of live.closeDue(istInstant("2024-11-06", 0).getTime())) closed.get(c.timeframe)!.push(c.bar);
    for (const tf of tfs) expect(closed.get(tf)).toEqual(reference(minutes, tf));
  });

  it("a bar whose last minute had no trade closes with the next minute or at its end, and a late minute changes nothing", () => {
    const live = new BarAggregator(["5m"], sessionOf);
    const t0 = istInstant("2024-11-04", 9 * 60 + 15).getTime();
    const c = (ts: number, price: number): MarketCandle => ({ ts, open: price, high: price, low: price, close: price, volume: 1 });
    expect(live.push(c(t0, 100))).toEqual([]);
    expect(live.push(c(t0 + 3 * MIN, 101))).toEqual([]);
    expect(live.closeDue(t0 + 5 * MIN - 1)).toEqual([]);
    expect(live.closeDue(t0 + 5 * MIN)).toEqual([
      { timeframe: "5m", bar: { ts: t0, end: t0 + 5 * MIN, open: 100, high: 101, low: 100, close: 101, volume: 2 } },
    ]);
    expect(live.push(c(t0 + 4 * MIN, 99))).toEqual([]);
    expect(live.current("5m")).toBeUndefined();
    // The next bar's first minute closes a bar left open.
    live.push(c(t0 + 5 * MIN, 102));
    expect(live.push(c(t0 + 10 * MIN, 103))[0]!.bar).toMatchObject({ ts: t0 + 5 * MIN, close: 102 });
  });
});
