import { initialRuleState, type AlertRule, type RuleKind } from "../../src/signals/rules.js";

let nextId = 1;

/** An in-memory rule as the rule book holds it: RELIANCE, fires every time, armed; each gets its own id unless given one. */
export function alertRule(kind: RuleKind, params: AlertRule["params"] = {}, overrides: Partial<AlertRule> = {}): AlertRule {
  return {
    id: nextId++,
    userId: 1,
    instrumentKey: "NSE_EQ|INE002A01018",
    kind,
    params,
    frequency: "every",
    cooldownSeconds: 0,
    expiresAt: null,
    lastFiredAt: null,
    fireCount: 0,
    state: initialRuleState(),
    snoozedUntil: null,
    ...overrides,
  };
}
