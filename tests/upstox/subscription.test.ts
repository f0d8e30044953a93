import { describe, expect, it } from "vitest";
import { applyRequests, diffSubscription, planSubscription, type FeedMode } from "../../src/upstox/feed/subscription.js";

const keys = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `NSE_EQ|K${from + i}`);

describe("planSubscription", () => {
  it("puts up to 2000 instruments in full mode, in wanted order, duplicates once", () => {
    const wanted = [...keys(3), "NSE_EQ|K1"];
    expect(planSubscription(wanted)).toEqual({ full: keys(3), ltpc: [], overLimit: [] });
    const plan = planSubscription(keys(2000));
    expect(plan.full).toHaveLength(2000);
    expect(plan.ltpc).toEqual([]);
  });

  it("puts all of them in LTPC past 2000 (never mixed) and leaves the keys past 5000 over the limit", () => {
    const plan = planSubscription(keys(2001));
    expect(plan.full).toEqual([]);
    expect(plan.ltpc).toEqual(keys(2001));

    const big = planSubscription(keys(5003));
    expect(big.ltpc).toEqual(keys(5000));
    expect(big.overLimit).toEqual(keys(3, 5000));
  });

  it("takes custom limits", () => {
    expect(planSubscription(keys(4), { full: 2, ltpc: 3 })).toEqual({ full: [], ltpc: keys(3), overLimit: keys(1, 3) });
  });
});

describe("diffSubscription", () => {
  it("subscribes everything from an empty connection, in batches of at most 1000 keys", () => {
    const reqs = diffSubscription(new Map(), planSubscription(keys(2500)));
    expect(reqs.map((r) => [r.method, r.mode, r.instrumentKeys.length])).toEqual([
      ["sub", "ltpc", 1000],
      ["sub", "ltpc", 1000],
      ["sub", "ltpc", 500],
    ]);
    expect(reqs.flatMap((r) => r.instrumentKeys)).toEqual(keys(2500));
  });

  it("unsubscribes what is no longer wanted before it subscribes what is new; nothing when nothing changed", () => {
    const current = new Map<string, FeedMode>(keys(10).map((k) => [k, "full"]));
    const wanted = [...keys(7, 3), ...keys(2, 100)];
    const reqs = diffSubscription(current, planSubscription(wanted));
    expect(reqs).toEqual([
      { method: "unsub", mode: "full", instrumentKeys: keys(3) },
      { method: "sub", mode: "full", instrumentKeys: keys(2, 100) },
    ]);
    applyRequests(current, reqs);
    expect([...current.keys()].sort()).toEqual([...wanted].sort());
    expect(diffSubscription(current, planSubscription(wanted))).toEqual([]);
  });

  it("switches mode by unsubscribing everything and subscribing the new set, so the connection never mixes modes", () => {
    const current = new Map<string, FeedMode>(keys(2000).map((k) => [k, "full"]));
    // 2000 full → 2100 wanted (the first 1900 plus 200 new): all become LTPC.
    const wanted = [...keys(1900), ...keys(200, 5000)];
    const reqs = diffSubscription(current, planSubscription(wanted), 1000);
    expect(reqs.map((r) => [r.method, r.mode, r.instrumentKeys.length])).toEqual([
      ["unsub", "full", 1000],
      ["unsub", "full", 1000],
      ["sub", "ltpc", 1000],
      ["sub", "ltpc", 1000],
      ["sub", "ltpc", 100],
    ]);
    applyRequests(current, reqs);
    expect(current.size).toBe(2100);
    expect(new Set(current.values())).toEqual(new Set(["ltpc"]));
    expect(diffSubscription(current, planSubscription(wanted))).toEqual([]);

    // And back to full when the wanted set shrinks to 2000 or fewer.
    const back = diffSubscription(current, planSubscription(keys(50)));
    expect(back.map((r) => [r.method, r.mode, r.instrumentKeys.length])).toEqual([
      ["unsub", "ltpc", 1000],
      ["unsub", "ltpc", 1000],
      ["unsub", "ltpc", 100],
      ["sub", "full", 50],
    ]);
    applyRequests(current, back);
    expect([...current]).toEqual(keys(50).map((k) => [k, "full"]));
  });
});
