import { describe, expect, it } from "vitest";
import { MAX_CANDLE_HISTORY_MS, MarketSimulator, SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { MarketCandle, Quote } from "../../src/market/types.js";

const KEYS = SIMULATED_INSTRUMENTS.map((i) => i.instrumentKey);
const MIN = 60_000;
const DAY = 86_400_000;
const MARKET_OPEN = Date.UTC(2025, 0, 6, 3, 45); // Monday 2025-01-06, 09:15 IST
const MIDNIGHT = Date.UTC(2025, 0, 6, 18, 30); // 2025-01-07 00:00 IST

/** A simulator on a clock the test moves by hand. */
function simulator(seed: number, start: number, opts: { volatility?: number; stepMs?: number } = {}) {
  const clock = { t: start };
  const sim = new MarketSimulator({ seed, now: () => clock.t, ...opts });
  return {
    sim,
    clock,
    set: (t: number) => {
      clock.t = t;
    },
    advance: (ms: number) => {
      clock.t += ms;
    },
    quotes: () => sim.getQuotes(KEYS),
    candles: () => sim.getLastClosedCandles(KEYS),
  };
}

const onTick = (p: number) => Math.abs(p * 20 - Math.round(p * 20)) < 1e-6 && /^\d+(\.\d{1,2})?$/.test(String(p));

function expectWellFormed(c: MarketCandle, label = "") {
  expect(c.ts % MIN, `${label} ts on a minute`).toBe(0);
  expect(c.high, label).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
  expect(c.low, label).toBeLessThanOrEqual(Math.min(c.open, c.close));
  expect(c.low, label).toBeGreaterThan(0);
  expect(c.volume, label).toBeGreaterThanOrEqual(0);
  expect(Number.isInteger(c.volume), label).toBe(true);
  for (const p of [c.open, c.high, c.low, c.close]) expect(onTick(p), `${label} ${p} on the tick`).toBe(true);
}

/** Polls the live simulator over [from, to) at the given instants and records every distinct last closed candle. */
async function collectLive(seed: number, polls: number[], opts: { stepMs?: number } = {}) {
  const s = simulator(seed, polls[0]!, opts);
  const live = new Map<string, Map<number, MarketCandle>>(KEYS.map((k) => [k, new Map()]));
  for (const t of polls) {
    s.set(t);
    const got = await s.candles();
    for (const [key, c] of got) {
      const seen = live.get(key)!;
      const before = seen.get(c.ts);
      // A closed candle never changes afterwards.
      if (before) expect(c).toEqual(before);
      seen.set(c.ts, c);
    }
  }
  return { s, live };
}

/** Counts the primitive leaves reachable from a value (Maps, arrays and objects included). */
function countLeaves(x: unknown, seen = new Set<object>()): number {
  if (x === null || (typeof x !== "object" && typeof x !== "function")) return 1;
  if (typeof x === "function") return 1;
  if (seen.has(x)) return 0;
  seen.add(x);
  let n = 0;
  if (x instanceof Map) for (const [k, v] of x) n += countLeaves(k, seen) + countLeaves(v, seen);
  else for (const v of Object.values(x)) n += countLeaves(v, seen);
  return n;
}

/** The longest array reachable from a value. */
function longestArray(x: unknown, seen = new Set<object>()): number {
  if (x === null || typeof x !== "object" || seen.has(x)) return 0;
  seen.add(x);
  let longest = Array.isArray(x) ? x.length : 0;
  const children = x instanceof Map ? [...x.values()] : Object.values(x);
  for (const v of children) longest = Math.max(longest, longestArray(v, seen));
  return longest;
}

describe("MarketSimulator as a candle source", () => {
  it("returns the bar of the minute before the current one, aligned to wall-clock minutes", async () => {
    const s = simulator(42, MARKET_OPEN + 17_300);
    for (let i = 0; i < 20; i++) {
      const now = s.clock.t;
      const current = Math.floor(now / MIN) * MIN;
      const candles = await s.candles();
      expect(candles.size).toBe(KEYS.length);
      for (const [key, c] of candles) {
        expect(c.ts % MIN).toBe(0);
        expect(c.ts, key).toBe(current - MIN);
        expectWellFormed(c, key);
      }
      s.advance(37_000 + i * 1_111);
    }
  });

  it("keeps OHLC consistent over a long run", async () => {
    const s = simulator(7, MARKET_OPEN);
    for (let i = 0; i < 600; i++) {
      s.advance(3 * MIN);
      for (const [key, c] of await s.candles()) expectWellFormed(c, key);
    }
  });

  it("aggregates exactly the prices and volume the quotes show second by second in that minute", async () => {
    // Start a little before an IST midnight so the day's first bar (which opens at the
    // session's opening price with no volume before it) is checked too.
    for (const start of [MARKET_OPEN + 59 * MIN, MIDNIGHT - 3 * MIN]) {
      const s = simulator(42, start - 1000);
      const perSecond: { t: number; q: Map<string, Quote> }[] = [];
      for (let t = start - 1000; t <= start + 5 * MIN; t += 1000) {
        s.set(t);
        perSecond.push({ t, q: await s.quotes() });
        if (t % MIN === 0 && t > start) {
          const candles = await s.candles();
          const minute = t - MIN;
          for (const key of KEYS) {
            const inMinute = perSecond.filter((p) => p.t >= minute && p.t < t).map((p) => p.q.get(key)!);
            expect(inMinute).toHaveLength(60);
            const prices = inMinute.map((q) => q.lastPrice);
            // The day's volume so far, a second before the minute began (a new day starts from zero).
            const before = perSecond.find((p) => p.t === minute - 1000)!.q.get(key)!;
            const volumeBefore = minute === MIDNIGHT ? 0 : before.volume;
            const c = candles.get(key)!;
            expect(c).toEqual({
              ts: minute,
              open: prices[0],
              high: Math.max(...prices),
              low: Math.min(...prices),
              close: prices[59],
              volume: inMinute[59]!.volume - volumeBefore,
            });
            if (minute === MIDNIGHT) {
              // The day's first bar opens at the session's opening price.
              expect(c.open).toBe(inMinute[0]!.open);
            }
          }
        }
      }
    }
  });

  it("history equals the live candles, across an IST midnight, however the live side was polled", async () => {
    const from = MIDNIGHT - 15 * MIN;
    const to = MIDNIGHT + 15 * MIN;
    // Polled once a minute at an odd second, and polled at irregular instants.
    const everyMinute = Array.from({ length: 31 }, (_, i) => from + i * MIN + 17_000);
    const irregular: number[] = [];
    for (let t = from + 1_234; t < to + MIN; t += 7_000 + ((t / 1000) % 23) * 1_000) irregular.push(t);
    for (const polls of [everyMinute, irregular]) {
      const { s, live } = await collectLive(42, polls);
      for (const key of KEYS) {
        const liveCandles = [...live.get(key)!.values()].filter((c) => c.ts >= from && c.ts < to).sort((a, b) => a.ts - b.ts);
        if (polls === everyMinute) expect(liveCandles).toHaveLength(30);
        const history = await s.sim.getCandleHistory(key, from, to);
        expect(history).toHaveLength(30);
        expect(history.map((c) => c.ts)).toEqual(Array.from({ length: 30 }, (_, i) => from + i * MIN));
        const historyByTs = new Map(history.map((c) => [c.ts, c]));
        for (const c of liveCandles) expect(historyByTs.get(c.ts), `${key} ${new Date(c.ts).toISOString()}`).toEqual(c);
      }
    }
  });

  it("history equals the live candles with steps that do not divide a minute, or are longer than one", async () => {
    for (const stepMs of [7_000, 90_000]) {
      const from = MIDNIGHT - 30 * MIN;
      const polls = Array.from({ length: 61 }, (_, i) => from + i * MIN + 5_000);
      const { s, live } = await collectLive(5, polls, { stepMs });
      for (const key of KEYS) {
        const liveCandles = [...live.get(key)!.values()].sort((a, b) => a.ts - b.ts);
        const history = await s.sim.getCandleHistory(key, from - 2 * MIN, from + 60 * MIN);
        const relevant = history.filter((c) => c.ts >= liveCandles[0]!.ts);
        expect(relevant, `${key} stepMs ${stepMs}`).toEqual(liveCandles);
        for (const c of history) expectWellFormed(c, key);
        // With one step every 90 s some minutes hold no trade and have no bar.
        if (stepMs === 90_000) expect(history.length).toBeLessThan(62);
        else expect(history).toHaveLength(62);
      }
    }
  });

  it("gives the previous day's 23:59 bar in the first minute of a day, whether or not it walked through midnight", async () => {
    const walked = simulator(42, MIDNIGHT - 10 * MIN);
    await walked.candles();
    walked.set(MIDNIGHT + 30_000);
    const viaLive = await walked.candles();
    // Started inside the first minute of the day: it never walked the previous day.
    const fresh = simulator(42, MIDNIGHT + 30_000);
    const viaReplay = await fresh.candles();
    const atMidnight = simulator(42, MIDNIGHT);
    const exactlyMidnight = await atMidnight.candles();
    // Jumped over several days into a day's first minute.
    const jumped = simulator(42, MIDNIGHT - 3 * DAY);
    jumped.set(MIDNIGHT + 59_999);
    const viaJump = await jumped.candles();
    for (const key of KEYS) {
      const [history] = await fresh.sim.getCandleHistory(key, MIDNIGHT - MIN, MIDNIGHT);
      expect(history!.ts).toBe(MIDNIGHT - MIN);
      expect(viaLive.get(key)).toEqual(history);
      expect(viaReplay.get(key)).toEqual(history);
      expect(exactlyMidnight.get(key)).toEqual(history);
      expect(viaJump.get(key)).toEqual(history);
    }
    // A minute later the day's own 00:00 bar has closed.
    fresh.set(MIDNIGHT + MIN);
    for (const c of (await fresh.candles()).values()) expect(c.ts).toBe(MIDNIGHT);
  });

  it("is deterministic across instances and differs between seeds", async () => {
    const a = simulator(42, MARKET_OPEN);
    const b = simulator(42, MARKET_OPEN);
    const c = simulator(43, MARKET_OPEN);
    for (let i = 0; i < 10; i++) {
      a.advance(MIN + 1_000);
      b.advance(MIN + 1_000);
      c.advance(MIN + 1_000);
      const ca = await a.candles();
      expect(ca).toEqual(await b.candles());
      const cc = await c.candles();
      expect(KEYS.filter((k) => ca.get(k)!.close !== cc.get(k)!.close).length).toBeGreaterThanOrEqual(KEYS.length - 1);
    }
    const from = MARKET_OPEN - 2 * 3600_000;
    const to = Math.floor(a.clock.t / MIN) * MIN; // the current minute: everything before it has closed
    const ha = await a.sim.getCandleHistory(KEYS[1]!, from, to);
    expect(ha.length).toBe(130);
    expect(await b.sim.getCandleHistory(KEYS[1]!, from, to)).toEqual(ha);
    // An instance started later, with its clock elsewhere, replays the same history.
    const later = simulator(42, MARKET_OPEN + 2 * DAY);
    expect(await later.sim.getCandleHistory(KEYS[1]!, from, to)).toEqual(ha);
    expect(await c.sim.getCandleHistory(KEYS[1]!, from, to)).not.toEqual(ha);
  });

  it("leaves unknown instrument keys out", async () => {
    const s = simulator(42, MARKET_OPEN + 5 * MIN);
    const got = await s.sim.getLastClosedCandles(["NSE_EQ|INE000000000", KEYS[0]!, "BSE_EQ|500325", ""]);
    expect([...got.keys()]).toEqual([KEYS[0]]);
    expect((await s.sim.getLastClosedCandles([])).size).toBe(0);
    expect(await s.sim.getCandleHistory("NSE_EQ|INE000000000", MARKET_OPEN - DAY, MARKET_OPEN)).toEqual([]);
    expect(await s.sim.getCandleHistory("", MARKET_OPEN - DAY, MARKET_OPEN)).toEqual([]);
  });

  it("returns only closed candles in [fromMs, toMs), oldest first", async () => {
    const now = MARKET_OPEN + 10 * MIN + 20_000;
    const s = simulator(42, now);
    // `toMs` in the future: only bars that have closed by now.
    const h = await s.sim.getCandleHistory(KEYS[0]!, MARKET_OPEN, now + 3600_000);
    expect(h.map((c) => c.ts)).toEqual(Array.from({ length: 10 }, (_, i) => MARKET_OPEN + i * MIN));
    const last = (await s.candles()).get(KEYS[0]!);
    expect(h[h.length - 1]).toEqual(last);
    // Bounds that are not on a minute: a bar is in when its start is in [from, to).
    const mid = await s.sim.getCandleHistory(KEYS[0]!, MARKET_OPEN + 30_000, MARKET_OPEN + 3 * MIN + 1);
    expect(mid.map((c) => c.ts)).toEqual([MARKET_OPEN + MIN, MARKET_OPEN + 2 * MIN, MARKET_OPEN + 3 * MIN]);
    expect(await s.sim.getCandleHistory(KEYS[0]!, MARKET_OPEN, MARKET_OPEN)).toEqual([]);
    expect(await s.sim.getCandleHistory(KEYS[0]!, MARKET_OPEN + MIN, MARKET_OPEN)).toEqual([]);
    expect(await s.sim.getCandleHistory(KEYS[0]!, now + MIN, now + 2 * MIN)).toEqual([]);
  });

  it("covers every minute of a multi-day span and caps the span", async () => {
    const now = MARKET_OPEN;
    const s = simulator(42, now);
    const twoDays = await s.sim.getCandleHistory(KEYS[5]!, now - 2 * DAY, now);
    expect(twoDays).toHaveLength(2 * 1440);
    twoDays.forEach((c, i) => {
      expect(c.ts).toBe(now - 2 * DAY + i * MIN);
      if (i % 97 === 0) expectWellFormed(c);
    });
    expect(MAX_CANDLE_HISTORY_MS).toBe(10 * DAY);
    await expect(s.sim.getCandleHistory(KEYS[0]!, now - 10 * DAY - MIN, now)).rejects.toThrow(/at most 10 days/);
    await expect(s.sim.getCandleHistory(KEYS[0]!, Number.NaN, now)).rejects.toThrow(/finite/);
    // The cap applies to the span actually replayed: a `toMs` far in the future is clamped to now.
    expect(await s.sim.getCandleHistory(KEYS[0]!, now - 30 * MIN, now + 30 * DAY)).toHaveLength(30);
  });

  it("replays five days of history, one candle per minute", async () => {
    const now = MARKET_OPEN + 4 * DAY;
    const s = simulator(42, now);
    const h = await s.sim.getCandleHistory(KEYS[0]!, now - 5 * DAY, now);
    expect(h).toHaveLength(5 * 1440);
    for (let i = 1; i < h.length; i++) expect(h[i]!.ts - h[i - 1]!.ts).toBe(MIN);
  });

  it("with atLeast, walks back only as many days as it takes: the newest candles, equal to the full replay's", async () => {
    const now = MARKET_OPEN + 4 * DAY;
    const s = simulator(42, now);
    const full = await s.sim.getCandleHistory(KEYS[2]!, now - 5 * DAY, now);
    // 09:15 IST: today holds 555 closed candles, so 100 need today alone and 600 yesterday too.
    const today = await s.sim.getCandleHistory(KEYS[2]!, now - 5 * DAY, now, { atLeast: 100 });
    expect(today).toHaveLength(555);
    expect(today).toEqual(full.slice(-555));
    const twoDays = await s.sim.getCandleHistory(KEYS[2]!, now - 5 * DAY, now, { atLeast: 600 });
    expect(twoDays).toEqual(full.slice(-(555 + 1440)));
    // More than the span holds: the whole span.
    expect(await s.sim.getCandleHistory(KEYS[2]!, now - 5 * DAY, now, { atLeast: 100_000 })).toEqual(full);
  });

  it("does not disturb the live walk when replaying history", async () => {
    const a = simulator(42, MARKET_OPEN);
    const b = simulator(42, MARKET_OPEN);
    for (let i = 0; i < 5; i++) {
      a.advance(MIN + 13_000);
      b.advance(MIN + 13_000);
      await a.sim.getCandleHistory(KEYS[i]!, a.clock.t - DAY, a.clock.t);
      expect(await a.quotes()).toEqual(await b.quotes());
      expect(await a.candles()).toEqual(await b.candles());
    }
  });

  it("keeps its internal state bounded as time goes by", async () => {
    const s = simulator(42, MARKET_OPEN + 10 * MIN + 30_000);
    await s.candles();
    const early = countLeaves(s.sim);
    for (let i = 0; i < 2 * 24 * 6; i++) {
      s.advance(10 * MIN);
      await s.candles();
    }
    await s.sim.getCandleHistory(KEYS[0]!, s.clock.t - DAY, s.clock.t);
    expect(countLeaves(s.sim)).toBe(early);
    expect(longestArray(s.sim)).toBeLessThanOrEqual(KEYS.length);
  });

  it("returns copies: changing a returned candle does not change the simulator", async () => {
    const s = simulator(42, MARKET_OPEN + 5 * MIN);
    const first = (await s.candles()).get(KEYS[0]!)!;
    const copy = { ...first };
    first.close = 1;
    first.volume = -1;
    expect((await s.candles()).get(KEYS[0]!)).toEqual(copy);
  });
});
