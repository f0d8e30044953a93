import { describe, expect, it } from "vitest";
import { ATR, BollingerBands, EMA, MACD, RSI, SMA } from "technicalindicators";
import { computeFull, specKey, type CandleInput, type IndicatorSpec, type SupertrendValue } from "../../../src/signals/indicators/index.js";
import { expectValueClose, genCandles } from "./helpers.js";

const CANDLES = genCandles(2000, { seed: 7 });
const CHECKPOINTS = [0, 1, 2, 10, 11, 12, 15, 16, 20, 30, 35, 36, 100, 374, 375, 376, 500, 750, 751, 1000, 2000];

function lastOf<T>(a: readonly T[]): T | undefined {
  return a[a.length - 1];
}

/** Textbook Wilder ATR + Supertrend (TradingView rules), written independently of the module. */
function refSupertrend(candles: readonly CandleInput[], period: number, mult: number): SupertrendValue | undefined {
  const n = candles.length;
  const atr: (number | undefined)[] = new Array(n).fill(undefined);
  let trSum = 0;
  for (let i = 1; i < n; i++) {
    const c = candles[i]!;
    const pc = candles[i - 1]!.close;
    const tr = Math.max(c.high - c.low, Math.abs(c.high - pc), Math.abs(c.low - pc));
    if (i < period) trSum += tr;
    else if (i === period) atr[i] = (trSum + tr) / period;
    else atr[i] = (atr[i - 1]! * (period - 1) + tr) / period;
  }
  let fu = NaN;
  let fl = NaN;
  let dir: 1 | -1 = -1;
  let started = false;
  for (let i = 0; i < n; i++) {
    const a = atr[i];
    if (a === undefined) continue;
    const c = candles[i]!;
    const bu = (c.high + c.low) / 2 + mult * a;
    const bl = (c.high + c.low) / 2 - mult * a;
    if (!started) {
      fu = bu;
      fl = bl;
      dir = -1;
      started = true;
      continue;
    }
    const pc = candles[i - 1]!.close;
    const nfu = bu < fu || pc > fu ? bu : fu;
    const nfl = bl > fl || pc < fl ? bl : fl;
    if (dir === -1 && c.close > nfu) dir = 1;
    else if (dir === 1 && c.close < nfl) dir = -1;
    fu = nfu;
    fl = nfl;
  }
  return started ? { value: dir === 1 ? fl : fu, direction: dir } : undefined;
}

/** Session VWAP: all candles on the same IST calendar date (by date string) as the last one. */
function refVwap(candles: readonly CandleInput[]): number | undefined {
  const last = lastOf(candles);
  if (!last) return undefined;
  const date = (ts: number) => new Date(ts + 5.5 * 3_600_000).toISOString().slice(0, 10);
  const d = date(last.ts);
  let pv = 0;
  let v = 0;
  for (const c of candles) {
    if (date(c.ts) !== d) continue;
    pv += ((c.high + c.low + c.close) / 3) * c.volume;
    v += c.volume;
  }
  return v > 0 ? pv / v : undefined;
}

describe("computeFull against technicalindicators' batch calculate", () => {
  const closes = CANDLES.map((c) => c.close);
  const high = CANDLES.map((c) => c.high);
  const low = CANDLES.map((c) => c.low);
  const vol = CANDLES.map((c) => c.volume);

  const cases: { spec: IndicatorSpec; batch: (n: number) => unknown }[] = [
    { spec: { kind: "rsi", period: 14 }, batch: (n) => lastOf(RSI.calculate({ period: 14, values: closes.slice(0, n) })) },
    { spec: { kind: "sma", period: 50 }, batch: (n) => lastOf(SMA.calculate({ period: 50, values: closes.slice(0, n) })) },
    { spec: { kind: "volume_sma", period: 20 }, batch: (n) => lastOf(SMA.calculate({ period: 20, values: vol.slice(0, n) })) },
    { spec: { kind: "ema", period: 20 }, batch: (n) => lastOf(EMA.calculate({ period: 20, values: closes.slice(0, n) })) },
    {
      spec: { kind: "atr", period: 14 },
      batch: (n) => lastOf(ATR.calculate({ period: 14, high: high.slice(0, n), low: low.slice(0, n), close: closes.slice(0, n) })),
    },
    {
      spec: { kind: "macd", fast: 12, slow: 26, signal: 9 },
      batch: (n) => {
        const r = lastOf(
          MACD.calculate({
            values: closes.slice(0, n),
            fastPeriod: 12,
            slowPeriod: 26,
            signalPeriod: 9,
            SimpleMAOscillator: false,
            SimpleMASignal: false,
          }),
        );
        return r?.signal === undefined ? undefined : { macd: r.MACD, signal: r.signal, histogram: r.histogram };
      },
    },
    {
      spec: { kind: "bb", period: 20, stdDev: 2 },
      batch: (n) => {
        const r = lastOf(BollingerBands.calculate({ period: 20, stdDev: 2, values: closes.slice(0, n) }));
        return r && { upper: r.upper, middle: r.middle, lower: r.lower };
      },
    },
  ];

  for (const { spec, batch } of cases) {
    it(`${specKey(spec)} equals the batch output at the last candle`, () => {
      let defined = 0;
      for (const n of CHECKPOINTS) {
        const got = computeFull([spec], CANDLES.slice(0, n))[specKey(spec)];
        expect(got, `n=${n}`).toEqual(batch(n));
        if (got !== undefined) defined++;
      }
      expect(defined).toBeGreaterThan(5);
    });
  }

  it("supertrend matches the reference implementation", () => {
    for (const [period, mult] of [
      [10, 3],
      [7, 1.5],
      [1, 2],
    ] as const) {
      const spec: IndicatorSpec = { kind: "supertrend", period, multiplier: mult };
      const dirs = new Set<number>();
      for (let n = 0; n <= 1200; n += n < 40 ? 1 : 37) {
        const prefix = CANDLES.slice(0, n);
        const got = computeFull([spec], prefix)[specKey(spec)];
        expectValueClose(got, refSupertrend(prefix, period, mult), `${specKey(spec)} n=${n}`);
        if (got && typeof got === "object" && "direction" in got) dirs.add(got.direction);
      }
      expect([...dirs].sort()).toEqual([-1, 1]); // the data exercises both trends
    }
    // first value exactly at candle period + 1 (true range needs a previous close)
    expect(computeFull([{ kind: "supertrend", period: 10, multiplier: 3 }], CANDLES.slice(0, 10))["supertrend:10:3"]).toBeUndefined();
    expect(computeFull([{ kind: "supertrend", period: 10, multiplier: 3 }], CANDLES.slice(0, 11))["supertrend:10:3"]).toBeDefined();
  });

  it("vwap matches the reference implementation across IST days", () => {
    for (const n of [...CHECKPOINTS, 1124, 1125, 1126, 1500]) {
      const prefix = CANDLES.slice(0, n);
      expectValueClose(computeFull([{ kind: "vwap" }], prefix).vwap, refVwap(prefix), `vwap n=${n}`);
    }
    // the first candle of a day only sees itself
    const first = CANDLES[375]!;
    const tp = (first.high + first.low + first.close) / 3;
    if (first.volume > 0) expectValueClose(computeFull([{ kind: "vwap" }], CANDLES.slice(0, 376)).vwap, tp, "day 2 open");
  });

  it("vwap is undefined while the day's volume is zero (e.g. an index)", () => {
    const idx = genCandles(400, { seed: 3, zeroVolume: 1 });
    expect(computeFull([{ kind: "vwap" }], idx).vwap).toBeUndefined();
  });

  it("returns every key (undefined without enough data) and ignores duplicate specs", () => {
    const specs: IndicatorSpec[] = [
      { kind: "rsi", period: 14 },
      { kind: "rsi", period: 14 },
      { kind: "sma", period: 50 },
    ];
    expect(computeFull(specs, CANDLES.slice(0, 20))).toEqual({ "rsi:14": expect.any(Number), "sma:50": undefined });
    expect(computeFull(specs, [])).toEqual({ "rsi:14": undefined, "sma:50": undefined });
    expect(() => computeFull([{ kind: "sma", period: 0 }], CANDLES)).toThrow(/period/);
  });
});
