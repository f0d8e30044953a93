/** Deterministic synthetic candles and value comparison for the indicator tests. */
import { expect } from "vitest";
import { seededRandom } from "../../../src/market/simulator.js";
import type { CandleInput, IndicatorValue, IndicatorValues } from "../../../src/signals/indicators/index.js";

/** The simulator's seeded PRNG (mulberry32), uniform in [0, 1). */
export const prng = seededRandom;

export const MINUTE = 60_000;
export const SESSION = 375; // 09:15..15:29 IST one-minute candles
/** 2025-01-06 09:15 IST (03:45 UTC), a Monday. */
export const DAY0_OPEN = Date.UTC(2025, 0, 6, 3, 45, 0);

export interface GenOptions {
  seed?: number;
  start?: number;
  price?: number;
  /** Probability of a zero-volume candle. */
  zeroVolume?: number;
}

/**
 * n one-minute candles, 375 per IST trading day (09:15–15:29 IST) on consecutive
 * calendar days: a multiplicative random walk with gaps at the day open.
 */
export function genCandles(n: number, opts: GenOptions = {}): CandleInput[] {
  const rnd = prng(opts.seed ?? 1);
  const start = opts.start ?? DAY0_OPEN;
  const zero = opts.zeroVolume ?? 0.02;
  let price = opts.price ?? 1000;
  const out: CandleInput[] = [];
  for (let i = 0; i < n; i++) {
    const day = Math.floor(i / SESSION);
    const minute = i % SESSION;
    const ts = start + day * 86_400_000 + minute * MINUTE;
    if (minute === 0 && i > 0) price *= 1 + (rnd() - 0.5) * 0.02; // overnight gap
    const open = price;
    const close = open * (1 + (rnd() - 0.5) * 0.004);
    const high = Math.max(open, close) * (1 + rnd() * 0.001);
    const low = Math.min(open, close) * (1 - rnd() * 0.001);
    const volume = rnd() < zero ? 0 : Math.floor(100 + rnd() * 50_000);
    out.push({ ts, open, high, low, close, volume });
    price = close;
  }
  return out;
}

export function near(a: number, b: number, rel = 1e-9): boolean {
  return Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Compares two indicator values: both undefined, or same shape with numbers within 1e-9 (relative above 1). */
export function expectValueClose(a: IndicatorValue | undefined, b: IndicatorValue | undefined, where: string): void {
  if (a === undefined || b === undefined) {
    expect(a, where).toBe(b);
    return;
  }
  if (typeof a === "number" || typeof b === "number") {
    expect(typeof a, where).toBe("number");
    expect(typeof b, where).toBe("number");
    if (!near(a as number, b as number)) expect(a, where).toBe(b);
    return;
  }
  const ak = Object.keys(a).sort();
  const bk = Object.keys(b).sort();
  expect(ak, where).toEqual(bk);
  for (const k of ak) {
    const av = (a as Record<string, number>)[k]!;
    const bv = (b as Record<string, number>)[k]!;
    if (k === "direction") expect(av, `${where}.${k}`).toBe(bv);
    else if (!near(av, bv)) expect(av, `${where}.${k}`).toBe(bv);
  }
}

export function expectValuesClose(a: IndicatorValues, b: IndicatorValues, where: string): void {
  expect(Object.keys(a).sort(), where).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(a)) expectValueClose(a[k], b[k], `${where} ${k}`);
}
