import path from "node:path";
import Database_ from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { WatchlistRepository } from "../../src/db/repositories/watchlists.js";
import type { Quote } from "../../src/market/types.js";
import { Notifier } from "../../src/notify/notifier.js";
import { Outbox } from "../../src/notify/outbox.js";
import { renderNotification } from "../../src/notify/render.js";
import { DEFAULT_DELIVERY } from "../../src/queue/queues.js";
import { evaluateQuotes, WATCHLIST_MESSAGES_PER_MINUTE, type EngineDeps } from "../../src/signals/engine.js";
import { RuleBook } from "../../src/signals/rule-book.js";
import { removeDir, tempDir } from "../support/env.js";
import { fileQueues } from "../support/queues.js";

const HDFCBANK = "NSE_EQ|INE040A01034";
const ICICIBANK = "NSE_EQ|INE090A01021";
const SBIN = "NSE_EQ|INE062A01020";
const AXISBANK = "NSE_EQ|INE238A01034";
const T0 = Date.parse("2025-01-15T10:30:00+05:30");
const SYMBOLS: Record<string, string> = { [HDFCBANK]: "HDFCBANK", [ICICIBANK]: "ICICIBANK", [SBIN]: "SBIN", [AXISBANK]: "AXISBANK" };

const queues = fileQueues();

/** A quote `pct` % away from a previous close of 1000. */
const quote = (key: string, pct: number, at: number): Quote => ({
  instrumentKey: key,
  symbol: SYMBOLS[key]!,
  lastPrice: 1000 * (1 + pct / 100),
  open: 1000,
  high: 1000 * (1 + pct / 100),
  low: 1000,
  prevClose: 1000,
  volume: 1,
  lastTradeAt: at,
});
const quotes = (...qs: Quote[]) => new Map(qs.map((q) => [q.instrumentKey, q]));

describe("rules over a watchlist", () => {
  let dir: string;
  let db: Database;
  let now: number;
  let users: UserRepository;
  let rules: AlertRuleRepository;
  let lists: WatchlistRepository;
  let outbox: Outbox;
  let book: RuleBook;
  let deps: () => EngineDeps & { staleAfterMs: number };

  beforeEach(() => {
    dir = tempDir("uab-wlrules-");
    db = openDatabase(path.join(dir, "bot.sqlite"));
    now = T0;
    const clock = () => now;
    users = new UserRepository(db, clock);
    rules = new AlertRuleRepository(db, clock);
    lists = new WatchlistRepository(db, clock);
    outbox = new Outbox(db, rules, clock);
    book = new RuleBook(rules);
    const notifier = new Notifier({ db, outbox, users, queues: queues(), delivery: DEFAULT_DELIVERY, clock });
    deps = () => ({ db, book, rules, users, notifier, now, staleAfterMs: 30_000 });
  });
  afterEach(() => {
    db.close();
    removeDir(dir);
  });

  const children = (parentId: number) =>
    db.prepare("SELECT instrument_key, status FROM alert_rules WHERE parent_id = ? ORDER BY id").all(parentId) as Array<{
      instrument_key: string;
      status: string;
    }>;
  const live = (parentId: number) =>
    children(parentId)
      .filter((c) => c.status === "active")
      .map((c) => c.instrument_key);

  it("named lists are separate from the main one and from another trader's", () => {
    const a = users.create({ telegramId: 1 });
    const b = users.create({ telegramId: 2 });
    lists.add(a.id, HDFCBANK);
    lists.add(a.id, HDFCBANK, "banks");
    lists.add(a.id, ICICIBANK, "banks");
    lists.add(b.id, SBIN, "banks");
    expect(lists.forUser(a.id)).toEqual([HDFCBANK]);
    expect(lists.forUser(a.id, "banks")).toEqual([HDFCBANK, ICICIBANK]);
    expect(lists.lists(a.id)).toEqual([{ name: "banks", size: 2 }]);
    expect(lists.forUser(b.id, "banks")).toEqual([SBIN]);
    expect(lists.remove(a.id, HDFCBANK, "banks")).toBe(true);
    expect(lists.forUser(a.id)).toEqual([HDFCBANK]);
    expect(lists.clear(a.id, "banks")).toBe(1);
    expect(lists.lists(a.id)).toEqual([]);
    expect([...lists.instrumentKeysInUse()].sort()).toEqual([HDFCBANK, SBIN].sort());
  });

  it("a rule covers the list as it is, follows every symbol added or removed, and only its children are evaluated", () => {
    const u = users.create({ telegramId: 1 });
    lists.add(u.id, HDFCBANK, "banks");
    lists.add(u.id, ICICIBANK, "banks");
    const parent = rules.createForWatchlist({
      userId: u.id,
      watchlist: "banks",
      kind: "change_pct",
      params: { pct: 2 },
      frequency: "every",
      cooldownSeconds: 60,
    });
    expect(parent).toMatchObject({ watchlist: "banks", instrumentKey: "" });
    expect(live(parent.id)).toEqual([HDFCBANK, ICICIBANK]);
    // The parent is listed (once) but never evaluated, and never polled.
    expect(rules.forUser(u.id).map((r) => r.id)).toEqual([parent.id]);
    expect(
      rules
        .allActive()
        .map((r) => r.instrumentKey)
        .sort(),
    ).toEqual([HDFCBANK, ICICIBANK].sort());
    expect(lists.instrumentKeysInUse()).not.toContain("");

    lists.add(u.id, SBIN, "banks");
    lists.add(u.id, AXISBANK); // the main list: not this rule's
    expect(live(parent.id)).toEqual([HDFCBANK, ICICIBANK, SBIN]);
    lists.remove(u.id, ICICIBANK, "banks");
    expect(live(parent.id)).toEqual([HDFCBANK, SBIN]);
    // Back on the list: watched again, armed afresh.
    lists.add(u.id, ICICIBANK, "banks");
    expect(live(parent.id)).toEqual([HDFCBANK, SBIN, ICICIBANK]);
    expect(rules.members(parent.id)).toEqual({ symbols: 3, paused: 0 });

    // Snooze, resume and delete act on every symbol.
    expect(rules.snooze(parent.id, u.id, now + 3_600_000)).toBe(true);
    expect(rules.allActive().every((r) => r.snoozedUntil === now + 3_600_000)).toBe(true);
    expect(rules.delete(parent.id, u.id)).toBe(true);
    expect(live(parent.id)).toEqual([]);
    expect(rules.allActive()).toEqual([]);
    // A deleted rule gains no symbol.
    lists.add(u.id, AXISBANK, "banks");
    expect(live(parent.id)).toEqual([]);
  });

  it("another trader's list of the same name, and an expired rule, gain nothing", () => {
    const a = users.create({ telegramId: 1 });
    const b = users.create({ telegramId: 2 });
    lists.add(a.id, HDFCBANK, "banks");
    const parent = rules.createForWatchlist({
      userId: a.id,
      watchlist: "banks",
      kind: "rsi_below",
      params: { level: 30, period: 14 },
      expiresAt: now + 60_000,
    });
    lists.add(b.id, SBIN, "banks");
    expect(live(parent.id)).toEqual([HDFCBANK]);
    now += 61_000;
    lists.add(a.id, ICICIBANK, "banks");
    expect(live(parent.id)).toEqual([HDFCBANK]);
    // Listing the trader's alerts finds it expired.
    expect(rules.forUser(a.id)).toEqual([]);
  });

  it("each symbol fires on its own; symbols firing together are one message; past the cap they wait for the minute's end", () => {
    const u = users.create({ telegramId: 1 });
    for (const k of [HDFCBANK, ICICIBANK, SBIN]) lists.add(u.id, k, "banks");
    const parent = rules.createForWatchlist({ userId: u.id, watchlist: "banks", kind: "change_pct", params: { pct: 2 }, frequency: "every" });

    const first = evaluateQuotes(quotes(quote(HDFCBANK, 2.5, now), quote(ICICIBANK, 3, now), quote(SBIN, 0.5, now)), new Map(), deps());
    expect(first.fired.map((f) => f.symbol).sort()).toEqual(["HDFCBANK", "ICICIBANK"]);
    const rows = first.notificationIds.map((id) => outbox.get(id)!);
    expect(rows.map((r) => r.payload.watchlist)).toEqual(["banks", "banks"]);
    expect(rows.every((r) => r.payload.parentRuleId === parent.id)).toBe(true);
    // Both due now, so the chat's next message carries both.
    expect(outbox.pendingFor(u.id, "telegram").map((r) => r.id)).toEqual(first.notificationIds);
    expect(renderNotification("price_alert", rows[0]!.payload).telegramHtml).toContain("· watchlist banks");

    // More passes with firings in the same minute: up to the cap, then held.
    const fire = (key: string, pct: number) => {
      now += 1000;
      // Back to the close first, so the symbol re-arms, then away again.
      evaluateQuotes(quotes(quote(key, 0, now)), new Map(), deps());
      now += 1000;
      return evaluateQuotes(quotes(quote(key, pct, now)), new Map(), deps());
    };
    const passes = [];
    for (let i = 1; i < WATCHLIST_MESSAGES_PER_MINUTE; i++) passes.push(fire(SBIN, 2.5 + i / 10));
    for (const p of passes) expect(p.fired).toHaveLength(1);
    const due = outbox.pendingFor(u.id, "telegram").length;
    const over = fire(HDFCBANK, 2.8);
    const alsoOver = fire(ICICIBANK, 3.1);
    expect(over.fired).toHaveLength(1);
    expect(alsoOver.fired).toHaveLength(1);
    // Recorded (signals, state) but held: not in the next message, due at the minute's end.
    expect(outbox.pendingFor(u.id, "telegram")).toHaveLength(due);
    const held = [...over.notificationIds, ...alsoOver.notificationIds];
    expect(held.map((id) => outbox.heldUntil(id))).toEqual([T0 + 60_000, T0 + 60_000]);
    now = T0 + 60_000;
    expect(
      outbox
        .pendingFor(u.id, "telegram")
        .map((r) => r.id)
        .slice(-2),
    ).toEqual(held);
    expect(outbox.heldUntil(held[0]!)).toBeUndefined();
  });

  it("the runaway guard pauses one symbol, not the list", () => {
    const u = users.create({ telegramId: 1 });
    for (const k of [HDFCBANK, ICICIBANK]) lists.add(u.id, k, "banks");
    const parent = rules.createForWatchlist({ userId: u.id, watchlist: "banks", kind: "change_pct", params: { pct: 2 }, frequency: "every" });
    let paused = false;
    for (let i = 0; i < 40 && !paused; i++) {
      now += 1000;
      evaluateQuotes(quotes(quote(HDFCBANK, 0, now)), new Map(), deps());
      now += 1000;
      paused = evaluateQuotes(quotes(quote(HDFCBANK, 3, now)), new Map(), deps()).fired.some((f) => f.autoPaused);
    }
    expect(paused).toBe(true);
    expect(children(parent.id)).toEqual([
      { instrument_key: HDFCBANK, status: "paused" },
      { instrument_key: ICICIBANK, status: "active" },
    ]);
    expect(rules.members(parent.id)).toEqual({ symbols: 2, paused: 1 });
    expect(evaluateQuotes(quotes(quote(ICICIBANK, 3, now)), new Map(), deps()).fired).toHaveLength(1);
    // Resuming the rule resumes the paused symbol.
    expect(rules.resume(parent.id, u.id)).toBe(true);
    expect(rules.members(parent.id)).toEqual({ symbols: 2, paused: 0 });
  });

  it("migration 012 keeps every existing watchlist entry on the main list", () => {
    const file = path.join(dir, "old.sqlite");
    const old = new Database_(file);
    migrate(old, MIGRATIONS.slice(0, 11));
    old.prepare("INSERT INTO users (id, telegram_id, created_at, updated_at) VALUES (1, 1, 0, 0)").run();
    old.prepare("INSERT INTO watchlists (user_id, instrument_key, created_at) VALUES (1, ?, 5)").run(HDFCBANK);
    migrate(old);
    const moved = new WatchlistRepository(old);
    expect(moved.forUser(1)).toEqual([HDFCBANK]);
    expect(moved.lists(1)).toEqual([]);
    old.close();
  });
});
