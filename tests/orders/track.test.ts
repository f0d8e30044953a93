import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository, type User } from "../../src/db/repositories/users.js";
import { Notifier } from "../../src/notify/notifier.js";
import { Outbox } from "../../src/notify/outbox.js";
import { OrderRepository } from "../../src/orders/order-repository.js";
import { snapshotFromOrder, type OrderSnapshot } from "../../src/orders/snapshot.js";
import { recordOrderSnapshot, type TrackDeps } from "../../src/orders/track.js";
import { parseOrderWebhook } from "../../src/orders/webhook.js";
import { DEFAULT_DELIVERY } from "../../src/queue/queues.js";
import { fileQueues } from "../support/queues.js";
import type { Order } from "../../src/upstox/types.js";

const T0 = Date.parse("2023-10-19T13:30:00+05:30");
const readJson = (rel: string) => JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as unknown;

type Row = Record<string, unknown>;
/** order_history.json: six snapshots of order 231019025564798 (SBIN, SELL 1 LIMIT @ 571.35). */
const HISTORY = (readJson("../fakes/upstox/fixtures/order_history.json") as { data: Row[] }).data;
const WEBHOOK = readJson("./fixtures/webhook_order_update.json") as Row;
const LEGACY = readJson("./fixtures/webhook_order_update_legacy_2023.json") as Row;
const ORDER_ID = "231019025564798";

/** What UpstoxClient.getOrderBook hands back for a raw order (its toOrder mapping). */
const orderFromRow = (o: Row): Order => ({
  orderId: String(o.order_id),
  instrumentKey: String(o.instrument_token),
  symbol: String(o.trading_symbol ?? o.tradingsymbol),
  exchange: o.exchange as string,
  product: o.product as string,
  orderType: String(o.order_type),
  transactionType: String(o.transaction_type),
  quantity: Number(o.quantity),
  price: Number(o.price ?? 0),
  triggerPrice: Number(o.trigger_price ?? 0),
  averagePrice: (o.average_price as number | null) ?? null,
  filledQuantity: Number(o.filled_quantity ?? 0),
  pendingQuantity: undefined,
  status: String(o.status),
  statusMessage: (o.status_message as string | null) ?? null,
  tag: (o.tag as string | null) ?? null,
  placedAt: (o.order_timestamp as string | null) ?? null,
});
const polled = (row: Row): OrderSnapshot => snapshotFromOrder(orderFromRow(row));

/** The same state delivered by the webhook: the current payload shape carrying the history row's values. */
function webhooked(row: Row): OrderSnapshot {
  const r = parseOrderWebhook({ ...WEBHOOK, ...row, update_type: "order", user_id: "UPX123", instrument_key: row.instrument_token });
  if (r.kind !== "order") throw new Error(`webhook did not parse: ${JSON.stringify(r)}`);
  return r.snapshot;
}

/** A snapshot of a 10-share order built from the webhook fixture. */
function order10(status: string, filled: number, extra: Row = {}): OrderSnapshot {
  const r = parseOrderWebhook({ ...WEBHOOK, order_id: "PF-1", quantity: 10, pending_quantity: 10 - filled, status, filled_quantity: filled, ...extra });
  if (r.kind !== "order") throw new Error("bad test payload");
  return r.snapshot;
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

let dir: string;
let db: Database;
let users: UserRepository;
let orders: OrderRepository;
let notifier: Notifier;
let user: User;
const extraDbs: Database[] = [];

// The Notifier's queues; recording a snapshot only writes rows, so nothing is ever queued here.
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

const depsFor = (d: Database = db, now = T0): TrackDeps => {
  if (d === db) return { db, orders, notifier, users, now };
  const dUsers = new UserRepository(d, () => now);
  return { db: d, orders: new OrderRepository(d, () => now), notifier: notifierFor(d, dUsers, now), users: dUsers, now };
};
const record = (s: OrderSnapshot, userId = user.id, deps = depsFor()) => recordOrderSnapshot(deps, userId, s);

const rows = () =>
  db.prepare("SELECT user_id AS userId, channel, kind, dedup_key AS dedupKey, payload FROM notifications ORDER BY id").all() as Array<{
    userId: number;
    channel: string;
    kind: string;
    dedupKey: string;
    payload: string;
  }>;
const kinds = () =>
  rows()
    .filter((r) => r.channel === "telegram")
    .map((r) => r.kind);

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "uab-orders-"));
  db = openDatabase(path.join(dir, "bot.sqlite"));
  users = new UserRepository(db, () => T0);
  orders = new OrderRepository(db, () => T0);
  notifier = notifierFor(db, users, T0);
  user = users.create({ telegramId: 1001, email: "t@example.com", emailVerified: true, channels: "both" });
});

afterEach(() => {
  for (const d of extraDbs.splice(0)) d.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("migration 006", () => {
  it("adds the tracking columns and the upstox user index", () => {
    const cols = (db.pragma("table_info(orders)") as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(expect.arrayContaining(["stage", "upstox_user_id", "status_at"]));
    const idx = (db.pragma("index_list(users)") as { name: string }[]).map((i) => i.name);
    expect(idx).toContain("users_upstox_user_id");
  });
});

describe("recordOrderSnapshot: order_history.json", () => {
  it("replayed in order notifies placed then filled, once per channel, with the payload fields", () => {
    const ids = HISTORY.map((r) => record(polled(r)));
    expect(ids.map((x) => x.length)).toEqual([2, 0, 0, 0, 0, 2]);
    const all = rows();
    expect(all.map((r) => r.dedupKey)).toEqual([
      `order:${ORDER_ID}:placed:telegram`,
      `order:${ORDER_ID}:placed:email`,
      `order:${ORDER_ID}:filled:telegram`,
      `order:${ORDER_ID}:filled:email`,
    ]);
    expect(all.map((r) => r.kind)).toEqual(["order_placed", "order_placed", "order_filled", "order_filled"]);
    expect(all.every((r) => r.userId === user.id)).toBe(true);
    expect(JSON.parse(all[2]!.payload)).toEqual({
      orderId: ORDER_ID,
      symbol: "SBIN",
      transactionType: "SELL",
      quantity: 1,
      filledQuantity: 1,
      orderType: "LIMIT",
      product: "D",
      price: 571.35,
      averagePrice: 571.4,
      status: "complete",
      statusMessage: null,
      at: Date.parse("2023-10-19T13:25:56+05:30"),
    });
    expect(JSON.parse(all[0]!.payload)).toMatchObject({ status: "put order req received", filledQuantity: 0, averagePrice: 0 });
    expect(orders.get(ORDER_ID)).toMatchObject({ stage: "filled", status: "complete", filledQuantity: 1, averagePrice: 571.4, userId: user.id });
  });

  it("replayed again twice, shuffled and interleaved with webhooks, adds nothing and re-queues nothing", () => {
    for (const r of HISTORY) record(polled(r));
    const before = rows();
    const again = [
      ...HISTORY.map(polled),
      ...shuffled(HISTORY, 7).map(polled),
      ...shuffled(HISTORY, 8).flatMap((r, i) => (i % 2 ? [webhooked(r), polled(r)] : [polled(r), webhooked(r)])),
    ];
    const ids = again.flatMap((s) => record(s));
    expect(ids).toEqual([]);
    expect(rows()).toEqual(before);
    expect(orders.get(ORDER_ID)).toMatchObject({ stage: "filled", status: "complete", upstoxUserId: "UPX123" });
  });

  it("from scratch in any order, each notification is written at most once and the fill exactly once", () => {
    for (let seed = 1; seed <= 40; seed++) {
      db.exec("DELETE FROM notifications; DELETE FROM orders;");
      const sources = shuffled([...HISTORY.map(polled), ...HISTORY.map(webhooked), ...HISTORY.map(polled)], seed);
      const returned = sources.flatMap((s) => record(s));
      const all = rows();
      // No row written (or handed out for queueing) twice.
      expect(returned).toHaveLength(all.length);
      expect(new Set(returned).size).toBe(returned.length);
      expect(kinds().filter((k) => k === "order_filled")).toHaveLength(1);
      expect(kinds().filter((k) => k === "order_placed").length).toBeLessThanOrEqual(1);
      // order_placed comes only before the fill, never after it.
      expect(kinds()).toEqual(kinds()[0] === "order_placed" ? ["order_placed", "order_filled"] : ["order_filled"]);
      expect(orders.get(ORDER_ID)).toMatchObject({ stage: "filled", status: "complete", filledQuantity: 1 });
    }
  });

  it("two connections (two processes) recording the same snapshots notify once", () => {
    const other = openDatabase(path.join(dir, "bot.sqlite"));
    extraDbs.push(other);
    const a = depsFor();
    const b = depsFor(other);
    const ids: number[] = [];
    for (const r of HISTORY) {
      ids.push(...record(webhooked(r), user.id, b));
      ids.push(...record(polled(r), user.id, a));
    }
    expect(ids).toHaveLength(4);
    expect(kinds()).toEqual(["order_placed", "order_filled"]);
  });

  it("works inside a caller's transaction", () => {
    const ids = db.transaction(() => HISTORY.flatMap((r) => record(polled(r))))();
    expect(ids).toHaveLength(4);
  });
});

describe("recordOrderSnapshot: transitions", () => {
  it("partial fills 4/10 then 7/10 then complete notify each once", () => {
    const seq = [
      order10("put order req received", 0),
      order10("open", 0),
      order10("open", 4, { average_price: 100 }),
      order10("open", 4, { average_price: 100 }),
      order10("open", 7, { average_price: 100.5 }),
      order10("open", 4, { average_price: 100 }), // late
      order10("complete", 10, { average_price: 100.7 }),
      order10("open", 7), // late
    ];
    for (const s of seq) record(s);
    expect(
      rows()
        .filter((r) => r.channel === "telegram")
        .map((r) => r.dedupKey),
    ).toEqual(["order:PF-1:placed:telegram", "order:PF-1:partially_filled:4:telegram", "order:PF-1:partially_filled:7:telegram", "order:PF-1:filled:telegram"]);
    const partial7 = JSON.parse(rows().find((r) => r.dedupKey === "order:PF-1:partially_filled:7:email")!.payload);
    expect(partial7).toMatchObject({ quantity: 10, filledQuantity: 7, averagePrice: 100.5, status: "open" });
    expect(Object.keys(partial7).sort()).toEqual(
      [
        "orderId",
        "symbol",
        "transactionType",
        "quantity",
        "filledQuantity",
        "orderType",
        "product",
        "price",
        "averagePrice",
        "status",
        "statusMessage",
        "at",
      ].sort(),
    );
    expect(orders.get("PF-1")).toMatchObject({ stage: "filled", filledQuantity: 10, averagePrice: 100.7 });
  });

  it("a late open after complete is ignored and does not overwrite the stored order", () => {
    expect(record(order10("complete", 10, { average_price: 101 }))).toHaveLength(2);
    expect(record(order10("open", 0))).toEqual([]);
    expect(record(order10("put order req received", 0))).toEqual([]);
    expect(kinds()).toEqual(["order_filled"]);
    expect(orders.get("PF-1")).toMatchObject({ stage: "filled", status: "complete", filledQuantity: 10, averagePrice: 101 });
  });

  it("cancelled after a partial fill notifies the cancel with what was filled", () => {
    record(order10("open", 4));
    record(order10("cancelled", 4, { status_message: "Cancelled by user" }));
    record(order10("cancelled", 4));
    expect(kinds()).toEqual(["order_partially_filled", "order_cancelled"]);
    expect(JSON.parse(rows().at(-1)!.payload)).toMatchObject({ filledQuantity: 4, status: "cancelled", statusMessage: "Cancelled by user" });
  });

  it("the legacy webhook (cancelled after market order) and a rejection notify their terminal kind", () => {
    const legacy = parseOrderWebhook(LEGACY);
    if (legacy.kind !== "order") throw new Error("legacy fixture did not parse");
    record(legacy.snapshot);
    record(order10("rejected", 0, { status_message: "You need to add Rs. 138385.27 in your account to place this trade." }));
    expect(kinds()).toEqual(["order_cancelled", "order_rejected"]);
    expect(JSON.parse(rows().at(-1)!.payload).statusMessage).toMatch(/add Rs\./);
  });

  it("honours the user's order setting and channels; muted means dropped, not deferred", () => {
    users.update(user.id, { prefs: { orders: "off" } });
    expect(record(order10("open", 0))).toEqual([]);
    users.update(user.id, { prefs: { orders: "on" }, channels: "telegram" });
    expect(record(order10("open", 0))).toEqual([]);
    expect(record(order10("open", 4))).toHaveLength(1);
    expect(rows().map((r) => r.channel)).toEqual(["telegram"]);
    expect(orders.get("PF-1")?.stage).toBe("partially_filled");
  });

  it("a stored order keeps its owner; an unknown user records nothing", () => {
    const other = users.create({ telegramId: 2002 });
    record(order10("open", 0), user.id);
    record(order10("complete", 10), other.id);
    expect(rows().every((r) => r.userId === user.id)).toBe(true);
    expect(orders.get("PF-1")?.userId).toBe(user.id);
    expect(record(order10("open", 0, { order_id: "GHOST" }), 9999)).toEqual([]);
    expect(orders.get("GHOST")).toBeUndefined();
  });
});

describe("OrderRepository / UserRepository lookups", () => {
  it("forUser lists a user's orders since a time, newest first", () => {
    const later = new OrderRepository(db, () => T0 + 60_000);
    orders.upsertSnapshot(user.id, order10("open", 0, { order_id: "A" }));
    later.upsertSnapshot(user.id, order10("open", 0, { order_id: "B" }));
    expect(orders.forUser(user.id, T0).map((o) => o.orderId)).toEqual(["B", "A"]);
    expect(orders.forUser(user.id, T0 + 1).map((o) => o.orderId)).toEqual(["B"]);
    expect(orders.forUser(user.id + 1, 0)).toEqual([]);
  });

  it("upsertSnapshot returns the state before and after", () => {
    const first = orders.upsertSnapshot(user.id, order10("open", 4));
    expect(first.previous).toBeUndefined();
    expect(first.current).toMatchObject({ stage: "partially_filled", filledQuantity: 4, symbol: "NHPC", transactionType: "BUY" });
    const second = orders.upsertSnapshot(user.id, order10("open", 0));
    expect(second.current).toEqual(second.previous);
  });

  it("finds the user linked to an Upstox account, preferring the newest token", () => {
    const other = users.create({ telegramId: 3003 });
    db.prepare("UPDATE users SET upstox_user_id = 'UPX123', upstox_token_enc = x'00', upstox_token_expires_at = ? WHERE id = ?").run(T0 + 1000, user.id);
    db.prepare("UPDATE users SET upstox_user_id = 'UPX123', upstox_token_enc = x'00', upstox_token_expires_at = ? WHERE id = ?").run(T0 + 5000, other.id);
    expect(users.findByUpstoxUserId("UPX123")?.id).toBe(other.id);
    expect(users.findByUpstoxUserId("NOPE")).toBeUndefined();
  });
});
