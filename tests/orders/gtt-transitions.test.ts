import { describe, expect, it } from "vitest";
import { gttNotifications, mergeRules, ruleOutcome } from "../../src/orders/gtt-transitions.js";
import type { GttRuleSnapshot } from "../../src/orders/gtt-update.js";

const NOW = Date.parse("2025-01-15T10:30:00+05:30");
const ID = "GTT-C1";

const leg = (strategy: string, status: string, over: Partial<GttRuleSnapshot> = {}): GttRuleSnapshot => ({
  strategy,
  status,
  triggerType: strategy === "ENTRY" ? "ABOVE" : "IMMEDIATE",
  triggerPrice: strategy === "ENTRY" ? 1500 : strategy === "TARGET" ? 1600 : 1450,
  transactionType: strategy === "ENTRY" ? "BUY" : "SELL",
  message: null,
  orderId: null,
  trailingGap: null,
  ...over,
});
const told = (rules: GttRuleSnapshot[], before: readonly string[] = [], expiresAt: number | null = null, now = NOW) =>
  gttNotifications({ gttOrderId: ID, rules, expiresAt }, new Set(before), now).map((n) => `${n.kind}:${n.strategy ?? "-"}`);

describe("ruleOutcome", () => {
  it("knows the documented statuses and treats any other as waiting", () => {
    expect(["SCHEDULED", "PENDING", "OPEN", "INACTIVE", "PAUSED", ""].map(ruleOutcome)).toEqual(Array(6).fill("waiting"));
    expect(["TRIGGERED", "completed", "FAILED", "CANCELLED", "EXPIRED"].map(ruleOutcome)).toEqual(["triggered", "triggered", "failed", "cancelled", "expired"]);
  });
});

describe("mergeRules", () => {
  it("keeps a further-along status against a late report, and the child order id once known", () => {
    const stored = [leg("ENTRY", "COMPLETED", { orderId: "O1" }), leg("TARGET", "TRIGGERED"), leg("STOPLOSS", "PENDING")];
    const late = [leg("ENTRY", "TRIGGERED"), leg("TARGET", "PENDING"), leg("STOPLOSS", "CANCELLED")];
    expect(mergeRules(stored, late).map((r) => [r.strategy, r.status, r.orderId])).toEqual([
      ["ENTRY", "COMPLETED", "O1"],
      ["TARGET", "TRIGGERED", null],
      ["STOPLOSS", "CANCELLED", null],
    ]);
  });

  it("never replaces a final status, and takes a newer waiting leg's trigger (a modify)", () => {
    const stored = [leg("ENTRY", "SCHEDULED"), leg("TARGET", "CANCELLED")];
    const merged = mergeRules(stored, [leg("ENTRY", "SCHEDULED", { triggerPrice: 1510 }), leg("TARGET", "COMPLETED")]);
    expect(merged.map((r) => [r.strategy, r.status, r.triggerPrice])).toEqual([
      ["ENTRY", "SCHEDULED", 1510],
      ["TARGET", "CANCELLED", 1600],
    ]);
  });

  it("takes the incoming legs as the GTT's legs", () => {
    expect(mergeRules([leg("ENTRY", "SCHEDULED"), leg("STOPLOSS", "PENDING")], [leg("ENTRY", "SCHEDULED")]).map((r) => r.strategy)).toEqual(["ENTRY"]);
    expect(mergeRules(undefined, [leg("ENTRY", "SCHEDULED")])).toEqual([leg("ENTRY", "SCHEDULED")]);
  });
});

describe("gttNotifications", () => {
  it("tells nothing while every leg waits, whatever Upstox calls it", () => {
    expect(told([leg("ENTRY", "SCHEDULED"), leg("TARGET", "PENDING"), leg("STOPLOSS", "SOMETHING_NEW")])).toEqual([]);
  });

  it("tells a triggered leg once: TRIGGERED and COMPLETED share one key", () => {
    const first = gttNotifications({ gttOrderId: ID, rules: [leg("ENTRY", "TRIGGERED")], expiresAt: null }, new Set(), NOW);
    expect(first).toEqual([{ kind: "gtt_triggered", dedupKey: "gtt:GTT-C1:ENTRY:TRIGGERED", strategy: "ENTRY" }]);
    expect(told([leg("ENTRY", "COMPLETED")], ["gtt:GTT-C1:ENTRY:TRIGGERED"])).toEqual([]);
    expect(told([leg("ENTRY", "COMPLETED")])).toEqual(["gtt_triggered:ENTRY"]);
  });

  it("one-cancels-other: the completed exit is told, the cancelled one is not", () => {
    const rules = [leg("ENTRY", "COMPLETED"), leg("STOPLOSS", "CANCELLED"), leg("TARGET", "COMPLETED")];
    expect(told(rules, ["gtt:GTT-C1:ENTRY:TRIGGERED"])).toEqual(["gtt_triggered:TARGET"]);
    // Seen for the first time all at once: both triggered legs, entry first.
    expect(told(rules)).toEqual(["gtt_triggered:ENTRY", "gtt_triggered:TARGET"]);
  });

  it("a failed leg is told with the legs it cancelled left out", () => {
    expect(told([leg("ENTRY", "FAILED"), leg("STOPLOSS", "CANCELLED"), leg("TARGET", "CANCELLED")])).toEqual(["gtt_failed:ENTRY"]);
  });

  it("cancelled only when every leg is", () => {
    expect(told([leg("ENTRY", "CANCELLED"), leg("TARGET", "CANCELLED")])).toEqual(["gtt_cancelled:-"]);
    expect(told([leg("ENTRY", "CANCELLED"), leg("TARGET", "CANCELLED")], ["gtt:GTT-C1:GTT:CANCELLED"])).toEqual([]);
    expect(told([leg("ENTRY", "CANCELLED"), leg("TARGET", "PENDING")])).toEqual([]);
  });

  it("the exits cancelled after the entry triggered: told as a cancellation, once, after the trigger", () => {
    const rules = [leg("ENTRY", "COMPLETED"), leg("TARGET", "CANCELLED"), leg("STOPLOSS", "CANCELLED")];
    expect(told(rules, ["gtt:GTT-C1:ENTRY:TRIGGERED"])).toEqual(["gtt_cancelled:-"]);
    expect(told(rules, ["gtt:GTT-C1:ENTRY:TRIGGERED", "gtt:GTT-C1:GTT:CANCELLED"])).toEqual([]);
    // One exit still waiting: nothing yet.
    expect(told([leg("ENTRY", "COMPLETED"), leg("TARGET", "CANCELLED"), leg("STOPLOSS", "PENDING")], ["gtt:GTT-C1:ENTRY:TRIGGERED"])).toEqual([]);
  });

  it("expired: an EXPIRED leg, or the expiry passed while every leg waits", () => {
    expect(told([leg("ENTRY", "EXPIRED")])).toEqual(["gtt_expired:-"]);
    expect(told([leg("ENTRY", "COMPLETED"), leg("TARGET", "EXPIRED"), leg("STOPLOSS", "EXPIRED")], ["gtt:GTT-C1:ENTRY:TRIGGERED"])).toEqual(["gtt_expired:-"]);
    expect(told([leg("ENTRY", "SCHEDULED")], [], NOW - 1)).toEqual(["gtt_expired:-"]);
    expect(told([leg("ENTRY", "SCHEDULED")], [], NOW + 60_000)).toEqual([]);
    // Past its expiry but over already (or triggered): nothing about expiry.
    expect(told([leg("ENTRY", "CANCELLED")], ["gtt:GTT-C1:GTT:CANCELLED"], NOW - 1)).toEqual([]);
    expect(told([leg("ENTRY", "COMPLETED"), leg("TARGET", "PENDING")], ["gtt:GTT-C1:ENTRY:TRIGGERED"], NOW - 1)).toEqual([]);
    // Told by the clock, then Upstox says EXPIRED: the same key.
    expect(told([leg("ENTRY", "EXPIRED")], ["gtt:GTT-C1:GTT:EXPIRED"])).toEqual([]);
  });
});
