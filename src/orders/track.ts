import type { Database } from "better-sqlite3";
import type { UserRepository } from "../db/repositories/users.js";
import type { Notifier } from "../notify/notifier.js";
import type { OrderRepository } from "./order-repository.js";
import type { OrderSnapshot } from "./snapshot.js";
import { nextNotifications } from "./transitions.js";

export interface TrackDeps {
  db: Database;
  orders: OrderRepository;
  /** Writes the rows inside this transaction; the caller queues the returned ids after it. */
  notifier: Pick<Notifier, "record">;
  users: UserRepository;
  now: number;
}

/** The payload of every order_* notification (what templates/orders.ts renders). */
export interface OrderNotificationPayload {
  orderId: string;
  symbol: string;
  transactionType: "BUY" | "SELL";
  quantity: number;
  filledQuantity: number;
  orderType: string;
  product: string | null;
  price: number;
  averagePrice: number | null;
  status: string;
  statusMessage: string | null;
  /** When Upstox says it happened (epoch ms); when we learnt of it if Upstox did not say. */
  at: number;
}

/**
 * Records one snapshot of an order (from the webhook or a poll of the order book) and
 * writes the outbox rows it causes, all in one SQLite transaction, and returns the row ids
 * to queue for delivery. Safe to call with the same or an older snapshot any number of
 * times, from any process: the transaction is IMMEDIATE (it takes the write lock before
 * reading the stored state, so two processes cannot both see the old state), and each row's
 * dedup key (`order:<id>:<stage>[:<filled>]:<channel>`) is UNIQUE in the outbox.
 *
 * A snapshot for an order already stored notifies the order's owner, not `userId`. An
 * unknown `userId` (deleted user) records nothing and returns [].
 */
export function recordOrderSnapshot(deps: TrackDeps, userId: number, snapshot: OrderSnapshot): number[] {
  const run = deps.db.transaction((): number[] => {
    const user = deps.users.get(userId);
    if (!user) return [];
    const { previous, current } = deps.orders.upsertSnapshot(userId, snapshot, deps.now);
    const notifications = nextNotifications(previous, snapshot).filter((n) => n.kind !== "order_placed" || !deps.orders.placementShownOnCard(snapshot.tag));
    if (notifications.length === 0) return [];
    const owner = current.userId === user.id ? user : deps.users.get(current.userId);
    if (!owner) return [];
    const payload: OrderNotificationPayload = {
      orderId: snapshot.orderId,
      symbol: snapshot.symbol,
      transactionType: snapshot.transactionType,
      quantity: snapshot.quantity,
      filledQuantity: snapshot.filledQuantity,
      orderType: snapshot.orderType,
      product: snapshot.product,
      price: snapshot.price,
      averagePrice: snapshot.averagePrice,
      status: snapshot.status,
      statusMessage: snapshot.statusMessage,
      at: snapshot.at ?? deps.now,
    };
    return deps.notifier.record(notifications.map((n) => ({ user: owner, kind: n.kind, dedupKey: n.dedupKey, payload: { ...payload }, now: deps.now })));
  });
  // BEGIN IMMEDIATE; inside a caller's transaction better-sqlite3 uses a savepoint instead.
  return run.immediate();
}
