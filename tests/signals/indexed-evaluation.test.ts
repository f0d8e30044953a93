import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/open.js";
import { AlertRuleRepository, type NewRule } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import type { Quote } from "../../src/market/types.js";
import { seededRandom } from "../../src/market/simulator.js";
import { Notifier } from "../../src/notify/notifier.js";
import { Outbox } from "../../src/notify/outbox.js";
import { DEFAULT_DELIVERY } from "../../src/queue/queues.js";
import { evaluateQuotes } from "../../src/signals/engine.js";
import { RuleBook } from "../../src/signals/rule-book.js";
import { evaluateRule, isCandleRule, type AlertRule, type Frequency, type PriceRuleKind, type RuleParams } from "../../src/signals/rules.js";
import { fileQueues } from "../support/queues.js";

/**
 * The indexed evaluation (RuleBook + RuleIndex + evaluateQuotes) against the straightforward
 * one it replaced: every live price rule of every fresh quote through evaluateRule, its
 * crossing measured from the previous poll's price. Random rules of every price kind,
 * frequency, cooldown, re-arm band, expiry and snooze, over random price walks with gaps,
 * jumps, reversals, stale quotes, a new previous close, and rules added, snoozed, resumed and
 * deleted on the way: the same rules must fire at the same polls with the same details, and
 * end in the same states.
 */

const queues = fileQueues();
const KINDS: readonly PriceRuleKind[] = ["price_above", "price_below", "cross_up", "cross_down", "change_pct"];
const FREQUENCIES: readonly Frequency[] = ["once", "once_per_bar", "every"];
const STALE_AFTER_MS = 30_000;

interface Firing {
  ruleId: number;
  price: number;
  level?: number;
  changePct?: number;
  finished?: string;
}

/** The evaluation as it was before the index: every rule, every quote. Rules held in memory by id. */
class Reference {
  readonly rules = new Map<number, AlertRule>();
  readonly status = new Map<number, string>();

  add(rule: AlertRule): void {
    this.rules.set(rule.id, rule);
    this.status.set(rule.id, "active");
  }

  finish(id: number, status: string): void {
    this.rules.delete(id);
    this.status.set(id, status);
  }

  poll(quotes: ReadonlyMap<string, Quote>, previousPrices: ReadonlyMap<string, number>, now: number): Firing[] {
    const fired: Firing[] = [];
    for (const quote of quotes.values()) {
      const rules = [...this.rules.values()].filter((r) => r.instrumentKey === quote.instrumentKey);
      if (!rules.length || (quote.lastTradeAt > 0 && now - quote.lastTradeAt > STALE_AFTER_MS)) continue;
      const prev = previousPrices.get(quote.instrumentKey);
      for (const rule of rules) {
        if (isCandleRule(rule.kind) || (rule.snoozedUntil && rule.snoozedUntil > now)) continue;
        const seen = prev === undefined ? rule : { ...rule, state: { ...rule.state, lastPrice: prev } };
        const o = evaluateRule(seen, quote, now);
        if (o.fired) {
          fired.push({ ruleId: rule.id, price: o.detail!.price, level: o.detail?.level, changePct: o.detail?.changePct, finished: o.finished });
          if (o.finished) this.finish(rule.id, o.finished);
          else this.rules.set(rule.id, { ...rule, state: o.state, lastFiredAt: now, fireCount: rule.fireCount + 1 });
        } else if (o.finished) this.finish(rule.id, o.finished);
        else this.rules.set(rule.id, { ...rule, state: o.state });
      }
    }
    return fired.sort((a, b) => a.ruleId - b.ruleId);
  }
}

describe("indexed price-rule evaluation", () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  function setUp(clock: () => number) {
    const dir = mkdtempSync(path.join(tmpdir(), "uab-indexed-"));
    const db = openDatabase(path.join(dir, "bot.sqlite"));
    cleanup.push(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const users = new UserRepository(db, clock);
    const rules = new AlertRuleRepository(db, clock);
    const notifier = new Notifier({ db, outbox: new Outbox(db, rules, clock), users, queues: queues(), delivery: DEFAULT_DELIVERY, clock });
    return { db, users, rules, notifier };
  }

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`fires exactly what evaluating every rule fires, with the same end states (seed ${seed})`, () => {
      const rand = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      let now = Date.parse("2025-01-15T09:20:00+05:30");
      const { db, users, rules, notifier } = setUp(() => now);
      const book = new RuleBook(rules);
      const reference = new Reference();
      const userIds = Array.from({ length: 5 }, (_, i) => users.create({ telegramId: 100 + i }).id);

      const keys = ["NSE_EQ|INE000A00001", "NSE_EQ|INE000A00002", "NSE_EQ|INE000A00003"];
      const prices = new Map(keys.map((k, i) => [k, 100 * (i + 1)]));
      const prevCloses = new Map(prices);

      const randomRule = (): NewRule => {
        const instrumentKey = pick(keys);
        const kind = pick(KINDS);
        const p = prices.get(instrumentKey)!;
        const rearm = pick([undefined, undefined, 0.05, 0.5, 2, 50]);
        const params: RuleParams = kind === "change_pct" ? { pct: 0.3 + rand() * 3 } : { level: Math.round(p * (0.97 + rand() * 0.06) * 20) / 20 };
        if (rearm !== undefined) params.rearmPct = rearm;
        return {
          userId: pick(userIds),
          instrumentKey,
          kind,
          params,
          frequency: pick(FREQUENCIES),
          cooldownSeconds: pick([0, 0, 5, 30, 60]),
          expiresAt: rand() < 0.15 ? now + Math.floor(rand() * 600_000) : null,
        };
      };
      const addRule = () => reference.add(rules.create(randomRule()));
      for (let i = 0; i < 120; i++) addRule();
      // A choppy instrument and rules that fire on every wiggle: the runaway guard pauses them.
      const CHOP = "NSE_EQ|INE000A00004";
      prevCloses.set(CHOP, 500);
      for (const kind of ["cross_up", "cross_down", "price_above", "change_pct"] as const) {
        const params = kind === "change_pct" ? { pct: 0.02, rearmPct: 10 } : { level: 500, rearmPct: 0.01 };
        reference.add(rules.create({ userId: userIds[0]!, instrumentKey: CHOP, kind, params, frequency: "every", cooldownSeconds: 0 }));
      }

      const previous = new Map<string, number>();
      let fired = 0;
      for (let poll = 0; poll < 400; poll++) {
        now += pick([1000, 2000, 5000, 5000, 10_000, 30_000]);
        // Rules change on the way: added, snoozed, un-snoozed, deleted (the book reloads).
        const change = rand();
        if (change < 0.05) addRule();
        else if (change < 0.08 || change > 0.99) {
          const r = pick([...reference.rules.values()]);
          if (r) {
            const until = change > 0.99 ? null : now + Math.floor(rand() * 120_000);
            rules.snooze(r.id, r.userId, until);
            reference.rules.set(r.id, { ...r, snoozedUntil: until });
          }
        } else if (change < 0.09) {
          const r = pick([...reference.rules.values()]);
          if (r && rules.delete(r.id, r.userId)) reference.finish(r.id, "deleted");
        }
        // A new session now and then: the previous close moves.
        if (rand() < 0.01) {
          const k = pick(keys);
          prevCloses.set(k, prices.get(k)!);
        }

        const batch = new Map<string, Quote>();
        const chop = 500 + (poll % 2 ? 1 : -1) * (0.2 + rand() * 0.3);
        batch.set(CHOP, {
          instrumentKey: CHOP,
          symbol: "CHOP",
          lastPrice: chop,
          open: chop,
          high: chop,
          low: chop,
          prevClose: 500,
          volume: 1,
          lastTradeAt: now,
        });
        for (const key of keys) {
          if (rand() < 0.1) continue; // not in this poll's batch
          const r = rand();
          const move = r < 0.05 ? (rand() - 0.5) * 0.08 : r < 0.15 ? 0 : (rand() - 0.5) * 0.006;
          const p = Math.max(1, Math.round(prices.get(key)! * (1 + move) * 20) / 20);
          prices.set(key, p);
          const stale = rand() < 0.1;
          batch.set(key, {
            instrumentKey: key,
            symbol: key.slice(-5),
            lastPrice: p,
            open: p,
            high: p,
            low: p,
            prevClose: prevCloses.get(key)!,
            volume: 1,
            lastTradeAt: stale ? now - STALE_AFTER_MS - 1000 : now,
          });
        }

        const expected = reference.poll(batch, previous, now);
        const result = evaluateQuotes(batch, previous, { db, book, rules, users, notifier, now, staleAfterMs: STALE_AFTER_MS });
        const signals = db.prepare("SELECT rule_id, payload FROM signals WHERE created_at = ? ORDER BY rule_id").all(now) as Array<{
          rule_id: number;
          payload: string;
        }>;
        const actual = signals.map((s) => {
          const p = JSON.parse(s.payload) as { price: number; level?: number; changePct?: number };
          const row = db.prepare("SELECT status FROM alert_rules WHERE id = ?").get(s.rule_id) as { status: string };
          return {
            ruleId: s.rule_id,
            price: p.price,
            level: p.level,
            changePct: p.changePct,
            finished: row.status === "active" ? undefined : row.status,
          };
        });
        expect({ poll, fired: actual }).toEqual({ poll, fired: expected });
        expect(result.fired.map((f) => f.ruleId).sort((a, b) => a - b)).toEqual(expected.map((f) => f.ruleId));
        fired += expected.length;
        // Whichever process polls records every quote, stale or not: the next poll's previous prices.
        for (const [k, q] of batch) previous.set(k, q.lastPrice);
      }
      expect(fired).toBeGreaterThan(50);
      const statuses = db.prepare("SELECT DISTINCT status FROM alert_rules ORDER BY status").all() as Array<{ status: string }>;
      expect(statuses.map((r) => r.status)).toEqual(expect.arrayContaining(["expired", "paused", "triggered"]));

      const rows = db.prepare("SELECT id, status, state, fire_count, last_fired_at FROM alert_rules ORDER BY id").all() as Array<{
        id: number;
        status: string;
        state: string;
        fire_count: number;
        last_fired_at: number | null;
      }>;
      for (const row of rows) {
        const status = reference.status.get(row.id);
        expect({ id: row.id, status: row.status }).toEqual({ id: row.id, status });
        const ref = reference.rules.get(row.id);
        if (!ref) continue;
        const state = JSON.parse(row.state) as AlertRule["state"];
        expect({ id: row.id, armed: state.armed, recentFires: state.recentFires, fireCount: row.fire_count, lastFiredAt: row.last_fired_at }).toEqual({
          id: row.id,
          armed: ref.state.armed,
          recentFires: ref.state.recentFires,
          fireCount: ref.fireCount,
          lastFiredAt: ref.lastFiredAt,
        });
      }
    });
  }

  it("a crossing seen by two processes' overlapping evaluations is one alert", () => {
    const KEY = "NSE_EQ|INE002A01018";
    const now = Date.parse("2025-01-15T10:30:00+05:30");
    const a = setUp(() => now);
    // The second process: its own connection to the same file, its own book and notifier.
    const file = a.db.name;
    const dbB = openDatabase(file);
    cleanup.unshift(() => dbB.close());
    const rulesB = new AlertRuleRepository(dbB, () => now);
    const usersB = new UserRepository(dbB, () => now);
    const notifierB = new Notifier({
      db: dbB,
      outbox: new Outbox(dbB, rulesB, () => now),
      users: usersB,
      queues: queues(),
      delivery: DEFAULT_DELIVERY,
      clock: () => now,
    });

    const u = a.users.create({ telegramId: 1 });
    a.rules.create({ userId: u.id, instrumentKey: KEY, kind: "cross_up", params: { level: 1450 }, frequency: "every" });
    a.rules.create({ userId: u.id, instrumentKey: KEY, kind: "price_above", params: { level: 1440 } });
    const bookA = new RuleBook(a.rules);
    const bookB = new RuleBook(rulesB);
    const q = (p: number, t: number): Map<string, Quote> =>
      new Map([[KEY, { instrumentKey: KEY, symbol: "RELIANCE", lastPrice: p, open: p, high: p, low: p, prevClose: 1400, volume: 1, lastTradeAt: t }]]);
    const depsA = (t: number) => ({ db: a.db, book: bookA, rules: a.rules, users: a.users, notifier: a.notifier, now: t, staleAfterMs: 30_000 });
    const depsB = (t: number) => ({ db: dbB, book: bookB, rules: rulesB, users: usersB, notifier: notifierB, now: t, staleAfterMs: 30_000 });

    // Both settle below the levels, then both see the same crossing (the same previous price).
    expect(evaluateQuotes(q(1430, now), new Map([[KEY, 1430]]), depsA(now)).fired).toHaveLength(0);
    expect(evaluateQuotes(q(1430, now), new Map([[KEY, 1430]]), depsB(now)).fired).toHaveLength(0);
    const t1 = now + 5000;
    const first = evaluateQuotes(q(1455, t1), new Map([[KEY, 1430]]), depsA(t1));
    const second = evaluateQuotes(q(1455, t1), new Map([[KEY, 1430]]), depsB(t1));
    expect(first.fired).toHaveLength(2);
    expect(second.fired).toHaveLength(0);
    // Later polls by either process, above the levels, add nothing.
    for (let i = 2; i < 6; i++) {
      const t = now + i * 5000;
      const deps = i % 2 ? depsA(t) : depsB(t);
      expect(evaluateQuotes(q(1456, t), new Map([[KEY, 1455]]), deps).fired).toHaveLength(0);
    }
    const n = (a.db.prepare("SELECT COUNT(*) AS n FROM notifications").get() as { n: number }).n;
    expect(n).toBe(2);
    expect((a.db.prepare("SELECT COUNT(*) AS n FROM signals").get() as { n: number }).n).toBe(2);
  });

  it("keeps a rule whose condition holds but whose cooldown holds it back, and fires it when the cooldown ends", () => {
    let now = Date.parse("2025-01-15T10:30:00+05:30");
    const { db, users, rules, notifier } = setUp(() => now);
    const KEY = "NSE_EQ|INE002A01018";
    const u = users.create({ telegramId: 1 });
    rules.create({ userId: u.id, instrumentKey: KEY, kind: "price_above", params: { level: 1000 }, frequency: "every", cooldownSeconds: 60 });
    const book = new RuleBook(rules);
    const poll = (p: number, prev: number) => {
      const q: Quote = { instrumentKey: KEY, symbol: "X", lastPrice: p, open: p, high: p, low: p, prevClose: 990, volume: 1, lastTradeAt: now };
      return evaluateQuotes(new Map([[KEY, q]]), new Map([[KEY, prev]]), { db, book, rules, users, notifier, now, staleAfterMs: 30_000 }).fired.length;
    };
    expect(poll(1001, 999)).toBe(1);
    now += 5000;
    expect(poll(990, 1001)).toBe(0); // re-armed
    now += 5000;
    expect(poll(1002, 990)).toBe(0); // inside the cooldown
    const fires: number[] = [];
    // The price does not move again; the rule fires as soon as the cooldown is over.
    for (let i = 0; i < 12; i++) {
      now += 5000;
      fires.push(poll(1002, 1002));
    }
    expect(fires.indexOf(1)).toBe(9); // 60 s after the first firing
    expect(fires.filter((f) => f === 1)).toHaveLength(1);
  });
});
