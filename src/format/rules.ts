/**
 * How a rule reads, in one place: as the trader set it ("crosses above ₹1,450.00, once", for
 * /alert and /alerts) and as it fired ("crossed above ₹1,450.00", "RSI(14) fell below 30",
 * for the alert messages rendered by src/notify/render.ts).
 */
import type { Condition, ConditionKind } from "../signals/conditions.js";
import type { AlertRule, RuleKind } from "../signals/rules.js";
import { rupees } from "./money.js";
import { formatCount, signedPct } from "./numbers.js";
import { formatDate } from "./time.js";
import { IST_OFFSET_MS } from "../market/calendar.js";

/** One line describing a rule, as the trader would say it: "price at or above ₹1,450.00, once". */
export function describeRule(r: Pick<AlertRule, "kind" | "params" | "frequency" | "cooldownSeconds">): string {
  const p = r.params;
  // Parts on timeframes of their own: each names its candles.
  const mixed = (p.conditions ?? []).some((c) => c.params.timeframe);
  const what: Record<RuleKind, string> = {
    price_above: `price at or above ${rupees(p.level ?? 0)}`,
    price_below: `price at or below ${rupees(p.level ?? 0)}`,
    cross_up: `crosses above ${rupees(p.level ?? 0)}`,
    cross_down: `crosses below ${rupees(p.level ?? 0)}`,
    change_pct: `moves ${p.pct}% from the previous close`,
    rsi_above: `RSI(${p.period ?? 14}) rises above ${p.level}`,
    rsi_below: `RSI(${p.period ?? 14}) falls below ${p.level}`,
    macd_cross_up: "MACD crosses above its signal",
    macd_cross_down: "MACD crosses below its signal",
    ma_cross_up: `${(p.ma ?? "ema").toUpperCase()} ${p.fast} crosses above ${(p.ma ?? "ema").toUpperCase()} ${p.slow}`,
    ma_cross_down: `${(p.ma ?? "ema").toUpperCase()} ${p.fast} crosses below ${(p.ma ?? "ema").toUpperCase()} ${p.slow}`,
    bb_break_up: "closes above the upper Bollinger band",
    bb_break_down: "closes below the lower Bollinger band",
    bb_enter: "closes back inside the Bollinger band",
    volume_spike: `volume ${p.multiple}× the average`,
    supertrend_up: `Supertrend(${p.period ?? 10}, ${p.multiplier ?? 3}) flips up`,
    supertrend_down: `Supertrend(${p.period ?? 10}, ${p.multiplier ?? 3}) flips down`,
    vwap_cross_up: "price crosses above VWAP",
    vwap_cross_down: "price crosses below VWAP",
    atr_move: `a one-candle move of ${p.multiple ?? 2}× ATR(${p.period ?? 14}) or more`,
    gap_up: `opens ${p.pct ?? 1}% or more above the previous close`,
    gap_down: `opens ${p.pct ?? 1}% or more below the previous close`,
    high_52w: "makes a new 52-week high",
    low_52w: "makes a new 52-week low",
    all_of: `${(p.conditions ?? []).map((c) => describeCondition(mixed ? { ...c, params: { ...c.params, timeframe: c.params.timeframe ?? p.timeframe ?? "1m" } } : c)).join(" and ")} (all at once)`,
  };
  const tf = p.timeframe && p.timeframe !== "1m" && !mixed ? ` on ${p.timeframe} candles` : "";
  // A 52-week rule tells a day's new high once, whatever its candles: "per candle" would mislead.
  const often = (r.kind === "high_52w" || r.kind === "low_52w") && r.frequency !== "once" ? ` ${describeYearFrequency(r)}` : ` ${describeFrequency(r)}`;
  return `${what[r.kind]}${tf},${often}`;
}

/** One part of an AND alert, as a state: "RSI(14) below 30", "price above EMA 200". */
export function describeCondition(c: Condition): string {
  const p = c.params;
  const ma = (p.ma ?? "ema").toUpperCase();
  const what: Record<ConditionKind, string> = {
    rsi_above: `RSI(${p.period ?? 14}) above ${p.level}`,
    rsi_below: `RSI(${p.period ?? 14}) below ${p.level}`,
    macd_cross_up: "MACD above its signal",
    macd_cross_down: "MACD below its signal",
    ma_cross_up: `${ma} ${p.fast} above ${ma} ${p.slow}`,
    ma_cross_down: `${ma} ${p.fast} below ${ma} ${p.slow}`,
    bb_break_up: "close above the upper Bollinger band",
    bb_break_down: "close below the lower Bollinger band",
    bb_enter: "close inside the Bollinger band",
    volume_spike: `volume ${p.multiple}× the average`,
    supertrend_up: `Supertrend(${p.period ?? 10}, ${p.multiplier ?? 3}) up`,
    supertrend_down: `Supertrend(${p.period ?? 10}, ${p.multiplier ?? 3}) down`,
    vwap_cross_up: "price above VWAP",
    vwap_cross_down: "price below VWAP",
    atr_move: `a one-candle move of ${p.multiple ?? 2}× ATR(${p.period ?? 14})`,
    high_52w: "at a new 52-week high",
    low_52w: "at a new 52-week low",
    price_vs: `price ${p.side ?? "above"} ${p.ref === "vwap" ? "VWAP" : p.ref === "supertrend" ? "Supertrend" : `${(p.ref ?? "ema").toUpperCase()} ${p.period ?? 20}`}`,
  };
  // A part on bars of its own (longer than the alert's): read on their last close.
  const tf = c.params.timeframe;
  if (!tf) return what[c.kind];
  return tf === "1m" ? `${what[c.kind]} on 1-minute candles` : `${what[c.kind]} on ${tf} candles`;
}

/** "once", "once per candle", "every time (at most every 15 min)". */
export function describeFrequency(r: Pick<AlertRule, "frequency" | "cooldownSeconds">): string {
  return r.frequency === "once"
    ? "once"
    : r.frequency === "once_per_bar"
      ? "once per candle"
      : `every time (at most every ${Math.round(r.cooldownSeconds / 60)} min)`;
}

/** A 52-week rule's frequency: once a day, or with `every` again the same day on a higher high (lower low). */
function describeYearFrequency(r: Pick<AlertRule, "frequency" | "cooldownSeconds">): string {
  return r.frequency === "every" ? `at each further new extreme (at most every ${Math.round(r.cooldownSeconds / 60)} min)` : "at most once a day";
}

/** What a fired price rule did, from its price_alert payload: "crossed above ₹1,450.00"; undefined for another kind. */
export function priceFiredHeadline(ruleKind: string, p: { level?: unknown; changePct?: unknown }): string | undefined {
  const level = p.level === undefined ? undefined : Number(p.level);
  const headlines: Record<string, string> = {
    price_above: `is at or above ${rupees(level ?? 0)}`,
    price_below: `is at or below ${rupees(level ?? 0)}`,
    cross_up: `crossed above ${rupees(level ?? 0)}`,
    cross_down: `crossed below ${rupees(level ?? 0)}`,
    change_pct: `moved ${signedPct(Number(p.changePct))} from the previous close`,
  };
  return headlines[ruleKind];
}

/** " of Thu, 12 Mar 2026" for the IST day of an instant; "" when there is none. */
const dayOf = (ts: number | undefined) =>
  typeof ts === "number" && Number.isFinite(ts) ? ` of ${formatDate(new Date(ts + IST_OFFSET_MS).toISOString().slice(0, 10))}` : "";

/** A fired candle rule in words: what crossed (`headline`) and the values that made it fire (`valuesLine`). */
export interface IndicatorFiredWording {
  headline: string | undefined;
  valuesLine: string | undefined;
}

/**
 * What a fired candle rule did, from its indicator_alert payload's params and values:
 * "RSI(14) fell below 30" with "RSI 28.40". Both are undefined for a kind that is not a candle rule.
 */
export function indicatorFiredWording(ruleKind: string, params: Record<string, unknown>, values: Record<string, number>): IndicatorFiredWording {
  const n = (k: string, d: number) => (typeof params[k] === "number" ? params[k] : d);
  const ma = String(params.ma ?? "ema").toUpperCase();
  const fixed = (v: number | undefined, digits = 2) => (typeof v === "number" ? v.toFixed(digits) : "–");
  const headlines: Record<string, string> = {
    rsi_above: `RSI(${n("period", 14)}) rose above ${n("level", 70)}`,
    rsi_below: `RSI(${n("period", 14)}) fell below ${n("level", 30)}`,
    macd_cross_up: `MACD(${n("fast", 12)},${n("slow", 26)},${n("signal", 9)}) crossed above its signal line`,
    macd_cross_down: `MACD(${n("fast", 12)},${n("slow", 26)},${n("signal", 9)}) crossed below its signal line`,
    ma_cross_up: `${ma} ${n("fast", 9)} crossed above ${ma} ${n("slow", 21)}`,
    ma_cross_down: `${ma} ${n("fast", 9)} crossed below ${ma} ${n("slow", 21)}`,
    bb_break_up: `closed above the upper Bollinger band (${n("period", 20)}, ${n("stdDev", 2)})`,
    bb_break_down: `closed below the lower Bollinger band (${n("period", 20)}, ${n("stdDev", 2)})`,
    volume_spike: `volume spike: ${fixed(values.volume !== undefined && values.averageVolume ? values.volume / values.averageVolume : undefined, 1)}× the ${n("period", 20)}-candle average`,
    bb_enter: `closed back inside the Bollinger band (${n("period", 20)}, ${n("stdDev", 2)})`,
    supertrend_up: `Supertrend(${n("period", 10)}, ${n("multiplier", 3)}) flipped up`,
    supertrend_down: `Supertrend(${n("period", 10)}, ${n("multiplier", 3)}) flipped down`,
    vwap_cross_up: "crossed above VWAP",
    vwap_cross_down: "crossed below VWAP",
    atr_move: `moved ${fixed(values.move !== undefined && values.atr ? Math.abs(values.move) / values.atr : undefined, 1)}× ATR(${n("period", 14)}) in one candle`,
    gap_up: `opened ${fixed(values.gapPct)}% above the previous close`,
    gap_down: `opened ${fixed(values.gapPct !== undefined ? -values.gapPct : undefined)}% below the previous close`,
    high_52w: "made a new 52-week high",
    low_52w: "made a new 52-week low",
  };
  const lines: Record<string, string> = {
    rsi_above: `RSI ${fixed(values.rsi)}`,
    rsi_below: `RSI ${fixed(values.rsi)}`,
    macd_cross_up: `MACD ${fixed(values.macd, 3)}, signal ${fixed(values.signal, 3)}`,
    macd_cross_down: `MACD ${fixed(values.macd, 3)}, signal ${fixed(values.signal, 3)}`,
    ma_cross_up: `${ma} ${n("fast", 9)}: ₹${fixed(values.fast)}, ${ma} ${n("slow", 21)}: ₹${fixed(values.slow)}`,
    ma_cross_down: `${ma} ${n("fast", 9)}: ₹${fixed(values.fast)}, ${ma} ${n("slow", 21)}: ₹${fixed(values.slow)}`,
    bb_break_up: `Upper band ₹${fixed(values.upper)}`,
    bb_break_down: `Lower band ₹${fixed(values.lower)}`,
    volume_spike: `Volume ${formatCount(Math.round(values.volume ?? 0))} vs average ${formatCount(Math.round(values.averageVolume ?? 0))}`,
    bb_enter: `Band ₹${fixed(values.lower)}–₹${fixed(values.upper)}`,
    supertrend_up: `Supertrend ₹${fixed(values.supertrend)}`,
    supertrend_down: `Supertrend ₹${fixed(values.supertrend)}`,
    vwap_cross_up: `VWAP ₹${fixed(values.vwap)}`,
    vwap_cross_down: `VWAP ₹${fixed(values.vwap)}`,
    atr_move: `Move ${(values.move ?? 0) < 0 ? "−" : "+"}₹${fixed(values.move === undefined ? undefined : Math.abs(values.move))} · ATR ₹${fixed(values.atr)}`,
    gap_up: `Open ₹${fixed(values.open)} · previous close ₹${fixed(values.previousClose)}`,
    gap_down: `Open ₹${fixed(values.open)} · previous close ₹${fixed(values.previousClose)}`,
    high_52w: `High ₹${fixed(values.price)} · previous 52-week high ₹${fixed(values.previous)}${dayOf(values.previousTs)}`,
    low_52w: `Low ₹${fixed(values.price)} · previous 52-week low ₹${fixed(values.previous)}${dayOf(values.previousTs)}`,
  };
  const tf = typeof params.timeframe === "string" && params.timeframe !== "1m" ? ` on ${params.timeframe} candles` : "";
  const headline = headlines[ruleKind];
  return { headline: headline === undefined ? undefined : `${headline}${tf}`, valuesLine: lines[ruleKind] };
}
