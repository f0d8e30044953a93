/**
 * Indicators on the production path, and the peer comparison.
 *
 * 1. One closed candle for 2,000 instruments through `IndicatorEngine.onCandle` as the candle
 *    job calls it: the engine backed by a real CandleRepository on a temp SQLite file holding
 *    400 one-minute candles of history per instrument, every default indicator plus what
 *    typical candle rules read (RSI below 30, EMA 9/21 crossing, MACD crossing, Bollinger
 *    break, volume spike), each instrument's rules as one list (as the rule book hands them
 *    out). The first candle after a start rebuilds every state from SQLite (context); then
 *    each minute's candle is stored (not timed) and fed to all 2,000 (timed): median and
 *    max of the reps against the goal.
 * 2. The peer in the same run: our streaming step for RSI 14, EMA 20, SMA 50, MACD 12/26/9
 *    and BB 20/2 against trading-signals (a dev dependency, never imported by src/)
 *    streaming the same five, and technicalindicators' own streaming instances (what we
 *    used before), as context.
 * 3. Streaming against a full recompute over 500 candles (context).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { BollingerBands as TiBollinger, EMA as TiEMA, MACD as TiMACD, RSI as TiRSI, SMA as TiSMA } from "technicalindicators";
import { BollingerBands, EMA, MACD, RSI, SMA } from "trading-signals";
import { openDatabase } from "../src/db/open.js";
import { CandleRepository } from "../src/db/repositories/candles.js";
import { seededRandom } from "../src/market/simulator.js";
import { IndicatorEngine } from "../src/signals/indicator-engine.js";
import { InstrumentIndicators, computeFull, type CandleInput, type IndicatorSpec } from "../src/signals/indicators/index.js";
import { initialRuleState, type AlertRule, type RuleKind } from "../src/signals/rules.js";
import { type BenchResult, percentile } from "./report.js";

const INSTRUMENTS = 2_000;
/** Stored history per instrument: more than the 375 candles the defaults need (VWAP: a session). */
const HISTORY = 400;
const CANDLE_REPS = 15;
const PEER_HISTORY = 500;
const PEER_REPS = 9;
const FULL_BUDGET_MS = 4_000;
const SESSION = 375;
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

/** Candle `index` of a one-minute series (375 a day, 09:15 onwards), a random walk from `price`. */
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

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

let ruleId = 1;
function rule(instrumentKey: string, kind: RuleKind, params: AlertRule["params"]): AlertRule {
  return {
    id: ruleId++,
    userId: 1 + (ruleId % 500),
    instrumentKey,
    kind,
    params,
    frequency: "every",
    cooldownSeconds: 60,
    expiresAt: null,
    lastFiredAt: null,
    fireCount: 0,
    state: initialRuleState(),
  };
}

/** 25 rules an instrument (50,000 over 2,000): 20 price rules and the five typical candle rules. */
function rulesFor(key: string, price: number): AlertRule[] {
  const out: AlertRule[] = [];
  for (let i = 0; i < 20; i++) out.push(rule(key, i % 2 ? "price_above" : "price_below", { level: price * (0.97 + i * 0.003) }));
  out.push(
    rule(key, "rsi_below", { level: 30 }),
    rule(key, "ma_cross_up", { ma: "ema", fast: 9, slow: 21 }),
    rule(key, "macd_cross_up", {}),
    rule(key, "bb_break_up", {}),
    rule(key, "volume_spike", { multiple: 3 }),
  );
  return out;
}

/** Part 1: the production path, IndicatorEngine.onCandle over a real candle store. */
function benchOnCandle(): BenchResult[] {
  const dir = mkdtempSync(path.join(tmpdir(), "uab-bench-ind-"));
  const db = openDatabase(path.join(dir, "candles.sqlite"));
  try {
    const store = new CandleRepository(db);
    const rnd = seededRandom(99);
    const keys = Array.from({ length: INSTRUMENTS }, (_, i) => `NSE_EQ|INEBENCH${String(i).padStart(4, "0")}`);
    const candles = keys.map(() => series(rnd, HISTORY + 1 + CANDLE_REPS, 50 + rnd() * 3_000));
    const rules = keys.map((k, i) => rulesFor(k, candles[i]![HISTORY]!.close));
    const rows: (readonly [string, CandleInput])[] = [];
    for (let i = 0; i < INSTRUMENTS; i++) for (let j = 0; j < HISTORY; j++) rows.push([keys[i]!, candles[i]![j]!]);
    store.upsert("1m", rows);
    rows.length = 0;
    const engine = new IndicatorEngine(store);
    gc();

    // One minute: the job stores the minute's candles, then feeds each instrument its own.
    const minute = (index: number): number => {
      store.upsert(
        "1m",
        keys.map((k, i) => [k, candles[i]![index]!] as const),
      );
      const t = performance.now();
      for (let i = 0; i < INSTRUMENTS; i++) engine.onCandle(keys[i]!, candles[i]![index]!, rules[i]!);
      return performance.now() - t;
    };
    const rebuildMs = minute(HISTORY);
    const times: number[] = [];
    for (let r = 1; r <= CANDLE_REPS; r++) times.push(minute(HISTORY + r));
    const indicators = engine.profile(rules[0]!).specs.length;
    const label = `2,000 instruments, ${indicators} indicators each (9 defaults + EMA 9/21 of the candle rules), 25 rules each`;
    return [
      { name: `onCandle, one closed candle × ${label}: median of ${CANDLE_REPS}`, value: round(percentile(times, 50)), unit: "ms", goal: 50, better: "lower" },
      { name: `onCandle, the same: max of ${CANDLE_REPS}`, value: round(Math.max(...times)), unit: "ms", goal: 50, better: "lower" },
      {
        name: `onCandle, the first candle after a start (every state rebuilt from ${HISTORY} stored candles)`,
        value: round(rebuildMs),
        unit: "ms",
        better: "lower",
      },
    ];
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Stepper {
  name: string;
  make(): (c: CandleInput) => void;
}

const STEPPERS: Stepper[] = [
  {
    name: "ours",
    make: () => {
      const ind = new InstrumentIndicators(FIVE_SPECS);
      return (c) => void ind.next(c);
    },
  },
  {
    name: "trading-signals",
    make: () => {
      const rsi = new RSI(14);
      const ema = new EMA(20);
      const sma = new SMA(50);
      const macd = new MACD(new EMA(12), new EMA(26), new EMA(9));
      const bb = new BollingerBands(20, 2);
      return (c) => {
        rsi.add(c.close);
        ema.add(c.close);
        sma.add(c.close);
        macd.add(c.close);
        bb.add(c.close);
      };
    },
  },
  {
    name: "technicalindicators",
    make: () => {
      const rsi = new TiRSI({ period: 14, values: [] });
      const ema = new TiEMA({ period: 20, values: [] });
      const sma = new TiSMA({ period: 50, values: [] });
      const macd = new TiMACD({ values: [], fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false });
      const bb = new TiBollinger({ period: 20, stdDev: 2, values: [] });
      return (c) => {
        rsi.nextValue(c.close);
        ema.nextValue(c.close);
        sma.nextValue(c.close);
        macd.nextValue(c.close);
        bb.nextValue(c.close);
      };
    },
  },
];

/** Part 2 and 3: one candle × 2,000 instruments for the five indicators, ours against the peers and a full recompute. */
function benchPeers(): BenchResult[] {
  const rnd = seededRandom(7);
  const candles = Array.from({ length: INSTRUMENTS }, () => series(rnd, PEER_HISTORY + PEER_REPS, 50 + rnd() * 3_000));
  const median: Record<string, number> = {};
  for (const s of STEPPERS) {
    const steps = candles.map((cs) => {
      const step = s.make();
      for (let j = 0; j < PEER_HISTORY; j++) step(cs[j]!);
      return step;
    });
    gc();
    const times: number[] = [];
    for (let r = 0; r < PEER_REPS; r++) {
      const t = performance.now();
      for (let i = 0; i < INSTRUMENTS; i++) steps[i]!(candles[i]![PEER_HISTORY + r]!);
      times.push(performance.now() - t);
    }
    median[s.name] = percentile(times, 50);
  }
  gc();

  // A full recompute of the same candle over the last 500, for as many instruments as the budget allows.
  const windows = candles.map((cs) => cs.slice(1, PEER_HISTORY + 1));
  let done = 0;
  const t = performance.now();
  while (done < INSTRUMENTS && (done < 50 || performance.now() - t < FULL_BUDGET_MS)) computeFull(FIVE_SPECS, windows[done++]!);
  const fullMs = ((performance.now() - t) * INSTRUMENTS) / done;
  const how = done === INSTRUMENTS ? "all 2,000" : `${done} of 2,000 timed, scaled`;

  const five = "RSI 14, EMA 20, SMA 50, MACD 12/26/9, BB 20/2";
  const ours = median.ours!;
  const theirs = median["trading-signals"]!;
  return [
    {
      name: `peer: ours / trading-signals, one candle × 2,000 instruments, ${five} (median of ${PEER_REPS})`,
      value: round(ours / theirs),
      unit: "×",
      better: "lower",
    },
    { name: "peer: ours, the same five", value: round(ours), unit: "ms", better: "lower" },
    { name: "peer: trading-signals, the same five", value: round(theirs), unit: "ms", better: "lower" },
    {
      name: "peer: technicalindicators' streaming instances (used before), the same five",
      value: round(median.technicalindicators!),
      unit: "ms",
      better: "lower",
    },
    { name: `full recompute over 500 candles, the same five (${how})`, value: round(fullMs, 1), unit: "ms", better: "lower" },
  ];
}

export async function benchIndicators(): Promise<BenchResult[]> {
  const onCandle = benchOnCandle();
  gc();
  await new Promise<void>((resolve) => setImmediate(resolve));
  return [...onCandle, ...benchPeers()];
}
