import { formatPrice } from "../format/money.js";
import type { CandleInputs, CandleRuleKind, RuleParams } from "./rules.js";
import { MIN_YEAR_BARS } from "./year-range.js";

/**
 * One part of an AND alert (`rsi below 30 and price above ema 200`), read as a state at a
 * closed bar: does it hold now, and in words with its values ("RSI(14) 28.40 < 30"). The
 * single-condition rules fire on a crossing; an AND alert fires when all of its parts hold
 * together after they did not, so each part is asked whether it holds, not whether it just
 * crossed. Pure.
 */

/** Price against an indicator line: `price above ema 200`, `price below vwap`. */
export type PriceVsRef = "ema" | "sma" | "vwap" | "supertrend";

export type ConditionKind = Exclude<CandleRuleKind, "all_of" | "gap_up" | "gap_down"> | "price_vs";

export interface Condition {
  kind: ConditionKind;
  params: RuleParams;
}

export const MAX_CONDITIONS = 5;

/** The indicator keys a condition reads (the parts' keys are the AND rule's keys). */
export function conditionKeys(c: Condition, keysOf: (kind: CandleRuleKind, params: RuleParams) => string[]): string[] {
  if (c.kind !== "price_vs") return keysOf(c.kind, c.params);
  const p = c.params;
  switch (p.ref) {
    case "ema":
    case "sma":
      return [`${p.ref}:${p.period ?? 20}`];
    case "vwap":
      return ["vwap"];
    case "supertrend":
      return [`supertrend:${p.period ?? 10}:${p.multiplier ?? 3}`];
    default:
      return [];
  }
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const field = (v: unknown, k: string): number | undefined => (v && typeof v === "object" ? num((v as Record<string, unknown>)[k]) : undefined);
const f2 = (v: number) => v.toFixed(2);
const rs = (v: number) => `₹${formatPrice(v)}`;

export interface ConditionReading {
  holds: boolean;
  /** The condition with its values at the bar; undefined while an indicator has no value yet. */
  text: string | undefined;
}

export function readCondition(c: Condition, input: CandleInputs, keys: readonly string[]): ConditionReading {
  const p = c.params;
  const v = input.values;
  const pv = input.previous;
  const close = input.candle.close;
  const [k1, k2] = keys;
  const none: ConditionReading = { holds: false, text: undefined };
  switch (c.kind) {
    case "rsi_below":
    case "rsi_above": {
      const rsi = num(v[k1!]);
      const level = p.level ?? (c.kind === "rsi_above" ? 70 : 30);
      if (rsi === undefined) return none;
      const below = c.kind === "rsi_below";
      return { holds: below ? rsi < level : rsi > level, text: `RSI(${p.period ?? 14}) ${f2(rsi)} ${below ? "<" : ">"} ${level}` };
    }
    case "macd_cross_up":
    case "macd_cross_down": {
      const [m, s] = [field(v[k1!], "macd"), field(v[k1!], "signal")];
      if (m === undefined || s === undefined) return none;
      const up = c.kind === "macd_cross_up";
      return { holds: up ? m > s : m < s, text: `MACD ${m.toFixed(3)} ${up ? ">" : "<"} signal ${s.toFixed(3)}` };
    }
    case "ma_cross_up":
    case "ma_cross_down": {
      const [fast, slow] = [num(v[k1!]), num(v[k2!])];
      if (fast === undefined || slow === undefined) return none;
      const ma = (p.ma ?? "ema").toUpperCase();
      const up = c.kind === "ma_cross_up";
      return { holds: up ? fast > slow : fast < slow, text: `${ma} ${p.fast} ${rs(fast)} ${up ? ">" : "<"} ${ma} ${p.slow} ${rs(slow)}` };
    }
    case "bb_break_up":
    case "bb_break_down":
    case "bb_enter": {
      const [upper, lower] = [field(v[k1!], "upper"), field(v[k1!], "lower")];
      if (upper === undefined || lower === undefined) return none;
      if (c.kind === "bb_break_up") return { holds: close > upper, text: `close ${rs(close)} > upper band ${rs(upper)}` };
      if (c.kind === "bb_break_down") return { holds: close < lower, text: `close ${rs(close)} < lower band ${rs(lower)}` };
      return { holds: close >= lower && close <= upper, text: `close ${rs(close)} inside the band ${rs(lower)}–${rs(upper)}` };
    }
    case "volume_spike": {
      const avg = num(pv[k1!]);
      if (avg === undefined || avg <= 0) return none;
      const k = p.multiple ?? 3;
      return { holds: input.candle.volume >= k * avg, text: `volume ${(input.candle.volume / avg).toFixed(1)}× the average (≥ ${k}×)` };
    }
    case "supertrend_up":
    case "supertrend_down": {
      const dir = field(v[k1!], "direction");
      if (dir === undefined) return none;
      const up = c.kind === "supertrend_up";
      return { holds: up ? dir === 1 : dir === -1, text: `Supertrend ${dir === 1 ? "up" : "down"} (${rs(field(v[k1!], "value") ?? 0)})` };
    }
    case "vwap_cross_up":
    case "vwap_cross_down": {
      const w = num(v[k1!]);
      if (w === undefined) return none;
      const up = c.kind === "vwap_cross_up";
      return { holds: up ? close > w : close < w, text: `price ${rs(close)} ${up ? ">" : "<"} VWAP ${rs(w)}` };
    }
    case "atr_move": {
      const atr = num(pv[k1!]);
      const c0 = input.previousCandle?.close;
      if (atr === undefined || atr <= 0 || c0 === undefined) return none;
      const move = close - c0;
      return { holds: Math.abs(move) >= (p.multiple ?? 2) * atr, text: `move ${(Math.abs(move) / atr).toFixed(1)}× ATR (≥ ${p.multiple ?? 2}×)` };
    }
    case "high_52w":
    case "low_52w": {
      // At (or beyond) the 52-week extreme during this bar: the bar's high (low) past it.
      const r = input.range52w;
      if (!r || r.bars < MIN_YEAR_BARS) return none;
      const high = c.kind === "high_52w";
      const price = high ? input.candle.high : input.candle.low;
      return {
        holds: high ? price > r.high : price < r.low,
        text: `${high ? "high" : "low"} ${rs(price)} ${high ? ">" : "<"} 52-week ${high ? "high" : "low"} ${rs(high ? r.high : r.low)}`,
      };
    }
    case "price_vs": {
      const line = p.ref === "supertrend" ? field(v[k1!], "value") : num(v[k1!]);
      if (line === undefined) return none;
      const above = p.side !== "below";
      const name = p.ref === "vwap" ? "VWAP" : p.ref === "supertrend" ? "Supertrend" : `${(p.ref ?? "ema").toUpperCase()} ${p.period ?? 20}`;
      return { holds: above ? close > line : close < line, text: `price ${rs(close)} ${above ? ">" : "<"} ${name} ${rs(line)}` };
    }
  }
}
