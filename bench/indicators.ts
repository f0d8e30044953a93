/**
 * Streaming indicators vs full recompute, and memory over a simulated trading week
 * (see /work/shared/PERFORMANCE.md for the figures this reproduces).
 *
 * 1. One new one-minute candle for 2,000 instruments holding 500 candles each, five
 *    indicators (RSI 14, EMA 20, SMA 50, MACD 12/26/9, BB 20/2): streaming `next`
 *    (median of several reps) against `computeFull` over the last 500 candles of every
 *    instrument (all 2,000 once, or a sample scaled up if it runs past a time budget:
 *    the name says so).
 * 2. RSS and heap (V8 heap used + ArrayBuffers) after 5 days × 375 one-minute candles for 2,000 instruments with
 *    DEFAULT_SPECS (9 indicators), and the heap growth from the end of day 1 (and of
 *    day 2, when the candle rings have reached their window) to the end of day 5.
 *    The week runs first, so its RSS is not inflated by part 1's candle arrays.
 */
import { seededRandom } from "../src/market/simulator.js";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DEFAULT_SPECS, InstrumentIndicators, computeFull, type CandleInput, type IndicatorSpec } from "../src/signals/indicators/index.js";
import { type BenchResult, percentile } from "./report.js";

const INSTRUMENTS = 2_000;
const HISTORY = 500;
const STREAM_REPS = 7;
const DAYS = 5;
const SESSION = 375;
const FULL_BUDGET_MS = 12_000;
const MB = 1024 * 1024;
/** 2025-01-06 09:15 IST, a Monday. */
const OPEN0 = Date.UTC(2025, 0, 6, 3, 45);
const DAY_MS = 86_400_000;
const MINUTE = 60_000;

export const FIVE_SPECS: IndicatorSpec[] = [
  { kind: "rsi", period: 14 },
  { kind: "ema", period: 20 },
  { kind: "sma", period: 50 },
  { kind: "macd", fast: 12, slow: 26, signal: 9 },
  { kind: "bb", period: 20, stdDev: 2 },
];

const prng = seededRandom;

/** Candle `index` of a continuous one-minute series (375 a day), random walk from `price`. */
function candle(rnd: () => number, index: number, price: number): CandleInput {
  const ts = OPEN0 + Math.floor(index / SESSION) * DAY_MS + (index % SESSION) * MINUTE;
  const close = price * (1 + (rnd() - 0.5) * 0.004);
  return {
    ts,
    open: price,
    high: Math.max(price, close) * (1 + rnd() * 0.001),
    low: Math.min(price, close) * (1 - rnd() * 0.001),
    close,
    volume: Math.floor(100 + rnd() * 50_000),
  };
}

function series(rnd: () => number, n: number, price: number): CandleInput[] {
  const out: CandleInput[] = [];
  for (let i = 0; i < n; i++) {
    const c = candle(rnd, i, price);
    out.push(c);
    price = c.close;
  }
  return out;
}

function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: unknown }).gc;
  if (typeof g === "function") return g as () => void;
  try {
    setFlagsFromString("--expose-gc");
    const f: unknown = runInNewContext("gc");
    if (typeof f === "function") return f as () => void;
  } catch {
    // not available: figures are then taken without a forced collection
  }
  return undefined;
}

function settle(gc: (() => void) | undefined): void {
  if (!gc) return;
  gc();
  gc();
}

/** V8 heap in use plus ArrayBuffer memory (the candle rings and SMA/BB windows are Float64Arrays, held outside the V8 heap). */
function heapAndBuffers(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

async function yieldToLoop(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Part 2: a simulated trading week for 2,000 instruments with DEFAULT_SPECS. */
async function benchWeek(gc: (() => void) | undefined): Promise<BenchResult[]> {
  const gcNote = gc ? "after gc" : "no gc available";
  settle(gc);
  const rnd = prng(2024);
  const price = new Float64Array(INSTRUMENTS);
  const inst: InstrumentIndicators[] = [];
  for (let i = 0; i < INSTRUMENTS; i++) {
    price[i] = 50 + rnd() * 3_000;
    inst.push(new InstrumentIndicators(DEFAULT_SPECS));
  }
  const heapAtDayEnd: number[] = [];
  const t0 = performance.now();
  for (let day = 0; day < DAYS; day++) {
    for (let m = 0; m < SESSION; m++) {
      const index = day * SESSION + m;
      for (let i = 0; i < INSTRUMENTS; i++) {
        const c = candle(rnd, index, price[i]!);
        price[i] = c.close;
        inst[i]!.next(c);
      }
    }
    await yieldToLoop();
    settle(gc);
    heapAtDayEnd.push(heapAndBuffers());
  }
  const weekMs = performance.now() - t0;
  const mem = process.memoryUsage();
  const heapMb = heapAndBuffers() / MB;
  const perNextUs = (weekMs * 1000) / (INSTRUMENTS * DAYS * SESSION);
  const ring = inst[0]!.debugSizes();
  const growth1 = (heapAtDayEnd[DAYS - 1]! - heapAtDayEnd[0]!) / MB;
  const growth2 = (heapAtDayEnd[DAYS - 1]! - heapAtDayEnd[1]!) / MB;
  const label = `2,000 instruments × ${DAYS} days × ${SESSION} candles, ${DEFAULT_SPECS.length} default indicators`;
  const results: BenchResult[] = [
    {
      name: `indicators: RSS after a simulated week (${label}; ${gcNote}; ${round(perNextUs)} µs per next)`,
      value: round(mem.rss / MB),
      unit: "MB",
      limit: 1024,
      ratio: round(mem.rss / MB / 1024, 3),
      target: "<= 1.00",
    },
    {
      name: `indicators: heap used + ArrayBuffers after the simulated week (${gcNote}; ring window ${ring.window} candles)`,
      value: round(heapMb),
      unit: "MB",
      limit: 1024,
      ratio: round(heapMb / 1024, 3),
      target: "<= 1.00",
    },
    {
      name: `indicators: heap + ArrayBuffers growth day 1 end -> day 5 end (includes the candle rings filling to ${ring.window} on day 2)`,
      value: round(growth1),
      unit: "MB",
      limit: 50,
      ratio: round(growth1 / 50, 3),
      target: "<= 1.00",
    },
    {
      name: "indicators: heap + ArrayBuffers growth day 2 end -> day 5 end (steady state: should be ~0)",
      value: round(growth2),
      unit: "MB",
      limit: 50,
      ratio: round(growth2 / 50, 3),
      target: "<= 1.00",
    },
  ];
  inst.length = 0;
  return results;
}

/** Part 1: one new candle for 2,000 instruments, streaming vs full recompute. */
async function benchOneCandle(gc: (() => void) | undefined): Promise<BenchResult[]> {
  const rnd = prng(99);
  const candles: CandleInput[][] = [];
  for (let i = 0; i < INSTRUMENTS; i++) candles.push(series(rnd, HISTORY + STREAM_REPS, 50 + rnd() * 3_000));
  const inst = candles.map((cs) => InstrumentIndicators.fromCandles(FIVE_SPECS, cs.slice(0, HISTORY)));
  await yieldToLoop();
  settle(gc);

  const streamMs: number[] = [];
  for (let r = 0; r < STREAM_REPS; r++) {
    const t = performance.now();
    for (let i = 0; i < INSTRUMENTS; i++) inst[i]!.next(candles[i]![HISTORY + r]!);
    streamMs.push(performance.now() - t);
  }
  const stream = percentile(streamMs, 50);

  // full recompute of the same new candle (index HISTORY) over the last 500 candles
  const windows = candles.map((cs) => cs.slice(1, HISTORY + 1));
  settle(gc);
  let done = 0;
  const t = performance.now();
  while (done < INSTRUMENTS && (done < 50 || performance.now() - t < FULL_BUDGET_MS)) {
    computeFull(FIVE_SPECS, windows[done]!);
    done++;
  }
  const fullMs = ((performance.now() - t) * INSTRUMENTS) / done;
  const how = done === INSTRUMENTS ? "all 2,000 once" : `${done} of 2,000 timed, scaled ×${round(INSTRUMENTS / done)}`;
  return [
    {
      name: `indicators: one candle × 2,000 instruments, streaming next (5 indicators, median of ${STREAM_REPS}) vs full recompute over 500 candles (${how})`,
      value: round(stream),
      unit: "ms",
      limit: round(fullMs, 1),
      ratio: round(stream / fullMs, 4),
      target: "<= 0.05",
    },
  ];
}

export async function benchIndicators(): Promise<BenchResult[]> {
  const gc = findGc();
  const week = await benchWeek(gc);
  settle(gc);
  const oneCandle = await benchOneCandle(gc);
  return [...oneCandle, ...week];
}
