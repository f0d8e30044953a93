import type { Timeframe } from "../market/timeframes.js";
import { conditionKeys, readCondition, type Condition, type PriceVsRef } from "./conditions.js";
import type { MarketCandle, Quote } from "../market/types.js";
import { istMidnight } from "../market/bar-history.js";
import { usable, type YearRange } from "./year-range.js";

/**
 * Alert rules as pure functions: (rule, its state, a quote or a closed candle with its
 * indicator values, the time) -> fire or not, and the next state. Nothing here reads a
 * clock, a database or the network.
 */

/** Evaluated on every quote. */
export type PriceRuleKind = "price_above" | "price_below" | "cross_up" | "cross_down" | "change_pct";
/** Evaluated once per closed one-minute candle, on indicator values. */
export type CandleRuleKind =
  | "rsi_above"
  | "rsi_below"
  | "macd_cross_up"
  | "macd_cross_down"
  | "ma_cross_up"
  | "ma_cross_down"
  | "bb_break_up"
  | "bb_break_down"
  | "bb_enter"
  | "volume_spike"
  | "supertrend_up"
  | "supertrend_down"
  | "vwap_cross_up"
  | "vwap_cross_down"
  | "atr_move"
  | "gap_up"
  | "gap_down"
  /** A new 52-week high (low): the candle's high above the highest daily high of the 52 weeks before today. */
  | "high_52w"
  | "low_52w"
  /** Several conditions at once (`rsi below 30 and price above ema 200`): params.conditions. */
  | "all_of";
export type RuleKind = PriceRuleKind | CandleRuleKind;
export type Frequency = "once" | "once_per_bar" | "every";

export const PRICE_RULE_KINDS: readonly PriceRuleKind[] = ["price_above", "price_below", "cross_up", "cross_down", "change_pct"];
export const CANDLE_RULE_KINDS: readonly CandleRuleKind[] = [
  "rsi_above",
  "rsi_below",
  "macd_cross_up",
  "macd_cross_down",
  "ma_cross_up",
  "ma_cross_down",
  "bb_break_up",
  "bb_break_down",
  "bb_enter",
  "volume_spike",
  "supertrend_up",
  "supertrend_down",
  "vwap_cross_up",
  "vwap_cross_down",
  "atr_move",
  "gap_up",
  "gap_down",
  "high_52w",
  "low_52w",
  "all_of",
];
const CANDLE_KINDS: ReadonlySet<string> = new Set(CANDLE_RULE_KINDS);
export const isCandleRule = (kind: RuleKind): kind is CandleRuleKind => CANDLE_KINDS.has(kind);

export interface PriceRuleParams {
  /** Price level in rupees (price_above/below, cross_up/down). */
  level?: number;
  /** Absolute percent move from the previous close (change_pct). */
  pct?: number;
  /**
   * How far back across the level (in percent of it) price must go before the rule can fire
   * again. For change_pct the "level" is `pct`: the move must shrink below pct × (1 − rearmPct/100),
   * with the share kept between 10 % and 90 %.
   */
  rearmPct?: number;
}

export interface CandleRuleParams {
  /** RSI level (rsi_above/below) — `level` is shared with price rules. */
  level?: number;
  /** Indicator period: RSI (14), Bollinger (20), volume average (20). */
  period?: number;
  /** Moving-average crossover: which average and its two periods (e.g. EMA 9 over EMA 21). */
  ma?: "ema" | "sma";
  fast?: number;
  slow?: number;
  /** MACD signal period (9); MACD uses fast/slow too (12/26). */
  signal?: number;
  /** Bollinger width in standard deviations (2). */
  stdDev?: number;
  /**
   * Volume spike: this many times the average volume of the previous `period` candles (3);
   * ATR move: a candle's close-to-close move of at least this many ATRs (2).
   */
  multiple?: number;
  /** Supertrend's ATR multiplier (3); its ATR period is `period` (10). */
  multiplier?: number;
  /** The bars the rule reads: one-minute candles unless set (5m … 1d, aligned to the NSE session). */
  timeframe?: Timeframe;
  /** all_of: its parts, each a condition kind with its own params (at most MAX_CONDITIONS). */
  conditions?: Condition[];
  /** price_vs (a part of all_of): price above or below an indicator line. */
  side?: "above" | "below";
  ref?: PriceVsRef;
}

export type RuleParams = PriceRuleParams & CandleRuleParams;

export interface RuleState {
  /** False after firing until price has moved back past the re-arm band. */
  armed: boolean;
  lastPrice?: number;
  /** Times of the firings in the last AUTO_PAUSE_WINDOW_MS, to catch a rule that keeps firing. */
  recentFires?: number[];
}

export interface AlertRule {
  id: number;
  userId: number;
  instrumentKey: string;
  kind: RuleKind;
  params: RuleParams;
  frequency: Frequency;
  cooldownSeconds: number;
  expiresAt: number | null;
  lastFiredAt: number | null;
  fireCount: number;
  state: RuleState;
  /** Snoozed rules are skipped until then (epoch ms). */
  snoozedUntil?: number | null;
  /** A rule over a watchlist: the list's name on the parent, which is never evaluated itself. */
  watchlist?: string | null;
  /** One symbol of a watchlist rule: the parent it follows (migration 012). */
  parentId?: number | null;
}

export interface RuleOutcome {
  fired: boolean;
  state: RuleState;
  /**
   * Set when the rule stops: fired with frequency once (triggered), past its expiry
   * (expired), or fired more than AUTO_PAUSE_MAX_FIRES times in AUTO_PAUSE_WINDOW_MS (paused).
   */
  finished?: "triggered" | "expired" | "paused";
  /** What a message needs to say why it fired. */
  detail?: { price: number; level?: number; changePct?: number; values?: Record<string, number>; lines?: string[] };
}

export const DEFAULT_REARM_PCT = 0.1;
/** A candle this long after the one before it opens a new session (overnight, a holiday, a special session). */
const GAP_MIN_MS = 30 * 60_000;
const BAR_MS = 60_000;
export const AUTO_PAUSE_MAX_FIRES = 15;
export const AUTO_PAUSE_WINDOW_MS = 3 * 60_000;

export const initialRuleState = (): RuleState => ({ armed: true });

/** Not snoozed at `now` (a snooze ends at its time). */
export const isLive = (rule: AlertRule, now: number): boolean => !rule.snoozedUntil || rule.snoozedUntil <= now;

/** Whether an armed price rule's condition holds at `price`; a crossing is measured from `lastPrice`. */
function conditionAt(rule: AlertRule, price: number, prevClose: number, lastPrice: number | undefined): boolean {
  const p = price;
  const level = rule.params.level ?? NaN;
  switch (rule.kind) {
    case "price_above":
      return p >= level;
    case "price_below":
      return p <= level;
    // A crossing needs a price seen on the other side first: a rule created above the
    // level does not "cross up" on its first quote.
    case "cross_up":
      return lastPrice !== undefined && lastPrice < level && p >= level;
    case "cross_down":
      return lastPrice !== undefined && lastPrice > level && p <= level;
    case "change_pct":
      return prevClose > 0 && Math.abs(movePct(p, prevClose)) >= (rule.params.pct ?? Infinity);
    default:
      return false;
  }
}

/** The re-arm band as a fraction of the level (price rules) or the share of pct kept (change_pct). */
const bandOf = (rule: AlertRule) => (rule.params.rearmPct ?? DEFAULT_REARM_PCT) / 100;
// The band is a share of the threshold itself, at least a tenth of it (a 0.1 % band on a 2 %
// move would be noise), and never all of it: a band of 100 % or more would mean "never
// re-arm", since no move is smaller than zero.
const changeShareOf = (rule: AlertRule) => Math.min(Math.max(bandOf(rule), 0.1), 0.9);

/** Whether price has gone back far enough that firing again would be news, not noise. */
function backOutsideBandAt(rule: AlertRule, price: number, prevClose: number): boolean {
  const band = bandOf(rule);
  const p = price;
  const level = rule.params.level ?? NaN;
  switch (rule.kind) {
    case "price_above":
    case "cross_up":
      return p < level * (1 - band);
    case "price_below":
    case "cross_down":
      return p > level * (1 + band);
    case "change_pct":
      return Math.abs(movePct(p, prevClose)) < (rule.params.pct ?? 0) * (1 - changeShareOf(rule));
    default:
      return true;
  }
}

const movePct = (price: number, prevClose: number) => ((price - prevClose) / prevClose) * 100;

export function changePct(quote: Quote): number {
  return movePct(quote.lastPrice, quote.prevClose);
}

/**
 * Price rules, on each fresh quote. Candle rules never fire here (see evaluateCandleRule).
 * A crossing is measured from `lastPrice`: the rule's own last price unless the caller knows
 * the instrument's previous price (the engine passes the last poll's).
 */
export function evaluateRule(rule: AlertRule, quote: Quote, now: number, lastPrice = rule.state.lastPrice): RuleOutcome {
  const prev = rule.state;
  if (rule.expiresAt !== null && now >= rule.expiresAt) return { fired: false, state: prev, finished: "expired" };
  if (isCandleRule(rule.kind)) return { fired: false, state: prev };

  let armed = prev.armed;
  if (!armed && backOutsideBandAt(rule, quote.lastPrice, quote.prevClose)) armed = true;
  const state: RuleState = { ...prev, armed, lastPrice: quote.lastPrice };

  if (!armed || !conditionAt(rule, quote.lastPrice, quote.prevClose, lastPrice)) return { fired: false, state };
  const detail: NonNullable<RuleOutcome["detail"]> = { price: quote.lastPrice };
  if (rule.params.level !== undefined) detail.level = rule.params.level;
  if (rule.kind === "change_pct") detail.changePct = Number(changePct(quote).toFixed(2));
  return fire(rule, state, { ...state, armed: false }, now, detail);
}

/**
 * Whether evaluateRule could change anything for this price rule at `price`: it is past its
 * expiry, or armed with its condition met (it fires, or its frequency holds it back), or
 * disarmed and back outside its re-arm band. When false, evaluating it would only note the
 * price, so the engine skips it without building anything. Snoozes are the caller's.
 */
export function priceRuleActs(rule: AlertRule, price: number, prevClose: number, lastPrice: number | undefined, now: number): boolean {
  if (rule.expiresAt !== null && now >= rule.expiresAt) return true;
  if (isCandleRule(rule.kind)) return false;
  return rule.state.armed ? conditionAt(rule, price, prevClose, lastPrice) : backOutsideBandAt(rule, price, prevClose);
}

/**
 * The prices at which priceRuleActs can change its answer for this rule, whatever its state:
 * its level and its re-arm level; for change_pct the prices of ±pct and of the ±re-arm band
 * around the previous close. Between two neighbouring prices of this list the answer (for a
 * given state, with the crossing's last price on the same side) stays the same, which is what
 * lets the rule index visit only rules with a price between the last quote and this one.
 * Unusable levels (a missing level or pct) are left out: such a rule never acts on price.
 */
export function priceRuleLevels(rule: AlertRule, prevClose: number): number[] {
  const band = bandOf(rule);
  const level = rule.params.level ?? NaN;
  let levels: number[];
  switch (rule.kind) {
    case "price_above":
    case "cross_up":
      levels = [level, level * (1 - band)];
      break;
    case "price_below":
    case "cross_down":
      levels = [level, level * (1 + band)];
      break;
    case "change_pct": {
      const pct = rule.params.pct ?? NaN;
      const rearm = pct * (1 - changeShareOf(rule));
      const base = Math.abs(prevClose);
      levels = [pct, rearm].flatMap((m) => [prevClose + (base * m) / 100, prevClose - (base * m) / 100]);
      break;
    }
    default:
      levels = [];
  }
  return levels.filter((l) => Number.isFinite(l));
}

/** Whether the rule's frequency keeps it from firing now: inside its cooldown, or already fired in this bar. */
export function frequencyHolds(rule: AlertRule, now: number): boolean {
  if (rule.lastFiredAt === null) return false;
  if (rule.frequency === "every") return now - rule.lastFiredAt < rule.cooldownSeconds * 1000;
  if (rule.frequency === "once_per_bar") return Math.floor(now / BAR_MS) === Math.floor(rule.lastFiredAt / BAR_MS);
  return false;
}

/** Frequency, cooldown and the runaway guard, shared by price and candle rules. */
function fire(rule: AlertRule, unfired: RuleState, state: RuleState, now: number, detail: NonNullable<RuleOutcome["detail"]>): RuleOutcome {
  if (frequencyHolds(rule, now)) return { fired: false, state: unfired };
  const recentFires = [...(state.recentFires ?? []).filter((t) => now - t < AUTO_PAUSE_WINDOW_MS), now];
  const runaway = recentFires.length > AUTO_PAUSE_MAX_FIRES;
  const finished = runaway ? ("paused" as const) : rule.frequency === "once" ? ("triggered" as const) : undefined;
  return {
    fired: true,
    state: { ...state, recentFires: recentFires.slice(-(AUTO_PAUSE_MAX_FIRES + 1)) },
    detail,
    ...(finished ? { finished } : {}),
  };
}

/** Indicator values as the indicator engine reports them, keyed like "rsi:14" or "macd:12:26:9". */
export type IndicatorReading = Record<
  string,
  | number
  | { macd: number; signal: number; histogram: number }
  | { upper: number; middle: number; lower: number }
  | { value: number; direction: 1 | -1 }
  | undefined
>;

export interface CandleInputs {
  candle: MarketCandle;
  /** The candle before this one (for band breakouts). */
  previousCandle: MarketCandle | undefined;
  values: IndicatorReading;
  previous: IndicatorReading;
  /** The 52-week range before today, for the rules that read it (see readsYearRange). */
  range52w?: YearRange | undefined;
  /**
   * The last closed bar of a longer timeframe with its values, for the parts of an AND alert
   * on bars of their own (`... and price above ema 200 on 1d`); undefined before it has one.
   */
  at?(timeframe: Timeframe): CandleInputs | undefined;
}

const YEAR_KINDS: ReadonlySet<string> = new Set<RuleKind>(["high_52w", "low_52w"]);

/** Whether a rule (or a part of an AND rule) reads the 52-week range. */
export const readsYearRange = (rule: Pick<AlertRule, "kind" | "params">): boolean =>
  YEAR_KINDS.has(rule.kind) || (rule.kind === "all_of" && (rule.params.conditions ?? []).some((c) => YEAR_KINDS.has(c.kind)));

/** The indicator keys a candle rule reads: the engine keeps these for its instrument. */
export function indicatorKeysFor(rule: Pick<AlertRule, "kind" | "params">): string[] {
  const p = rule.params;
  switch (rule.kind) {
    case "rsi_above":
    case "rsi_below":
      return [`rsi:${p.period ?? 14}`];
    case "macd_cross_up":
    case "macd_cross_down":
      return [`macd:${p.fast ?? 12}:${p.slow ?? 26}:${p.signal ?? 9}`];
    case "ma_cross_up":
    case "ma_cross_down":
      return [`${p.ma ?? "ema"}:${p.fast ?? 9}`, `${p.ma ?? "ema"}:${p.slow ?? 21}`];
    case "bb_break_up":
    case "bb_break_down":
    case "bb_enter":
      return [`bb:${p.period ?? 20}:${p.stdDev ?? 2}`];
    case "volume_spike":
      return [`volume_sma:${p.period ?? 20}`];
    case "supertrend_up":
    case "supertrend_down":
      return [`supertrend:${p.period ?? 10}:${p.multiplier ?? 3}`];
    case "vwap_cross_up":
    case "vwap_cross_down":
      return ["vwap"];
    case "atr_move":
      return [`atr:${p.period ?? 14}`];
    case "all_of":
      // The parts read on the alert's own bars; parts on longer bars are keysByTimeframe's.
      return [...new Set(onOwnBars(rule).flatMap(partKeys))];
    default:
      return [];
  }
}

const partKeys = (c: Condition): string[] => conditionKeys(c, (kind, params) => indicatorKeysFor({ kind, params }));

/** The parts of an AND alert read on the alert's own bars (all of them, unless some say a timeframe of their own). */
const onOwnBars = (rule: Pick<AlertRule, "params">): Condition[] =>
  (rule.params.conditions ?? []).filter((c) => !c.params.timeframe || c.params.timeframe === (rule.params.timeframe ?? "1m"));

/**
 * The indicator keys a candle rule reads, by the timeframe of the bars they are read on: its
 * own, and for an AND alert the longer timeframes some of its parts name.
 */
export function keysByTimeframe(rule: Pick<AlertRule, "kind" | "params">): Map<Timeframe, string[]> {
  const own = rule.params.timeframe ?? "1m";
  const out = new Map<Timeframe, string[]>([[own, indicatorKeysFor(rule)]]);
  if (rule.kind !== "all_of") return out;
  for (const c of rule.params.conditions ?? []) {
    const tf = c.params.timeframe;
    if (!tf || tf === own) continue;
    out.set(tf, [...new Set([...(out.get(tf) ?? []), ...partKeys(c)])]);
  }
  return out;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const field = (v: unknown, k: string): number | undefined => (v && typeof v === "object" ? num((v as Record<string, unknown>)[k]) : undefined);

/** True crossing of a over b between the previous and this candle. */
const crossedUp = (a0?: number, b0?: number, a1?: number, b1?: number) =>
  a0 !== undefined && b0 !== undefined && a1 !== undefined && b1 !== undefined && a0 <= b0 && a1 > b1;
const crossedDown = (a0?: number, b0?: number, a1?: number, b1?: number) =>
  a0 !== undefined && b0 !== undefined && a1 !== undefined && b1 !== undefined && a0 >= b0 && a1 < b1;

/**
 * Candle rules, once per closed candle. Conditions are true crossings between the previous
 * candle and this one, so "RSI below 30" fires when RSI goes below 30, not on every candle
 * it stays there; volume spikes compare with the average of the candles before this one.
 */
export function evaluateCandleRule(rule: AlertRule, input: CandleInputs, now: number): RuleOutcome {
  const prev = rule.state;
  if (rule.expiresAt !== null && now >= rule.expiresAt) return { fired: false, state: prev, finished: "expired" };
  if (!isCandleRule(rule.kind)) return { fired: false, state: prev };
  const p = rule.params;
  const [k1, k2] = indicatorKeysFor(rule);
  const v = input.values;
  const pv = input.previous;
  const c = input.candle;
  if (rule.kind === "all_of") return evaluateAllOf(rule, input, now);
  if (rule.kind === "high_52w" || rule.kind === "low_52w") return evaluateYearExtreme(rule, input, now);
  let met = false;
  const values: Record<string, number> = {};
  switch (rule.kind) {
    case "rsi_above":
    case "rsi_below": {
      const now1 = num(v[k1!]);
      const before = num(pv[k1!]);
      const level = p.level ?? (rule.kind === "rsi_above" ? 70 : 30);
      met = rule.kind === "rsi_above" ? crossedUp(before, level, now1, level) : crossedDown(before, level, now1, level);
      if (now1 !== undefined) values.rsi = now1;
      break;
    }
    case "macd_cross_up":
    case "macd_cross_down": {
      const [m0, s0, m1, s1] = [field(pv[k1!], "macd"), field(pv[k1!], "signal"), field(v[k1!], "macd"), field(v[k1!], "signal")];
      met = rule.kind === "macd_cross_up" ? crossedUp(m0, s0, m1, s1) : crossedDown(m0, s0, m1, s1);
      if (m1 !== undefined && s1 !== undefined) Object.assign(values, { macd: m1, signal: s1 });
      break;
    }
    case "ma_cross_up":
    case "ma_cross_down": {
      const [f0, s0, f1, s1] = [num(pv[k1!]), num(pv[k2!]), num(v[k1!]), num(v[k2!])];
      met = rule.kind === "ma_cross_up" ? crossedUp(f0, s0, f1, s1) : crossedDown(f0, s0, f1, s1);
      if (f1 !== undefined && s1 !== undefined) Object.assign(values, { fast: f1, slow: s1 });
      break;
    }
    case "bb_break_up":
    case "bb_break_down": {
      const band = rule.kind === "bb_break_up" ? "upper" : "lower";
      const [b0, b1] = [field(pv[k1!], band), field(v[k1!], band)];
      const c0 = input.previousCandle?.close;
      met = rule.kind === "bb_break_up" ? crossedUp(c0, b0, c.close, b1) : crossedDown(c0, b0, c.close, b1);
      if (b1 !== undefined) values[band] = b1;
      break;
    }
    case "bb_enter": {
      // Back inside from either side: the close before was beyond a band, this one is within both.
      const c0 = input.previousCandle?.close;
      const [u0, l0, u1, l1] = [field(pv[k1!], "upper"), field(pv[k1!], "lower"), field(v[k1!], "upper"), field(v[k1!], "lower")];
      const outside = c0 !== undefined && u0 !== undefined && l0 !== undefined && (c0 > u0 || c0 < l0);
      met = outside && u1 !== undefined && l1 !== undefined && c.close <= u1 && c.close >= l1;
      if (u1 !== undefined && l1 !== undefined) Object.assign(values, { upper: u1, lower: l1 });
      break;
    }
    case "supertrend_up":
    case "supertrend_down": {
      const [d0, d1] = [field(pv[k1!], "direction"), field(v[k1!], "direction")];
      met = rule.kind === "supertrend_up" ? d0 === -1 && d1 === 1 : d0 === 1 && d1 === -1;
      const st = field(v[k1!], "value");
      if (st !== undefined) values.supertrend = st;
      break;
    }
    case "vwap_cross_up":
    case "vwap_cross_down": {
      const [w0, w1] = [num(pv[k1!]), num(v[k1!])];
      const c0 = input.previousCandle?.close;
      met = rule.kind === "vwap_cross_up" ? crossedUp(c0, w0, c.close, w1) : crossedDown(c0, w0, c.close, w1);
      if (w1 !== undefined) values.vwap = w1;
      break;
    }
    case "atr_move": {
      // Against the ATR before this candle, so the move itself does not widen its own yardstick.
      const atr = num(pv[k1!]);
      const c0 = input.previousCandle?.close;
      const move = c0 === undefined ? undefined : c.close - c0;
      met = atr !== undefined && atr > 0 && move !== undefined && Math.abs(move) >= (p.multiple ?? 2) * atr;
      if (atr !== undefined && move !== undefined) Object.assign(values, { move, atr });
      break;
    }
    case "gap_up":
    case "gap_down": {
      // The session's first candle: the one before it closed the previous session (at least
      // half an hour earlier; minutes within a session are one apart).
      const prior = input.previousCandle;
      if (!prior || c.ts - prior.ts < GAP_MIN_MS || prior.close <= 0) break;
      const gap = ((c.open - prior.close) / prior.close) * 100;
      const pct = p.pct ?? 1;
      met = rule.kind === "gap_up" ? gap >= pct : gap <= -pct;
      Object.assign(values, { gapPct: gap, previousClose: prior.close, open: c.open });
      break;
    }
    case "volume_spike": {
      // The average before this candle, so the spike itself does not raise its own bar.
      const avg = num(pv[k1!]);
      met = avg !== undefined && avg > 0 && c.volume >= (p.multiple ?? 3) * avg;
      if (avg !== undefined) Object.assign(values, { volume: c.volume, averageVolume: avg });
      break;
    }
  }
  const state = { ...prev, armed: true };
  if (!met) return { fired: false, state };
  return fire(rule, state, state, now, { price: c.close, ...(p.level !== undefined ? { level: p.level } : {}), values });
}

/**
 * A new 52-week high (low): the candle's high (low) beyond the extreme of the daily bars of the
 * 52 weeks before today. At most once a day: the day's later highs above the old one are the
 * same news. With `every`, a later alert the same day needs a high above the one last told
 * (and the cooldown). Without a usable range (history short or not fetched yet) it never fires.
 */
function evaluateYearExtreme(rule: AlertRule, input: CandleInputs, now: number): RuleOutcome {
  const prev = rule.state;
  const state = prev.armed ? prev : { ...prev, armed: true };
  const range = input.range52w;
  if (!usable(range)) return { fired: false, state };
  const high = rule.kind === "high_52w";
  const c = input.candle;
  const sameDay = rule.lastFiredAt !== null && istMidnight(rule.lastFiredAt) === istMidnight(c.ts);
  if (sameDay && rule.frequency !== "every") return { fired: false, state };
  const old = high ? range.high : range.low;
  const told = sameDay ? prev.lastPrice : undefined;
  const bar = told === undefined ? old : high ? Math.max(old, told) : Math.min(old, told);
  const price = high ? c.high : c.low;
  if (high ? price <= bar : price >= bar) return { fired: false, state };
  return fire(rule, state, { ...state, lastPrice: price }, now, {
    price: c.close,
    values: { price, previous: old, previousTs: high ? range.highTs : range.lowTs, bars: range.bars },
  });
}

/**
 * An AND alert: fires when all of its parts hold at a bar's close after they did not all hold
 * (the rule stays disarmed while they keep holding), with each part and its value in words.
 */
function evaluateAllOf(rule: AlertRule, input: CandleInputs, now: number): RuleOutcome {
  const prev = rule.state;
  const own = rule.params.timeframe ?? "1m";
  const readings = (rule.params.conditions ?? []).map((c) => {
    const tf = c.params.timeframe;
    if (!tf || tf === own) return readCondition(c, input, partKeys(c));
    // A part on longer bars: their last closed bar's values, against this bar's price.
    const longer = input.at?.(tf);
    if (!longer) return { holds: false, text: undefined };
    const r = readCondition(c, { ...longer, candle: input.candle, range52w: input.range52w }, partKeys(c));
    return r.text === undefined ? r : { ...r, text: `${r.text} (${tf})` };
  });
  const all = readings.length > 0 && readings.every((r) => r.holds);
  if (!all) return { fired: false, state: prev.armed ? prev : { ...prev, armed: true } };
  if (!prev.armed) return { fired: false, state: prev };
  return fire(rule, { ...prev, armed: true }, { ...prev, armed: false }, now, {
    price: input.candle.close,
    values: {},
    lines: readings.map((r) => r.text ?? ""),
  });
}
