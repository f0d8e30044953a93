import { describe, expect, it } from "vitest";
import { RuleIndex } from "../../src/signals/rule-index.js";
import type { AlertRule } from "../../src/signals/rules.js";
import { alertRule as rule } from "../support/rules.js";

const KEY = "NSE_EQ|INE002A01018";
const T0 = Date.parse("2025-01-15T10:30:00+05:30");

/** The ids candidates() hands out for a quote at `price`, then settles there. */
function visit(index: RuleIndex, price: number, opts: { previous?: number; prevClose?: number; now?: number; key?: string } = {}): number[] {
  const out: AlertRule[] = [];
  const key = opts.key ?? KEY;
  const entry = index.instrument(key);
  if (!entry) return [];
  index.candidates(entry, price, opts.prevClose ?? 1000, opts.previous, opts.now ?? T0, out);
  index.settle(entry, price, opts.prevClose ?? 1000, opts.now ?? T0);
  return out.map((r) => r.id).sort((a, b) => a - b);
}

describe("RuleIndex", () => {
  it("visits every rule the first time an instrument is quoted, then only rules with a level between the last price and this one", () => {
    const levels = Array.from({ length: 100 }, (_, i) => 950 + i);
    const rules = levels.map((level) => rule("cross_up", { level }));
    const index = RuleIndex.build(rules);
    expect(visit(index, 900)).toHaveLength(100);
    // Below every level (and every re-arm level): nothing to look at.
    expect(visit(index, 901, { previous: 900 })).toEqual([]);
    // 901 -> 960.5: the levels 950..960 and the re-arm levels (0.1 % below) up to 960.5: 950..961.
    expect(visit(index, 960.5, { previous: 901 })).toEqual(rules.filter((r) => r.params.level! <= 961).map((r) => r.id));
    // No move: nothing.
    expect(visit(index, 960.5, { previous: 960.5 })).toEqual([]);
  });

  it("measures from the previous poll's price as well as its own settled price", () => {
    const r = rule("cross_up", { level: 1000 });
    const index = RuleIndex.build([r]);
    visit(index, 1010);
    // Another process saw 990 in between: 990 -> 1005 crosses the level although 1010 -> 1005 does not.
    expect(visit(index, 1005, { previous: 990 })).toEqual([r.id]);
  });

  it("keeps visiting a rule that acts at the settled price until it no longer does", () => {
    const r = rule("price_above", { level: 1000 }, { frequency: "every", cooldownSeconds: 60, lastFiredAt: T0 - 10_000 });
    const index = RuleIndex.build([r]);
    visit(index, 990);
    // Crosses while its cooldown holds it back: nothing changes, so it stays pending.
    expect(visit(index, 1001, { previous: 990 })).toEqual([r.id]);
    expect(visit(index, 1001, { previous: 1001, now: T0 + 5000 })).toEqual([r.id]);
    // It fired (the caller replaces it, disarmed): no longer pending.
    index.replace({ ...r, state: { armed: false, lastPrice: 1001 }, lastFiredAt: T0 + 50_000, fireCount: 1 });
    expect(visit(index, 1001, { previous: 1001, now: T0 + 50_000 })).toEqual([r.id]);
    expect(visit(index, 1001, { previous: 1001, now: T0 + 55_000 })).toEqual([]);
  });

  it("wakes a rule when its snooze ends and when it expires, whatever the price does", () => {
    const snoozed = rule("price_above", { level: 1000 }, { snoozedUntil: T0 + 60_000 });
    const expiring = rule("price_below", { level: 900 }, { expiresAt: T0 + 120_000 });
    const index = RuleIndex.build([snoozed, expiring]);
    visit(index, 1010, { now: T0 });
    expect(visit(index, 1010, { previous: 1010, now: T0 + 30_000 })).toEqual([]);
    expect(visit(index, 1010, { previous: 1010, now: T0 + 60_000 })).toEqual([snoozed.id]);
    expect(visit(index, 1010, { previous: 1010, now: T0 + 119_000 })).toEqual([snoozed.id]); // still acting (not fired by the caller)
    index.remove(snoozed.id);
    expect(visit(index, 1010, { previous: 1010, now: T0 + 120_000 })).toEqual([expiring.id]);
  });

  it("indexes change_pct around the quote's previous close, and visits them all when it changes", () => {
    const a = rule("change_pct", { pct: 2 });
    const b = rule("change_pct", { pct: 4 });
    const index = RuleIndex.build([a, b]);
    visit(index, 1000, { prevClose: 1000 });
    expect(visit(index, 1010, { previous: 1000, prevClose: 1000 })).toEqual([]);
    expect(visit(index, 1021, { previous: 1010, prevClose: 1000 })).toEqual([a.id]);
    // A new session: both are looked at again against the new close.
    expect(visit(index, 1021, { previous: 1021, prevClose: 1020 })).toEqual([a.id, b.id]);
  });

  it("on a reload keeps unchanged rules settled and visits new and changed ones", () => {
    const quiet = rule("cross_up", { level: 1100 });
    const edited = rule("cross_up", { level: 1200 });
    const first = RuleIndex.build([quiet, edited]);
    visit(first, 1000);
    const added = rule("price_above", { level: 900 });
    const second = RuleIndex.build([quiet, { ...edited, params: { level: 1001 } }, added], first);
    expect(second.settledPrice(KEY)).toBe(1000);
    expect(visit(second, 1000, { previous: 1000 })).toEqual([edited.id, added.id]);
    expect(second.size).toBe(3);
  });

  it("replaces and removes rules in place by id", () => {
    const a = rule("price_above", { level: 1000 });
    const b = rule("rsi_above", { level: 70 });
    const other = rule("price_below", { level: 5 }, { instrumentKey: "NSE_EQ|OTHER" });
    const index = RuleIndex.build([a, b, other]);
    expect(index.forInstrument(KEY).map((r) => r.id)).toEqual([a.id, b.id]);
    const fired = { ...a, fireCount: 1 };
    index.replace(fired);
    expect(index.forInstrument(KEY)[0]).toBe(fired);
    index.remove(a.id);
    expect(index.forInstrument(KEY)).toEqual([b]);
    expect(index.size).toBe(2);
    expect(index.instrumentKeys().sort()).toEqual([KEY, "NSE_EQ|OTHER"].sort());
    // Candle rules are never handed out for quotes.
    expect(visit(index, 2000)).toEqual([]);
  });
});
