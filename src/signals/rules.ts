import type { Quote } from "../market/types.js";

/**
 * Alert rules as pure functions: (rule, its state, a quote, the time) -> fire or not, and
 * the next state. Nothing here reads a clock, a database or the network.
 */

export type PriceRuleKind = "price_above" | "price_below" | "cross_up" | "cross_down" | "change_pct";
export type Frequency = "once" | "once_per_bar" | "every";

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

export interface RuleState {
  /** False after firing until price has moved back past the re-arm band. */
  armed: boolean;
  lastPrice?: number;
}

export interface AlertRule {
  id: number;
  userId: number;
  instrumentKey: string;
  kind: PriceRuleKind;
  params: PriceRuleParams;
  frequency: Frequency;
  cooldownSeconds: number;
  expiresAt: number | null;
  lastFiredAt: number | null;
  fireCount: number;
  state: RuleState;
}

export interface RuleOutcome {
  fired: boolean;
  state: RuleState;
  /** Set when the rule is finished for good: fired with frequency once, or expired. */
  finished?: "triggered" | "expired";
  /** What a message needs to say why it fired. */
  detail?: { price: number; level?: number; changePct?: number };
}

export const DEFAULT_REARM_PCT = 0.1;
const BAR_MS = 60_000;

export const initialRuleState = (): RuleState => ({ armed: true });

function conditionMet(rule: AlertRule, quote: Quote, lastPrice: number | undefined): boolean {
  const p = quote.lastPrice;
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
      return quote.prevClose > 0 && Math.abs(changePct(quote)) >= (rule.params.pct ?? Infinity);
  }
}

/** Whether price has gone back far enough that firing again would be news, not noise. */
function backOutsideBand(rule: AlertRule, quote: Quote): boolean {
  const band = (rule.params.rearmPct ?? DEFAULT_REARM_PCT) / 100;
  const p = quote.lastPrice;
  const level = rule.params.level ?? NaN;
  switch (rule.kind) {
    case "price_above":
    case "cross_up":
      return p < level * (1 - band);
    case "price_below":
    case "cross_down":
      return p > level * (1 + band);
    case "change_pct": {
      // The band is a share of the threshold itself, at least a tenth of it (a 0.1 % band on
      // a 2 % move would be noise), and never all of it: a band of 100 % or more would mean
      // "never re-arm", since no move is smaller than zero.
      const pct = rule.params.pct ?? 0;
      const share = Math.min(Math.max(band, 0.1), 0.9);
      return Math.abs(changePct(quote)) < pct * (1 - share);
    }
  }
}

export function changePct(quote: Quote): number {
  return ((quote.lastPrice - quote.prevClose) / quote.prevClose) * 100;
}

export function evaluateRule(rule: AlertRule, quote: Quote, now: number): RuleOutcome {
  const prev = rule.state;
  if (rule.expiresAt !== null && now >= rule.expiresAt) return { fired: false, state: prev, finished: "expired" };

  let armed = prev.armed;
  if (!armed && backOutsideBand(rule, quote)) armed = true;
  const state: RuleState = { armed, lastPrice: quote.lastPrice };

  if (!armed || !conditionMet(rule, quote, prev.lastPrice)) return { fired: false, state };
  if (rule.lastFiredAt !== null) {
    if (rule.frequency === "every" && now - rule.lastFiredAt < rule.cooldownSeconds * 1000) return { fired: false, state };
    if (rule.frequency === "once_per_bar" && Math.floor(now / BAR_MS) === Math.floor(rule.lastFiredAt / BAR_MS))
      return { fired: false, state };
  }
  const detail: RuleOutcome["detail"] = { price: quote.lastPrice };
  if (rule.params.level !== undefined) detail.level = rule.params.level;
  if (rule.kind === "change_pct") detail.changePct = Number(changePct(quote).toFixed(2));
  return {
    fired: true,
    state: { armed: false, lastPrice: quote.lastPrice },
    detail,
    ...(rule.frequency === "once" ? { finished: "triggered" as const } : {}),
  };
}
