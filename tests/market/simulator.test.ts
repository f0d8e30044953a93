import { describe, expect, it } from "vitest";
import { MarketSimulator, SIMULATED_INSTRUMENTS, SIMULATED_SYMBOLS, seededRandom } from "../../src/market/simulator.js";
import type { Quote } from "../../src/market/types.js";

const KEYS = SIMULATED_INSTRUMENTS.map((i) => i.instrumentKey);
const START = Date.UTC(2025, 0, 6, 3, 45); // a Monday, 09:15 IST

/** A simulator on a clock the test moves by hand. */
function simulator(seed: number, opts: { volatility?: number; stepMs?: number } = {}) {
  let t = START;
  const sim = new MarketSimulator({ seed, now: () => t, ...opts });
  return {
    sim,
    advance: (ms: number) => {
      t += ms;
    },
    quotes: () => sim.getQuotes(KEYS),
  };
}

/** True when a rupee price sits on the NSE 0.05 tick and is written in whole paise (no float noise). */
const onTick = (p: number) => Math.abs(p * 20 - Math.round(p * 20)) < 1e-6 && /^\d+(\.\d{1,2})?$/.test(String(p));

const plain = (m: Map<string, Quote>) => Object.fromEntries(m);

describe("seededRandom", () => {
  it("is deterministic per seed and stays in [0, 1)", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // Roughly uniform: the mean of 1000 draws is near one half.
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe("MarketSimulator", () => {
  it("gives identical quotes for the same seed and the same clock", async () => {
    const a = simulator(42);
    const b = simulator(42);
    for (const step of [0, 1000, 15_000, 60_000, 3_600_000]) {
      a.advance(step);
      b.advance(step);
      expect(plain(await a.quotes())).toEqual(plain(await b.quotes()));
    }
  });

  it("does not depend on how often it is asked: one big jump equals many small ones", async () => {
    const a = simulator(42);
    const b = simulator(42);
    for (let i = 0; i < 60; i++) {
      a.advance(5000);
      await a.quotes();
    }
    b.advance(300_000);
    expect(plain(await b.quotes())).toEqual(plain(await a.quotes()));
  });

  it("gives the same price for a symbol whichever keys are requested", async () => {
    const a = simulator(42);
    const b = simulator(42);
    a.advance(120_000);
    b.advance(120_000);
    const all = await a.quotes();
    const one = await b.sim.getQuotes([KEYS[2]!]);
    expect(one.get(KEYS[2]!)).toEqual(all.get(KEYS[2]!));
  });

  it("gives different prices for a different seed", async () => {
    const a = simulator(42);
    const b = simulator(43);
    a.advance(60_000);
    b.advance(60_000);
    const qa = await a.quotes();
    const qb = await b.quotes();
    const differing = KEYS.filter((k) => qa.get(k)!.lastPrice !== qb.get(k)!.lastPrice);
    expect(differing.length).toBeGreaterThanOrEqual(KEYS.length - 1);
  });

  it("does not move when the clock does not", async () => {
    const s = simulator(1);
    s.advance(10_000);
    const first = plain(await s.quotes());
    expect(plain(await s.quotes())).toEqual(first);
    s.advance(999); // less than one step
    expect(plain(await s.quotes())).toEqual(first);
  });

  it("opens every symbol on a clean tick price, for many seeds", async () => {
    for (let seed = 0; seed < 50; seed++) {
      const q = await simulator(seed).quotes();
      for (const quote of q.values()) expect(onTick(quote.open), `seed ${seed} ${quote.symbol} open ${quote.open}`).toBe(true);
    }
  });

  it("leaves unknown instrument keys out of the result", async () => {
    const s = simulator(42);
    const q = await s.sim.getQuotes(["NSE_EQ|INE000000000", KEYS[0]!, "BSE_EQ|500325", ""]);
    expect([...q.keys()]).toEqual([KEYS[0]]);
    expect((await s.sim.getQuotes([])).size).toBe(0);
  });

  it("describes each symbol with its instrument key, symbol and previous close", async () => {
    const s = simulator(42);
    const q = await s.quotes();
    expect(q.size).toBe(SIMULATED_SYMBOLS.length);
    for (const info of SIMULATED_SYMBOLS) {
      const quote = q.get(`NSE_EQ|${info.isin}`)!;
      expect(quote.instrumentKey).toBe(`NSE_EQ|${info.isin}`);
      expect(quote.symbol).toBe(info.symbol);
      expect(quote.prevClose).toBe(info.prevClose);
      // The session opens near the previous close.
      expect(Math.abs(quote.open / info.prevClose - 1)).toBeLessThan(0.03);
    }
    expect(SIMULATED_INSTRUMENTS.find((i) => i.tradingSymbol === "RELIANCE")?.instrumentKey).toBe("NSE_EQ|INE002A01018");
  });

  it("stays realistic over a simulated trading week of 1-second steps", async () => {
    const s = simulator(42, { stepMs: 1000 });
    const weekMs = 5 * 6.25 * 3600_000;
    const sampleEvery = 60_000;
    let lastVolume = new Map<string, number>();
    let lastTradeAt = START;
    for (let elapsed = 0; elapsed < weekMs; elapsed += sampleEvery) {
      s.advance(sampleEvery);
      const quotes = await s.quotes();
      const prevTradeAt = lastTradeAt;
      expect(quotes.size).toBe(KEYS.length);
      for (const q of quotes.values()) {
        for (const p of [q.lastPrice, q.open, q.high, q.low]) {
          expect(p).toBeGreaterThan(0);
          expect(onTick(p), `${q.symbol} price ${p} is on the 0.05 tick`).toBe(true);
        }
        expect(Math.abs(q.lastPrice / q.prevClose - 1), `${q.symbol} at ${q.lastPrice}`).toBeLessThan(0.1);
        expect(q.high).toBeGreaterThanOrEqual(q.lastPrice);
        expect(q.lastPrice).toBeGreaterThanOrEqual(q.low);
        expect(q.high).toBeGreaterThanOrEqual(q.open);
        expect(q.open).toBeGreaterThanOrEqual(q.low);
        // Volume only grows within a day; each IST day is a new session that starts from zero.
        const sameDay = new Date(q.lastTradeAt + 330 * 60_000).toISOString().slice(0, 10) === new Date(prevTradeAt + 330 * 60_000).toISOString().slice(0, 10);
        if (sameDay) expect(q.volume).toBeGreaterThan(lastVolume.get(q.instrumentKey) ?? 0);
        lastTradeAt = q.lastTradeAt;
      }
      lastVolume = new Map([...quotes.values()].map((q) => [q.instrumentKey, q.volume]));
    }
    expect(lastTradeAt).toBe(START + weekMs);
  });

  it("gives two simulators started at different times the same price at the same moment", async () => {
    let t = START;
    const early = new MarketSimulator({ seed: 7, now: () => t });
    await early.getQuotes(KEYS);
    t += 3 * 3600_000;
    const late = new MarketSimulator({ seed: 7, now: () => t });
    expect(await late.getQuotes(KEYS)).toEqual(await early.getQuotes(KEYS));
  });

  it("actually moves: prices change step to step and spread out over a day", async () => {
    const s = simulator(42);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      s.advance(60_000);
      seen.add((await s.quotes()).get(KEYS[0]!)!.lastPrice);
    }
    expect(seen.size).toBeGreaterThan(20);
    const q = (await s.quotes()).get(KEYS[0]!)!;
    expect(q.high).toBeGreaterThan(q.low);
  });
});
