import { describe, expect, it } from "vitest";
import { CandleRing, DEFAULT_SPECS, InstrumentIndicators, RollingWindow, computeFull, type CandleInput } from "../../../src/signals/indicators/index.js";
import { expectValuesClose, genCandles } from "./helpers.js";

describe("memory stays bounded", () => {
  it("after 100,000 next calls the ring and indicator buffers have the sizes they had after 1,000", () => {
    const candles = genCandles(100_000, { seed: 61 });
    const ind = new InstrumentIndicators(DEFAULT_SPECS);
    const explicit = new InstrumentIndicators(DEFAULT_SPECS, { window: 10 });
    let at1k: ReturnType<InstrumentIndicators["debugSizes"]> | undefined;
    for (let i = 0; i < candles.length; i++) {
      ind.next(candles[i]!);
      explicit.next(candles[i]!);
      if (i === 999) at1k = ind.debugSizes();
    }
    const end = ind.debugSizes();
    expect(end).toEqual(at1k);
    expect(end).toEqual({
      window: 750,
      ringLength: 750,
      ringCapacity: 750,
      stateNumbers: 50 + 20 + 20 + 4 + 3, // sma:50, bb:20, volume_sma:20, supertrend, vwap
      states: 9,
      valueKeys: 9,
      previousKeys: 9,
    });
    expect(explicit.debugSizes()).toMatchObject({ window: 10, ringLength: 10, ringCapacity: 10 });
    expect(ind.count).toBe(100_000);
    expect(ind.windowCandles()).toEqual(candles.slice(-750));
    // still exact after 100,000 updates (the window size does not affect streaming values)
    const full = computeFull(DEFAULT_SPECS, candles);
    expectValuesClose(ind.values(), full, "after 100k");
    expectValuesClose(explicit.values(), full, "after 100k, window 10");
  });
});

describe("RollingWindow", () => {
  it("keeps an exact mean over a long stream of large, noisy values", () => {
    const w = new RollingWindow(50);
    const recent: number[] = [];
    let x = 1e6;
    let s = 12345;
    for (let i = 0; i < 300_000; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      x = 1e6 + (s / 2147483648 - 0.5) * 1e4 + (i % 7) * 1e-7;
      w.push(x);
      recent.push(x);
      if (recent.length > 50) recent.shift();
      if (i < 49) expect(w.mean()).toBeUndefined();
      if (i % 9973 === 0 && i >= 49) {
        const exact = recent.reduce((a, b) => a + b, 0) / 50;
        expect(Math.abs(w.mean()! - exact) / exact).toBeLessThan(1e-14);
      }
    }
    expect(w.buf.length).toBe(50);
  });
});

describe("CandleRing", () => {
  const c = (i: number): CandleInput => ({ ts: i, open: i + 0.1, high: i + 0.2, low: i + 0.3, close: i + 0.4, volume: i * 10 });

  it("keeps the last `window` candles in order and grows its storage only up to the window", () => {
    const r = new CandleRing(200);
    expect(r.capacity).toBe(64);
    for (let i = 0; i < 100; i++) r.push(c(i));
    expect(r.capacity).toBe(128);
    expect(r.toArray()).toEqual(Array.from({ length: 100 }, (_, i) => c(i)));
    for (let i = 100; i < 1000; i++) r.push(c(i));
    expect(r.capacity).toBe(200);
    expect(r.length).toBe(200);
    expect(r.toArray()).toEqual(Array.from({ length: 200 }, (_, i) => c(800 + i)));
    expect(r.get(0)).toEqual(c(800));
    expect(() => r.get(200)).toThrow(RangeError);
    r.grow(300);
    expect(r.window).toBe(300);
    for (let i = 1000; i < 1050; i++) r.push(c(i));
    expect(r.length).toBe(250);
    expect(r.toArray()).toEqual(Array.from({ length: 250 }, (_, i) => c(800 + i)));
  });

  it("wraps a small window", () => {
    const r = new CandleRing(3);
    for (let i = 0; i < 10; i++) r.push(c(i));
    expect(r.toArray()).toEqual([c(7), c(8), c(9)]);
    expect(r.capacity).toBe(3);
  });
});
