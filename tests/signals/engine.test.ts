import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import type { Quote } from "../../src/market/types.js";
import { Notifier } from "../../src/notify/notifier.js";
import { Outbox } from "../../src/notify/outbox.js";
import { DEFAULT_DELIVERY } from "../../src/queue/queues.js";
import { fileQueues } from "../support/queues.js";
import { evaluateQuotes, type EngineDeps } from "../../src/signals/engine.js";
import { RuleBook } from "../../src/signals/rule-book.js";

const KEY = "NSE_EQ|INE002A01018";
const T0 = Date.parse("2025-01-15T10:30:00+05:30");

// The Notifier's queues; evaluation only records rows, so nothing is ever queued here.
const queues = fileQueues();

const quote = (lastPrice: number, lastTradeAt = T0, key = KEY): Quote => ({
  instrumentKey: key,
  symbol: "RELIANCE",
  lastPrice,
  open: 1400,
  high: lastPrice,
  low: lastPrice,
  prevClose: 1400,
  volume: 1,
  lastTradeAt,
});

describe("evaluateQuotes with the rule book", () => {
  let dir: string;
  let db: Database;
  let rules: AlertRuleRepository;
  let users: UserRepository;
  let book: RuleBook;
  let deps: (now: number) => EngineDeps & { staleAfterMs: number };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "uab-engine-"));
    db = openDatabase(path.join(dir, "bot.sqlite"));
    users = new UserRepository(db, () => T0);
    rules = new AlertRuleRepository(db, () => T0);
    book = new RuleBook(rules);
    const notifier = new Notifier({ db, outbox: new Outbox(db, rules, () => T0), users, queues: queues(), delivery: DEFAULT_DELIVERY, clock: () => T0 });
    deps = (now) => ({ db, book, rules, users, notifier, now, staleAfterMs: 30_000 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const quotes = (...qs: Quote[]) => new Map(qs.map((q) => [q.instrumentKey, q]));
  const prices = (p: number) => new Map([[KEY, p]]);

  it("measures a crossing from the previous poll's price, even for a rule created since", () => {
    const u = users.create({ telegramId: 1 });
    rules.create({ userId: u.id, instrumentKey: KEY, kind: "cross_up", params: { level: 1450 } });
    const r = evaluateQuotes(quotes(quote(1451)), prices(1449), deps(T0));
    expect(r.fired).toHaveLength(1);
    expect(r.notificationIds).toHaveLength(1);
    expect(rules.allActive()).toHaveLength(0); // frequency once: triggered
  });

  it("does not act on a quote older than two poll intervals", () => {
    const u = users.create({ telegramId: 1 });
    rules.create({ userId: u.id, instrumentKey: KEY, kind: "price_above", params: { level: 1000 } });
    const r = evaluateQuotes(quotes(quote(1451, T0 - 31_000)), new Map(), deps(T0));
    expect(r).toMatchObject({ fired: [], stale: 1 });
    expect(evaluateQuotes(quotes(quote(1451, T0 - 29_000)), new Map(), deps(T0)).fired).toHaveLength(1);
  });

  it("skips snoozed rules until the snooze ends", () => {
    const u = users.create({ telegramId: 1 });
    const rule = rules.create({ userId: u.id, instrumentKey: KEY, kind: "price_above", params: { level: 1000 } });
    db.prepare("UPDATE alert_rules SET snoozed_until = ? WHERE id = ?").run(T0 + 60_000, rule.id);
    expect(evaluateQuotes(quotes(quote(1451)), new Map(), deps(T0)).fired).toHaveLength(0);
    expect(evaluateQuotes(quotes(quote(1451, T0 + 60_000)), new Map(), deps(T0 + 60_000)).fired).toHaveLength(1);
  });

  it("writes nothing for quiet rules, and reloads the book only when rules change", () => {
    const u = users.create({ telegramId: 1 });
    for (let i = 0; i < 200; i++) rules.create({ userId: u.id, instrumentKey: KEY, kind: "cross_up", params: { level: 2000 + i } });
    expect(book.refresh()).toBe(true);
    expect(book.size).toBe(200);
    const before = (db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
    for (let i = 0; i < 5; i++) evaluateQuotes(quotes(quote(1450 + i)), prices(1449 + i), deps(T0 + i * 1000));
    expect((db.prepare("SELECT total_changes() AS n").get() as { n: number }).n).toBe(before);
    expect(book.refresh()).toBe(false);
    rules.create({ userId: u.id, instrumentKey: KEY, kind: "price_below", params: { level: 1 } });
    expect(book.refresh()).toBe(true);
    expect(book.size).toBe(201);
    db.prepare("UPDATE users SET status = 'banned' WHERE id = ?").run(u.id);
    expect(book.refresh()).toBe(true);
    expect(book.size).toBe(0);
  });

  it("persists only armed flips, so a restart keeps a fired rule disarmed", () => {
    const u = users.create({ telegramId: 1 });
    rules.create({ userId: u.id, instrumentKey: KEY, kind: "cross_up", params: { level: 1450 }, frequency: "every" });
    expect(evaluateQuotes(quotes(quote(1451)), prices(1449), deps(T0)).fired).toHaveLength(1);
    // A new book (a restarted process) reads the disarmed state back.
    const fresh = new RuleBook(rules);
    const d = { ...deps(T0 + 1000), book: fresh };
    expect(evaluateQuotes(quotes(quote(1452)), prices(1449), d).fired).toHaveLength(0);
    // Back below the re-arm band (0.1 %), then up through the level: fires again.
    expect(evaluateQuotes(quotes(quote(1440)), prices(1452), { ...d, now: T0 + 2000 }).fired).toHaveLength(0);
    expect(evaluateQuotes(quotes(quote(1451, T0 + 3000)), prices(1440), { ...d, now: T0 + 3000 }).fired).toHaveLength(1);
  });

  it("auto-pauses a runaway rule and tells the user in the same notification", () => {
    const u = users.create({ telegramId: 1 });
    const r = rules.create({ userId: u.id, instrumentKey: KEY, kind: "cross_up", params: { level: 1450, rearmPct: 0.01 }, frequency: "every" });
    let t = T0;
    let last = 1449;
    let fires = 0;
    for (let i = 0; i < 40; i++) {
      t += 4000;
      const p = i % 2 ? 1449 : 1451;
      fires += evaluateQuotes(quotes(quote(p, t)), prices(last), deps(t)).fired.length;
      last = p;
    }
    expect(fires).toBe(16);
    const row = db.prepare("SELECT status FROM alert_rules WHERE id = ?").get(r.id) as { status: string };
    expect(row.status).toBe("paused");
    const lastSignal = db.prepare("SELECT payload FROM notifications ORDER BY id DESC LIMIT 1").get() as { payload: string };
    expect(JSON.parse(lastSignal.payload)).toMatchObject({ autoPaused: true });
  });
});
