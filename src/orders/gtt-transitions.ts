import type { GttRuleSnapshot } from "./gtt-update.js";

/**
 * What a GTT's rules mean for notifications. Pure: no I/O, no clock (`now` is passed in).
 *
 * The postback, the portfolio stream and any poll report the same GTT, late, repeatedly and
 * in any order. Each rule therefore keeps its most advanced status (mergeRules), and what was
 * already told is a set of dedup keys stored with the GTT: a transition is told when its key
 * is not in the set, whichever source brought it.
 */
export type GttNotificationKind = "gtt_triggered" | "gtt_failed" | "gtt_cancelled" | "gtt_expired";

export interface GttNotification {
  kind: GttNotificationKind;
  /** `gtt:<gttOrderId>:<strategy>:<status>`; `GTT` stands for the whole GTT. The outbox row adds `:<channel>`. */
  dedupKey: string;
  /** The leg it is about (triggered, failed); null for the whole GTT (cancelled, expired). */
  strategy: string | null;
}

/** Where a rule is: waiting (SCHEDULED, PENDING, OPEN, INACTIVE and any status we do not know), triggered, or over. */
export type RuleOutcome = "waiting" | "triggered" | "failed" | "cancelled" | "expired";

const OUTCOME: Readonly<Record<string, RuleOutcome>> = {
  TRIGGERED: "triggered",
  // Upstox staff: COMPLETED is the exchange's acknowledgement of the child order, a step after TRIGGERED.
  COMPLETED: "triggered",
  FAILED: "failed",
  CANCELLED: "cancelled",
  EXPIRED: "expired",
};

export const ruleOutcome = (status: string): RuleOutcome => OUTCOME[status.trim().toUpperCase()] ?? "waiting";

/** waiting < TRIGGERED < any final status (COMPLETED, FAILED, CANCELLED, EXPIRED). */
function rank(status: string): number {
  const s = status.trim().toUpperCase();
  if (s === "TRIGGERED") return 1;
  return ruleOutcome(s) === "waiting" ? 0 : 2;
}

/**
 * The rules after a report: the legs are the incoming ones (a modify may drop a leg), each
 * keeping the stored status when that one is further along. A final status is never
 * replaced (a late CANCELLED after COMPLETED, or a late SCHEDULED, changes nothing); the
 * child order id and Upstox's message survive a later report that lacks them.
 */
export function mergeRules(stored: readonly GttRuleSnapshot[] | undefined, incoming: readonly GttRuleSnapshot[]): GttRuleSnapshot[] {
  const before = new Map((stored ?? []).map((r) => [r.strategy, r]));
  return incoming.map((r) => {
    const old = before.get(r.strategy);
    if (!old) return { ...r };
    const oldRank = rank(old.status);
    if (oldRank === 2 || oldRank > rank(r.status)) return { ...old, orderId: old.orderId ?? r.orderId, message: old.message ?? r.message };
    return { ...r, orderId: r.orderId ?? old.orderId, message: r.message ?? old.message };
  });
}

const STRATEGY_ORDER: readonly string[] = ["ENTRY", "TARGET", "STOPLOSS"];
const byStrategy = (a: GttRuleSnapshot, b: GttRuleSnapshot) => orderOf(a.strategy) - orderOf(b.strategy);
const orderOf = (s: string) => {
  const i = STRATEGY_ORDER.indexOf(s);
  return i < 0 ? STRATEGY_ORDER.length : i;
};

/**
 * The notifications the GTT's (merged) rules call for that are not in `told`:
 * - each leg that went TRIGGERED or COMPLETED, once: both statuses share the key
 *   `…:<leg>:TRIGGERED`, so TRIGGERED then COMPLETED (or COMPLETED alone) is one message;
 * - each leg that FAILED, once (the legs Upstox cancels because of it are part of that story);
 * - the whole GTT cancelled, when every rule is CANCELLED (a leg cancelled because another
 *   completed, one-cancels-other, is part of the triggered story, not a cancellation), or
 *   when the entry triggered and every exit leg was then cancelled with none triggered or
 *   failed (the trader dropped the target and stop-loss: the position is no longer covered);
 * - the whole GTT expired, when a rule is EXPIRED, or when `expiresAt` has passed while every
 *   rule is still waiting.
 * Unknown statuses count as waiting and are never told.
 */
export function gttNotifications(
  gtt: { gttOrderId: string; rules: readonly GttRuleSnapshot[]; expiresAt: number | null },
  told: ReadonlySet<string>,
  now: number,
): GttNotification[] {
  const key = (strategy: string, status: string) => `gtt:${gtt.gttOrderId}:${strategy}:${status}`;
  const out: GttNotification[] = [];
  const add = (kind: GttNotificationKind, strategy: string | null, status: string) => {
    const dedupKey = key(strategy ?? "GTT", status);
    if (!told.has(dedupKey)) out.push({ kind, dedupKey, strategy });
  };
  const rules = [...gtt.rules].sort(byStrategy);
  const outcomes = rules.map((r) => ruleOutcome(r.status));
  rules.forEach((r, i) => {
    if (outcomes[i] === "triggered") add("gtt_triggered", r.strategy, "TRIGGERED");
    else if (outcomes[i] === "failed") add("gtt_failed", r.strategy, "FAILED");
  });
  const exits = outcomes.filter((_, i) => rules[i]!.strategy !== "ENTRY");
  const entryTriggered = rules.some((r, i) => r.strategy === "ENTRY" && outcomes[i] === "triggered");
  if (rules.length > 0 && outcomes.every((o) => o === "cancelled")) add("gtt_cancelled", null, "CANCELLED");
  else if (entryTriggered && exits.length > 0 && exits.every((o) => o === "cancelled")) add("gtt_cancelled", null, "CANCELLED");
  const allWaiting = outcomes.every((o) => o === "waiting");
  if (outcomes.includes("expired") || (rules.length > 0 && allWaiting && gtt.expiresAt !== null && gtt.expiresAt <= now)) {
    add("gtt_expired", null, "EXPIRED");
  }
  return out;
}
