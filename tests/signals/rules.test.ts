import { describe, expect, it } from "vitest";
import type { Quote } from "../../src/market/types.js";
import { changePct, evaluateRule, initialRuleState, type AlertRule, type PriceRuleKind, type RuleOutcome } from "../../src/signals/rules.js";

const T0 = Date.UTC(2025, 0, 6, 4, 0, 0); // 09:30 IST, on a minute boundary

function quote(lastPrice: number, prevClose = 1000): Quote {
  return {
    instrumentKey: "NSE_EQ|INE002A01018",
    symbol: "RELIANCE",
    lastPrice,
    open: prevClose,
    high: Math.max(prevClose, lastPrice),
    low: Math.min(prevClose, lastPrice),
    prevClose,
    volume: 1000,
    lastTradeAt: T0,
  };
}

function rule(kind: PriceRuleKind, overrides: Partial<AlertRule> = {}): AlertRule {
  return {
    id: 1,
    userId: 1,
    instrumentKey: "NSE_EQ|INE002A01018",
    kind,
    params: kind === "change_pct" ? { pct: 2 } : { level: 1000 },
    frequency: "every",
    cooldownSeconds: 0,
    expiresAt: null,
    lastFiredAt: null,
    fireCount: 0,
    state: initialRuleState(),
    ...overrides,
  };
}

/**
 * Feeds prices to a rule one quote per `stepMs`, carrying state, lastFiredAt and fireCount
 * forward as the engine and repository do. Returns which prices fired.
 */
function run(r: AlertRule, prices: number[], opts: { stepMs?: number; start?: number; prevClose?: number } = {}) {
  const stepMs = opts.stepMs ?? 1000;
  let current = { ...r };
  const outcomes: RuleOutcome[] = [];
  prices.forEach((p, i) => {
    const now = (opts.start ?? T0) + i * stepMs;
    const o = evaluateRule(current, quote(p, opts.prevClose), now);
    outcomes.push(o);
    current = {
      ...current,
      state: o.state,
      ...(o.fired ? { lastFiredAt: now, fireCount: current.fireCount + 1 } : {}),
    };
  });
  return { outcomes, fired: outcomes.map((o) => o.fired), rule: current };
}

describe("price_above / price_below", () => {
  it("price_above fires at the level and above, not below it", () => {
    expect(evaluateRule(rule("price_above"), quote(999.95), T0).fired).toBe(false);
    const at = evaluateRule(rule("price_above"), quote(1000), T0);
    expect(at.fired).toBe(true);
    expect(at.detail).toEqual({ price: 1000, level: 1000 });
    expect(evaluateRule(rule("price_above"), quote(1010), T0).fired).toBe(true);
  });

  it("price_below fires at the level and below, not above it", () => {
    expect(evaluateRule(rule("price_below"), quote(1000.05), T0).fired).toBe(false);
    expect(evaluateRule(rule("price_below"), quote(1000), T0).fired).toBe(true);
    expect(evaluateRule(rule("price_below"), quote(900), T0).detail).toEqual({ price: 900, level: 1000 });
  });

  it("price_above fires on its first quote if already above (a level, not a crossing)", () => {
    expect(run(rule("price_above"), [1050]).fired).toEqual([true]);
  });

  it("disarms after firing and records the price seen", () => {
    const o = evaluateRule(rule("price_above"), quote(1001), T0);
    expect(o.state).toMatchObject({ armed: false, lastPrice: 1001 });
    expect(o.state.recentFires).toEqual([T0]);
    const quiet = evaluateRule(rule("price_above"), quote(990), T0);
    expect(quiet).toEqual({ fired: false, state: { armed: true, lastPrice: 990 } });
  });

  it("does not fire without a level", () => {
    expect(evaluateRule(rule("price_above", { params: {} }), quote(1e9), T0).fired).toBe(false);
    expect(evaluateRule(rule("price_below", { params: {} }), quote(0.05), T0).fired).toBe(false);
  });
});

describe("cross_up / cross_down", () => {
  it("cross_up does not fire when the first quote is already above the level", () => {
    expect(run(rule("cross_up"), [1010, 1020, 1030]).fired).toEqual([false, false, false]);
  });

  it("cross_up fires on a move from below to at-or-above", () => {
    expect(run(rule("cross_up"), [990, 995, 1000, 1005]).fired).toEqual([false, false, true, false]);
    expect(run(rule("cross_up"), [990, 1020]).fired).toEqual([false, true]);
  });

  it("cross_up does not fire on a move that stays below, or on a move down", () => {
    expect(run(rule("cross_up"), [980, 999.95, 990]).fired).toEqual([false, false, false]);
    expect(run(rule("cross_up"), [1010, 990]).fired).toEqual([false, false]);
  });

  it("cross_down mirrors cross_up", () => {
    expect(run(rule("cross_down"), [990, 980]).fired).toEqual([false, false]);
    expect(run(rule("cross_down"), [1010, 1005, 1000, 995]).fired).toEqual([false, false, true, false]);
    expect(run(rule("cross_down"), [1010, 990]).outcomes[1]!.detail).toEqual({ price: 990, level: 1000 });
  });

  it("cross_up starting exactly at the level needs a dip below first", () => {
    expect(run(rule("cross_up"), [1000, 1001, 999, 1000]).fired).toEqual([false, false, false, true]);
  });
});

describe("re-arm band", () => {
  // Default band: 0.1 % of the level, so 999.00 for a level of 1000.
  it("price hovering just under the level inside the band does not re-fire", () => {
    const { fired } = run(rule("price_above"), [1001, 999.5, 1000.5, 999.1, 1002, 999.05, 1000]);
    expect(fired).toEqual([true, false, false, false, false, false, false]);
  });

  it("going beyond the band and back fires again", () => {
    const { fired } = run(rule("price_above"), [1001, 998.95, 1000]);
    expect(fired).toEqual([true, false, true]);
  });

  it("the band is exclusive: exactly at its edge does not re-arm", () => {
    expect(run(rule("price_above"), [1001, 999, 1001]).fired).toEqual([true, false, false]);
  });

  it("price_below re-arms only above the band", () => {
    const { fired } = run(rule("price_below"), [999, 1000.5, 999.5, 1001.5, 1000]);
    expect(fired).toEqual([true, false, false, false, true]);
  });

  it("cross_up after firing needs to leave the band before another crossing counts", () => {
    // Fires on 990 -> 1001; dipping to 999.5 (inside band) and back is chatter, not a new cross.
    const { fired } = run(rule("cross_up"), [990, 1001, 999.5, 1001, 995, 1001]);
    expect(fired).toEqual([false, true, false, false, false, true]);
  });

  it("honours a wider rearmPct", () => {
    const wide = rule("price_above", { params: { level: 1000, rearmPct: 1 } });
    expect(run(wide, [1001, 995, 1001]).fired).toEqual([true, false, false]);
    expect(run(wide, [1001, 989, 1001]).fired).toEqual([true, false, true]);
  });
});

describe("frequency", () => {
  it("once: fires and reports the rule finished as triggered", () => {
    const o = evaluateRule(rule("price_above", { frequency: "once" }), quote(1005), T0);
    expect(o).toMatchObject({ fired: true, finished: "triggered" });
    // A quote that does not fire leaves a once-rule running.
    expect(evaluateRule(rule("price_above", { frequency: "once" }), quote(995), T0).finished).toBeUndefined();
  });

  it("every: never reports finished", () => {
    expect(evaluateRule(rule("price_above", { frequency: "every" }), quote(1005), T0).finished).toBeUndefined();
  });

  it("every with a cooldown suppresses within the cooldown and fires after it", () => {
    const r = rule("price_above", { frequency: "every", cooldownSeconds: 60 });
    // One quote every 10 s; out of the band and back each time, so only the cooldown holds it.
    const prices = [1005, 990, 1005, 990, 1005, 990, 1005, 990, 1005];
    const { fired, rule: after } = run(r, prices, { stepMs: 10_000 });
    // Fires at t=0; re-crosses at 20 s and 40 s are inside the cooldown; 60 s is not.
    expect(fired).toEqual([true, false, false, false, false, false, true, false, false]);
    expect(after.fireCount).toBe(2);
    expect(after.lastFiredAt).toBe(T0 + 60_000);
  });

  it("every with a cooldown stays armed while suppressed, so it fires as soon as the cooldown ends", () => {
    const r = rule("price_above", {
      frequency: "every",
      cooldownSeconds: 30,
      lastFiredAt: T0 - 10_000,
      state: { armed: true, lastPrice: 990 },
    });
    const suppressed = evaluateRule(r, quote(1005), T0);
    expect(suppressed.fired).toBe(false);
    expect(suppressed.state.armed).toBe(true);
    expect(evaluateRule({ ...r, state: suppressed.state }, quote(1005), T0 + 20_000).fired).toBe(true);
    // Exactly at the end of the cooldown counts as after it.
    expect(evaluateRule(r, quote(1005), T0 + 20_000).fired).toBe(true);
    expect(evaluateRule(r, quote(1005), T0 + 19_999).fired).toBe(false);
  });

  it("once_per_bar fires at most once per one-minute bar", () => {
    const r = rule("price_above", { frequency: "once_per_bar" });
    // Every 5 s for two minutes, bouncing out of and back into the condition.
    const prices = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 1005 : 990));
    const { outcomes } = run(r, prices, { stepMs: 5000 });
    const firedAt = outcomes.flatMap((o, i) => (o.fired ? [T0 + i * 5000] : []));
    expect(firedAt).toEqual([T0, T0 + 60_000]);
  });

  it("once_per_bar uses bar boundaries, not 60 s since the last fire", () => {
    const r = rule("price_above", { frequency: "once_per_bar", lastFiredAt: T0 + 50_000 });
    expect(evaluateRule(r, quote(1005), T0 + 59_999).fired).toBe(false);
    expect(evaluateRule(r, quote(1005), T0 + 60_000).fired).toBe(true);
  });
});

describe("expiry", () => {
  it("an expired rule reports finished 'expired' and does not fire even when the condition holds", () => {
    const r = rule("price_above", { expiresAt: T0 });
    const o = evaluateRule(r, quote(2000), T0);
    expect(o.fired).toBe(false);
    expect(o.finished).toBe("expired");
    expect(o.state).toBe(r.state);
    expect(evaluateRule(r, quote(2000), T0 + 86_400_000).finished).toBe("expired");
  });

  it("a rule before its expiry works normally", () => {
    const o = evaluateRule(rule("price_above", { expiresAt: T0 + 1, frequency: "once" }), quote(2000), T0);
    expect(o).toMatchObject({ fired: true, finished: "triggered" });
  });
});

describe("change_pct", () => {
  it("uses the previous close and fires on an absolute move of at least pct, either way", () => {
    const r = rule("change_pct", { params: { pct: 2 } });
    expect(evaluateRule(r, quote(1019.95, 1000), T0).fired).toBe(false);
    const up = evaluateRule(r, quote(1020, 1000), T0);
    expect(up.fired).toBe(true);
    expect(up.detail).toEqual({ price: 1020, changePct: 2 });
    const down = evaluateRule(r, quote(970, 1000), T0);
    expect(down.fired).toBe(true);
    expect(down.detail).toEqual({ price: 970, changePct: -3 });
    expect(evaluateRule(r, quote(981, 1000), T0).fired).toBe(false);
  });

  it("measures from prevClose, not from the open or the last price seen", () => {
    const r = rule("change_pct", { params: { pct: 1 }, state: { armed: true, lastPrice: 500 } });
    const q = { ...quote(1015, 1000), open: 1014 };
    expect(evaluateRule(r, q, T0).detail?.changePct).toBe(1.5);
    expect(evaluateRule(r, { ...q, prevClose: 1010 }, T0).fired).toBe(false);
  });

  it("never fires without a usable previous close or a pct", () => {
    expect(evaluateRule(rule("change_pct"), quote(1500, 0), T0).fired).toBe(false);
    expect(evaluateRule(rule("change_pct", { params: {} }), quote(5000, 1000), T0).fired).toBe(false);
  });

  it("re-arms only after the move shrinks well back inside the threshold", () => {
    const r = rule("change_pct", { params: { pct: 2 } });
    // 2.5 % fires; 1.9 % is still close to the threshold; 1.5 % re-arms; 2.1 % fires again.
    const { fired } = run(r, [1025, 1019, 1025, 1015, 1021], { prevClose: 1000 });
    expect(fired).toEqual([true, false, false, false, true]);
  });

  it("re-arms with a large rearmPct instead of never firing again", () => {
    const r = rule("change_pct", { params: { pct: 2, rearmPct: 1 } });
    const { fired } = run(r, [1025, 1000, 1025], { prevClose: 1000 });
    expect(fired).toEqual([true, false, true]);
  });

  it("reads rearmPct as a share of pct for change_pct", () => {
    // 50 % of a 2 % threshold: the move must fall below 1 % before firing again.
    const r = rule("change_pct", { params: { pct: 2, rearmPct: 50 } });
    expect(run(r, [1025, 1012, 1025], { prevClose: 1000 }).fired).toEqual([true, false, false]);
    expect(run(r, [1025, 1009, 1025], { prevClose: 1000 }).fired).toEqual([true, false, true]);
  });

  it("changePct is signed percent from the previous close", () => {
    expect(changePct(quote(1050, 1000))).toBeCloseTo(5);
    expect(changePct(quote(950, 1000))).toBeCloseTo(-5);
  });
});
