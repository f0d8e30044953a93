import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository, type User } from "../../src/db/repositories/users.js";
import { Notifier } from "../../src/notify/notifier.js";
import { Outbox } from "../../src/notify/outbox.js";
import { renderNotification } from "../../src/notify/render.js";
import { GttRepository } from "../../src/orders/gtt-repository.js";
import { recordGttSnapshot, type GttTrackDeps } from "../../src/orders/gtt-track.js";
import { parseGttUpdate, type GttSnapshot } from "../../src/orders/gtt-update.js";
import { DEFAULT_DELIVERY } from "../../src/queue/queues.js";
import { fileQueues } from "../support/queues.js";

const T0 = Date.parse("2025-02-28T10:00:00+05:30");
const UPDATE = JSON.parse(readFileSync(new URL("../fakes/upstox/fixtures/webhook_gtt_update.json", import.meta.url), "utf8")) as Record<string, unknown>;
const ID = "GTT-C25090600141213";

type Row = Record<string, unknown>;
const rule = (strategy: string, status: string, over: Row = {}): Row => ({
  strategy,
  status,
  trigger_type: strategy === "ENTRY" ? "ABOVE" : "IMMEDIATE",
  trigger_price: strategy === "ENTRY" ? 1500 : strategy === "TARGET" ? 1600 : 1450,
  transaction_type: strategy === "ENTRY" ? "BUY" : "SELL",
  message: "",
  order_id: null,
  trailing_gap: null,
  ...over,
});

/** A RELIANCE BUY 10 GTT (delivery) with these legs, as a gtt_order update. */
function report(rules: Row[], over: Row = {}): GttSnapshot {
  const r = parseGttUpdate({
    update_type: "gtt_order",
    type: rules.length > 1 ? "MULTIPLE" : "SINGLE",
    exchange: "NSE_EQ",
    instrument_token: "NSE_EQ|INE002A01018",
    quantity: 10,
    product: "D",
    gtt_order_id: ID,
    expires_at: 1772216999000000,
    created_at: 1740723100000000,
    rules,
    ...over,
  });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.snapshot;
}
const two = (entry: string, target: string, stoploss: string, entryOver: Row = {}) =>
  report([rule("ENTRY", entry, entryOver), rule("TARGET", target), rule("STOPLOSS", stoploss)]);

let dir: string;
let db: Database;
let users: UserRepository;
let gtts: GttRepository;
let notifier: Notifier;
let user: User;
const extraDbs: Database[] = [];
const queues = fileQueues();

const notifierFor = (d: Database, userRepo: UserRepository, now: number) =>
  new Notifier({
    db: d,
    outbox: new Outbox(d, new AlertRuleRepository(d, () => now), () => now),
    users: userRepo,
    queues: queues(),
    delivery: DEFAULT_DELIVERY,
    clock: () => now,
  });
const depsFor = (d: Database = db, now = T0): GttTrackDeps => {
  if (d === db) return { db, gtts, notifier, users, now };
  const dUsers = new UserRepository(d, () => now);
  return { db: d, gtts: new GttRepository(d, () => now), notifier: notifierFor(d, dUsers, now), users: dUsers, now };
};
/** A report from a user's portfolio stream (the user is known). */
const record = (s: GttSnapshot, userId = user.id, deps = depsFor()) => recordGttSnapshot(deps, userId, s);
/** A postback: it names no user. */
const postback = (s: GttSnapshot, deps = depsFor()) => recordGttSnapshot(deps, undefined, s);

const rows = () =>
  db.prepare("SELECT user_id AS userId, channel, kind, dedup_key AS dedupKey, payload FROM notifications ORDER BY id").all() as Array<{
    userId: number;
    channel: string;
    kind: string;
    dedupKey: string;
    payload: string;
  }>;
const told = () =>
  rows()
    .filter((r) => r.channel === "telegram")
    .map((r) => `${r.kind}:${(JSON.parse(r.payload) as { strategy: string | null }).strategy ?? "-"}`);

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "uab-gtt-"));
  db = openDatabase(path.join(dir, "bot.sqlite"));
  users = new UserRepository(db, () => T0);
  gtts = new GttRepository(db, () => T0);
  notifier = notifierFor(db, users, T0);
  user = users.create({ telegramId: 1001, email: "t@example.com", emailVerified: true, channels: "both" });
});

afterEach(() => {
  for (const d of extraDbs.splice(0)) d.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GttRepository", () => {
  it("stores a GTT for its owner, keeps the owner, the symbol and created_at, and lists a user's GTTs newest first", () => {
    const placed = gtts.upsert(user.id, { ...two("SCHEDULED", "PENDING", "PENDING"), symbol: "RELIANCE" });
    expect(placed).toMatchObject({
      gttOrderId: ID,
      userId: user.id,
      symbol: "RELIANCE",
      transactionType: "BUY",
      type: "MULTIPLE",
      quantity: 10,
      product: "D",
      told: [],
    });
    expect(placed.createdAt).toBe(1740723100000);
    expect(placed.expiresAt).toBe(1772216999000);
    const other = users.create({ telegramId: 1002 });
    // A report with no symbol, product or expiry, for another user: the stored ones stay.
    const later = gtts.upsert(
      other.id,
      { ...two("TRIGGERED", "PENDING", "PENDING"), symbol: null, product: null, expiresAt: null, createdAt: null },
      ["k1"],
      T0 + 5,
    );
    expect(later).toMatchObject({
      userId: user.id,
      symbol: "RELIANCE",
      product: "D",
      expiresAt: 1772216999000,
      createdAt: 1740723100000,
      told: ["k1"],
      updatedAt: T0 + 5,
    });
    expect(later.rules.map((r) => r.status)).toEqual(["TRIGGERED", "PENDING", "PENDING"]);
    // told is kept when not given.
    expect(gtts.upsert(user.id, two("TRIGGERED", "PENDING", "PENDING")).told).toEqual(["k1"]);
    expect(gtts.owner(ID)).toBe(user.id);
    expect(gtts.owner("GTT-NOPE")).toBeUndefined();
    expect(gtts.get("GTT-NOPE")).toBeUndefined();

    gtts.upsert(user.id, { ...report([rule("ENTRY", "SCHEDULED")]), gttOrderId: "GTT-NEWER", createdAt: T0 + 86_400_000 });
    expect(gtts.forUser(user.id).map((g) => g.gttOrderId)).toEqual(["GTT-NEWER", ID]);
    expect(gtts.forUser(other.id)).toEqual([]);
  });
});

describe("recordGttSnapshot", () => {
  it("the documented failed GTT: one gtt_failed on each channel, whatever repeats it", () => {
    const r = parseGttUpdate(UPDATE);
    if (!r.ok) throw new Error("fixture");
    expect(record(r.snapshot)).toHaveLength(2);
    expect(record(r.snapshot)).toEqual([]);
    expect(postback(r.snapshot)).toEqual([]);
    expect(rows().map((x) => [x.kind, x.channel, x.dedupKey])).toEqual([
      ["gtt_failed", "telegram", "gtt:GTT-CU25270200024002:ENTRY:FAILED:telegram"],
      ["gtt_failed", "email", "gtt:GTT-CU25270200024002:ENTRY:FAILED:email"],
    ]);
    expect(gtts.get("GTT-CU25270200024002")!.told).toEqual(["gtt:GTT-CU25270200024002:ENTRY:FAILED"]);
    // The payload holds all the renderer needs; without a symbol the instrument stands in.
    const m = renderNotification("gtt_failed", JSON.parse(rows()[0]!.payload) as Row);
    expect(m.telegramHtml).toContain("BUY 1 <b>NSE_EQ|INE806A01020</b>, trigger at ₹7.70 — Upstox: The price set should be within the circuit limits.");
    expect(m.telegramHtml).toContain("Other legs: target at ₹7.64 cancelled; stop-loss at ₹7.60 (trailing ₹1.00) cancelled.");
  });

  it("a report without a user is attributed to the stored owner, and one nobody owns records nothing", () => {
    expect(postback(two("TRIGGERED", "PENDING", "PENDING"))).toEqual([]);
    expect(gtts.get(ID)).toBeUndefined();
    expect(rows()).toEqual([]);

    const other = users.create({ telegramId: 1002 });
    gtts.upsert(user.id, { ...two("SCHEDULED", "PENDING", "PENDING"), symbol: "RELIANCE" });
    expect(postback(two("TRIGGERED", "PENDING", "PENDING"))).toHaveLength(2);
    // The stream of another account reporting the same GTT does not take it over.
    expect(record(two("COMPLETED", "COMPLETED", "CANCELLED"), other.id)).toHaveLength(2);
    expect(new Set(rows().map((x) => x.userId))).toEqual(new Set([user.id]));
    expect(told()).toEqual(["gtt_triggered:ENTRY", "gtt_triggered:TARGET"]);
    expect(JSON.parse(rows()[0]!.payload)).toMatchObject({ symbol: "RELIANCE", gttOrderId: ID, transactionType: "BUY", quantity: 10, strategy: "ENTRY" });
  });

  it("a GTT first seen on a user's stream is stored as theirs", () => {
    expect(record(two("SCHEDULED", "PENDING", "PENDING"))).toEqual([]);
    expect(gtts.owner(ID)).toBe(user.id);
    expect(postback(two("SCHEDULED", "PENDING", "PENDING"))).toEqual([]);
    expect(postback(two("TRIGGERED", "PENDING", "PENDING"))).toHaveLength(2);
  });

  it("TRIGGERED then COMPLETED, or COMPLETED then a late TRIGGERED, is one message; a late SCHEDULED undoes nothing", () => {
    record(report([rule("ENTRY", "TRIGGERED")]));
    record(report([rule("ENTRY", "COMPLETED", { order_id: "250228000000001" })]));
    record(report([rule("ENTRY", "SCHEDULED")]));
    expect(told()).toEqual(["gtt_triggered:ENTRY"]);
    expect(gtts.get(ID)!.rules[0]).toMatchObject({ status: "COMPLETED", orderId: "250228000000001" });

    const again = { ...report([rule("ENTRY", "COMPLETED", { order_id: "250228000000002" })]), gttOrderId: "GTT-2" };
    record(again);
    record({ ...report([rule("ENTRY", "TRIGGERED")]), gttOrderId: "GTT-2" });
    expect(told()).toEqual(["gtt_triggered:ENTRY", "gtt_triggered:ENTRY"]);
    expect(JSON.parse(rows().at(-1)!.payload)).toMatchObject({ gttOrderId: "GTT-2", rules: [{ strategy: "ENTRY", orderId: "250228000000002" }] });
  });

  it("an OCO story in any order: entry and target triggered once each, the cancelled stop-loss never told", () => {
    const story = [
      two("SCHEDULED", "PENDING", "PENDING"),
      two("TRIGGERED", "PENDING", "PENDING"),
      two("COMPLETED", "PENDING", "PENDING", { order_id: "O-ENTRY" }),
      two("COMPLETED", "TRIGGERED", "PENDING", { order_id: "O-ENTRY" }),
      two("COMPLETED", "COMPLETED", "CANCELLED", { order_id: "O-ENTRY" }),
    ];
    const orders = [
      [0, 1, 2, 3, 4],
      [4, 3, 2, 1, 0],
      [2, 0, 4, 1, 3],
      [3, 3, 1, 4, 4, 0],
    ];
    for (const [i, order] of orders.entries()) {
      const id = `GTT-OCO-${i}`;
      for (const k of order) record({ ...story[k]!, gttOrderId: id });
      const mine = rows().filter((r) => r.channel === "telegram" && r.dedupKey.startsWith(`gtt:${id}:`));
      expect(mine.map((r) => r.kind).sort()).toEqual(["gtt_triggered", "gtt_triggered"]);
      expect(gtts.get(id)!.rules.map((r) => r.status)).toEqual(["COMPLETED", "COMPLETED", "CANCELLED"]);
    }
    expect(told().every((k) => k !== "gtt_cancelled:-")).toBe(true);
  });

  it("cancelled by the trader: one gtt_cancelled", () => {
    record(two("SCHEDULED", "PENDING", "PENDING"));
    record(two("CANCELLED", "CANCELLED", "CANCELLED"));
    record(two("CANCELLED", "CANCELLED", "CANCELLED"));
    record(two("SCHEDULED", "PENDING", "PENDING"));
    expect(told()).toEqual(["gtt_cancelled:-"]);
    expect(
      renderNotification("gtt_cancelled", JSON.parse(rows()[0]!.payload) as Row)
        .email.text.split("\n")
        .slice(0, 2),
    ).toEqual(["GTT cancelled: BUY 10 NSE_EQ|INE002A01018 (delivery)", "Entry above ₹1,500.00, target at ₹1,600.00 and stop-loss at ₹1,450.00"]);
  });

  it("expired: by Upstox's EXPIRED, or by an update after expires_at with every leg waiting; once", () => {
    const expiredAt = T0 - 60_000;
    record(report([rule("ENTRY", "SCHEDULED")], { expires_at: expiredAt * 1000 }));
    record(report([rule("ENTRY", "EXPIRED")], { expires_at: expiredAt * 1000 }));
    expect(told()).toEqual(["gtt_expired:-"]);

    record({ ...two("COMPLETED", "EXPIRED", "EXPIRED"), gttOrderId: "GTT-X2" });
    expect(told()).toEqual(["gtt_expired:-", "gtt_triggered:ENTRY", "gtt_expired:-"]);
    const m = renderNotification("gtt_expired", JSON.parse(rows().at(-1)!.payload) as Row);
    expect(m.email.text.split("\n").slice(0, 3)).toEqual([
      "GTT expired: BUY 10 NSE_EQ|INE002A01018 (delivery)",
      "Target at ₹1,600.00 and stop-loss at ₹1,450.00 did not trigger by 2026-02-27 23:59 IST.",
      "The entry had triggered, so the position it opened is no longer covered by this GTT.",
    ]);
  });

  it("statuses it does not know are not told", () => {
    record(report([rule("ENTRY", "PAUSED")]));
    record(report([rule("ENTRY", "")].map((r) => ({ ...r, status: "ON_HOLD" }))));
    expect(rows()).toEqual([]);
  });

  it("with order alerts off nothing is sent, and turning them on later does not tell the past", () => {
    users.update(user.id, { prefs: { orders: "off" } });
    expect(record(report([rule("ENTRY", "TRIGGERED")]))).toEqual([]);
    users.update(user.id, { prefs: { orders: "on" } });
    expect(record(report([rule("ENTRY", "COMPLETED")]))).toEqual([]);
    expect(rows()).toEqual([]);
  });

  it("two processes (two connections to the file) tell each transition once", () => {
    const db2 = openDatabase(path.join(dir, "bot.sqlite"));
    extraDbs.push(db2);
    const deps2 = depsFor(db2);
    gtts.upsert(user.id, two("SCHEDULED", "PENDING", "PENDING"));
    postback(two("TRIGGERED", "PENDING", "PENDING"), deps2);
    postback(two("COMPLETED", "PENDING", "PENDING"));
    record(two("COMPLETED", "COMPLETED", "CANCELLED"), user.id, deps2);
    record(two("COMPLETED", "COMPLETED", "CANCELLED"), user.id);
    expect(told()).toEqual(["gtt_triggered:ENTRY", "gtt_triggered:TARGET"]);
  });

  it("inside a caller's transaction the rows roll back with it", () => {
    expect(() =>
      db.transaction(() => {
        record(report([rule("ENTRY", "TRIGGERED")]));
        throw new Error("caller failed");
      })(),
    ).toThrow("caller failed");
    expect(rows()).toEqual([]);
    expect(gtts.get(ID)).toBeUndefined();
  });
});
