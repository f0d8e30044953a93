/**
 * Indicator specifications: the closed set of indicator kinds, their canonical string keys
 * ("rsi:14", "macd:12:26:9", ...) and how many candles each needs to warm up.
 * Pure: no I/O.
 */
import type { MarketCandle } from "../../market/types.js";

/** A closed candle (ts = its open time, epoch ms): the same shape the market layer stores. */
export type CandleInput = MarketCandle;

export type IndicatorSpec =
  | { kind: "rsi"; period: number }
  | { kind: "sma"; period: number }
  | { kind: "ema"; period: number }
  | { kind: "macd"; fast: number; slow: number; signal: number }
  | { kind: "bb"; period: number; stdDev: number }
  | { kind: "atr"; period: number }
  /** ATR-based Supertrend (TradingView definition, see supertrend.ts). */
  | { kind: "supertrend"; period: number; multiplier: number }
  /** Session VWAP of the typical price (h+l+c)/3, reset at each new IST calendar day. */
  | { kind: "vwap" }
  /** Simple moving average of volume. */
  | { kind: "volume_sma"; period: number };

export type IndicatorKind = IndicatorSpec["kind"];

export type MacdValue = { macd: number; signal: number; histogram: number };
export type BandsValue = { upper: number; middle: number; lower: number };
/** direction 1 = uptrend (price above the line, value is the lower band); -1 = downtrend. */
export type SupertrendValue = { value: number; direction: 1 | -1 };
export type IndicatorValue = number | MacdValue | BandsValue | SupertrendValue;
/** Keyed by specKey(spec). `undefined` until the indicator has enough data. */
export type IndicatorValues = Record<string, IndicatorValue | undefined>;

export const DEFAULT_SPECS: IndicatorSpec[] = [
  { kind: "rsi", period: 14 },
  { kind: "ema", period: 20 },
  { kind: "sma", period: 50 },
  { kind: "macd", fast: 12, slow: 26, signal: 9 },
  { kind: "bb", period: 20, stdDev: 2 },
  { kind: "atr", period: 14 },
  { kind: "supertrend", period: 10, multiplier: 3 },
  { kind: "vwap" },
  { kind: "volume_sma", period: 20 },
];

/** Canonical key: "rsi:14", "ema:20", "macd:12:26:9", "bb:20:2", "supertrend:10:3", "vwap", "volume_sma:20". */
export function specKey(s: IndicatorSpec): string {
  switch (s.kind) {
    case "rsi":
    case "sma":
    case "ema":
    case "atr":
    case "volume_sma":
      return `${s.kind}:${s.period}`;
    case "macd":
      return `macd:${s.fast}:${s.slow}:${s.signal}`;
    case "bb":
      return `bb:${s.period}:${s.stdDev}`;
    case "supertrend":
      return `supertrend:${s.period}:${s.multiplier}`;
    case "vwap":
      return "vwap";
  }
}

const INT_RE = /^[1-9][0-9]*$/;
const NUM_RE = /^(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$/;

function parseInt1(s: string | undefined): number | undefined {
  if (s === undefined || !INT_RE.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parsePositive(s: string | undefined): number | undefined {
  if (s === undefined || !NUM_RE.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * Inverse of specKey. Returns undefined for anything that is not a valid key
 * (unknown kind, wrong number of parts, periods that are not positive integers,
 * non-positive stdDev / multiplier).
 */
export function parseSpecKey(key: string): IndicatorSpec | undefined {
  const parts = key.trim().split(":");
  const kind = parts[0];
  const n = parts.length;
  switch (kind) {
    case "rsi":
    case "sma":
    case "ema":
    case "atr":
    case "volume_sma": {
      if (n !== 2) return undefined;
      const period = parseInt1(parts[1]);
      return period === undefined ? undefined : { kind, period };
    }
    case "macd": {
      if (n !== 4) return undefined;
      const fast = parseInt1(parts[1]);
      const slow = parseInt1(parts[2]);
      const signal = parseInt1(parts[3]);
      if (fast === undefined || slow === undefined || signal === undefined) return undefined;
      return { kind, fast, slow, signal };
    }
    case "bb": {
      if (n !== 3) return undefined;
      const period = parseInt1(parts[1]);
      const stdDev = parsePositive(parts[2]);
      if (period === undefined || stdDev === undefined) return undefined;
      return { kind, period, stdDev };
    }
    case "supertrend": {
      if (n !== 3) return undefined;
      const period = parseInt1(parts[1]);
      const multiplier = parsePositive(parts[2]);
      if (period === undefined || multiplier === undefined) return undefined;
      return { kind, period, multiplier };
    }
    case "vwap":
      return n === 1 ? { kind } : undefined;
    default:
      return undefined;
  }
}

function isPeriod(n: unknown): boolean {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1;
}

function isPositive(n: unknown): boolean {
  return typeof n === "number" && Number.isFinite(n) && n > 0;
}

/** Throws a descriptive Error when a spec has invalid parameters. */
export function validateSpec(s: IndicatorSpec): void {
  const bad = (what: string): never => {
    throw new Error(`invalid indicator spec ${JSON.stringify(s)}: ${what}`);
  };
  switch (s.kind) {
    case "rsi":
    case "sma":
    case "ema":
    case "atr":
    case "volume_sma":
      if (!isPeriod(s.period)) bad("period must be an integer >= 1");
      return;
    case "macd":
      if (!isPeriod(s.fast) || !isPeriod(s.slow) || !isPeriod(s.signal)) bad("fast, slow and signal must be integers >= 1");
      return;
    case "bb":
      if (!isPeriod(s.period)) bad("period must be an integer >= 1");
      if (!isPositive(s.stdDev)) bad("stdDev must be a positive number");
      return;
    case "supertrend":
      if (!isPeriod(s.period)) bad("period must be an integer >= 1");
      if (!isPositive(s.multiplier)) bad("multiplier must be a positive number");
      return;
    case "vwap":
      return;
    default:
      bad("unknown kind");
  }
}

/**
 * Extra candles after an exponential average's first value until its seed's weight
 * drops below 0.1 %: (1 - alpha)^k < 1e-3.
 */
function settle(alpha: number): number {
  if (alpha >= 1) return 0;
  return Math.ceil(Math.log(1e-3) / Math.log(1 - alpha));
}

/** One NSE cash session of one-minute candles (09:15–15:30 IST). */
export const SESSION_CANDLES = 375;

/** Candles one spec needs for its first value plus, for exponential ones, to settle. */
export function candlesNeededFor(s: IndicatorSpec): number {
  switch (s.kind) {
    case "sma":
    case "bb":
    case "volume_sma":
      return s.period;
    case "ema":
      return s.period + settle(2 / (s.period + 1));
    case "rsi":
    case "atr":
    case "supertrend":
      // first value needs period + 1 candles (one price change / true range per candle after the first),
      // then Wilder smoothing (alpha 1/period) settles.
      return s.period + 1 + settle(1 / s.period);
    case "macd":
      // slow EMA seeded and settled, then the signal EMA of the MACD line seeded and settled.
      return Math.max(s.fast, s.slow) + settle(2 / (Math.max(s.fast, s.slow) + 1)) + s.signal + settle(2 / (s.signal + 1));
    case "vwap":
      // needs every candle since the session start: a full session of one-minute candles.
      return SESSION_CANDLES;
  }
}

/**
 * Warm-up / rebuild needs this many candles to produce every value of these specs
 * (and EMA-type ones to settle: the seed's weight below 0.1 %). VWAP counts as one
 * full session of one-minute candles (375). 0 for an empty list.
 */
export function candlesNeeded(specs: readonly IndicatorSpec[]): number {
  let n = 0;
  for (const s of specs) n = Math.max(n, candlesNeededFor(s));
  return n;
}

const IST_OFFSET_MS = 19_800_000; // +05:30
const DAY_MS = 86_400_000;

/** Day number (days since 1970-01-01) of the IST calendar day containing ts (epoch ms). */
export function istDay(ts: number): number {
  return Math.floor((ts + IST_OFFSET_MS) / DAY_MS);
}
