import { describe, expect, it } from "vitest";
import { DEFAULT_SPECS, InstrumentIndicators, RollingWindow, computeFull } from "../../../src/signals/indicators/index.js";
import { expectValuesClose, genCandles } from "./helpers.js";

describe("memory stays bounded", () => {
  it("after 100,000 next calls the indicator buffers have the sizes they had after 1,000 (no candles kept)", () => {
    const candles = genCandles(100_000, { seed: 61 });
    const ind = new InstrumentIndicators(DEFAULT_SPECS);
    let at1k: ReturnType<InstrumentIndicators["debugSizes"]> | undefined;
    for (let i = 0; i < candles.length; i++) {
      ind.next(candles[i]!);
      if (i === 999) at1k = ind.debugSizes();
    }
    const end = ind.debugSizes();
    expect(end).toEqual(at1k);
    expect(end).toEqual({
      stateNumbers: 50 + 20 + 20 + 4 + 3, // sma:50, bb:20, volume_sma:20, supertrend, vwap
      states: 9,
      valueKeys: 9,
      previousKeys: 9,
    });
    expect(ind.count).toBe(100_000);
    // still exact after 100,000 updates
    expectValuesClose(ind.values(), computeFull(DEFAULT_SPECS, candles), "after 100k");
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
