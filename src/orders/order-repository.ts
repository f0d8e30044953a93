import type { Database, Statement } from "better-sqlite3";
import { cardIdOfTag } from "./card-tag.js";
import type { OrderSnapshot } from "./snapshot.js";
import { isStale, nextState, stageOf, type OrderStage, type OrderState } from "./transitions.js";

/**
 * The `orders` table as order tracking uses it. Each row holds the most advanced snapshot
 * seen (a late, older snapshot never overwrites it) and the high-water mark that decides
 * notifications: `stage` and `filled_quantity` (the largest filled quantity seen).
 */
export interface StoredOrder extends OrderState {
  orderId: string;
  /** Our user who owns the order. */
  userId: number;
  upstoxUserId: string | null;
  tag: string | null;
  instrumentKey: string;
  symbol: string | null;
  transactionType: "BUY" | "SELL";
  orderType: string;
  product: string | null;
  quantity: number;
  price: number | null;
  triggerPrice: number | null;
  /** Upstox's status of the stored snapshot. */
  status: string;
  averagePrice: number | null;
  statusMessage: string | null;
  /** When Upstox says the stored state happened, epoch ms. */
  statusAt: number | null;
  /** When the bot first saw the order. */
  createdAt: number;
  updatedAt: number;
}

interface OrderRow {
  order_id: string;
  user_id: number;
  upstox_user_id: string | null;
  tag: string | null;
  instrument_key: string;
  trading_symbol: string | null;
  transaction_type: "BUY" | "SELL";
  order_type: string;
  product: string | null;
  quantity: number;
  price: number | null;
  trigger_price: number | null;
  status: string;
  stage: OrderStage | null;
  filled_quantity: number;
  average_price: number | null;
  status_message: string | null;
  status_at: number | null;
  created_at: number;
  updated_at: number;
}

const toStored = (r: OrderRow): StoredOrder => ({
  orderId: r.order_id,
  userId: r.user_id,
  upstoxUserId: r.upstox_user_id,
  tag: r.tag,
  instrumentKey: r.instrument_key,
  symbol: r.trading_symbol,
  transactionType: r.transaction_type,
  orderType: r.order_type,
  product: r.product,
  quantity: r.quantity,
  price: r.price,
  triggerPrice: r.trigger_price,
  status: r.status,
  // Rows written before tracking existed have no stage: derive it from their status.
  stage: r.stage ?? stageOf({ status: r.status, quantity: r.quantity, filledQuantity: r.filled_quantity }),
  filledQuantity: r.filled_quantity,
  averagePrice: r.average_price,
  statusMessage: r.status_message,
  statusAt: r.status_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

type WriteParams = {
  orderId: string;
  userId: number;
  upstoxUserId: string | null;
  tag: string | null;
  instrumentKey: string;
  symbol: string;
  transactionType: string;
  orderType: string;
  product: string | null;
  quantity: number;
  price: number;
  triggerPrice: number;
  status: string;
  stage: OrderStage;
  filledQuantity: number;
  averagePrice: number | null;
  statusMessage: string | null;
  statusAt: number | null;
  now: number;
};

/** How long a Confirm may be on its way (the placement and its look-ups by tag take seconds). */
const CONFIRM_IN_FLIGHT_MS = 180_000;

export class OrderRepository {
  private readonly byId: Statement<[string], OrderRow>;
  private readonly insertStmt: Statement<[WriteParams]>;
  private readonly updateStmt: Statement<[Omit<WriteParams, "userId">]>;
  private readonly forUserStmt: Statement<[number, number, number], OrderRow>;
  private readonly idsByTagStmt: Statement<[string], { order_id: string }>;
  private readonly cardStatusStmt: Statement<[string], { status: string; decided_at: number | null }>;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.byId = db.prepare("SELECT * FROM orders WHERE order_id = ?");
    this.idsByTagStmt = db.prepare("SELECT order_id FROM orders WHERE tag = ? ORDER BY created_at");
    this.cardStatusStmt = db.prepare("SELECT status, decided_at FROM order_cards WHERE id = ?");
    this.insertStmt = db.prepare(
      `INSERT INTO orders (order_id, user_id, upstox_user_id, tag, instrument_key, trading_symbol, transaction_type, order_type,
         product, quantity, price, trigger_price, status, stage, filled_quantity, average_price, status_message, status_at,
         created_at, updated_at)
       VALUES (@orderId, @userId, @upstoxUserId, @tag, @instrumentKey, @symbol, @transactionType, @orderType,
         @product, @quantity, @price, @triggerPrice, @status, @stage, @filledQuantity, @averagePrice, @statusMessage, @statusAt,
         @now, @now)`,
    );
    // The owner (user_id) and created_at never change; fields a source may not send keep their value.
    this.updateStmt = db.prepare(
      `UPDATE orders SET
         upstox_user_id = COALESCE(@upstoxUserId, upstox_user_id),
         tag = COALESCE(@tag, tag),
         instrument_key = @instrumentKey,
         trading_symbol = @symbol,
         transaction_type = @transactionType,
         order_type = @orderType,
         product = COALESCE(@product, product),
         quantity = @quantity,
         price = @price,
         trigger_price = @triggerPrice,
         status = @status,
         stage = @stage,
         filled_quantity = @filledQuantity,
         average_price = COALESCE(@averagePrice, average_price),
         status_message = @statusMessage,
         status_at = COALESCE(@statusAt, status_at),
         updated_at = @now
       WHERE order_id = @orderId`,
    );
    this.forUserStmt = db.prepare("SELECT * FROM orders WHERE user_id = ? AND created_at >= ? ORDER BY created_at DESC, order_id DESC LIMIT ?");
  }

  get(orderId: string): StoredOrder | undefined {
    const r = this.byId.get(orderId);
    return r && toStored(r);
  }

  /**
   * Whether this order came from a confirmation card that shows its placement itself (the
   * card says "placed", or is being confirmed right now): then "Order placed" is not told
   * again. An order whose placement the card could not confirm (unclear, or a process that
   * stopped mid-confirm and left the card "confirming") is told as any other.
   */
  /** The orders seen with this tag (an index keeps it a key search). */
  idsByTag(tag: string): string[] {
    return this.idsByTagStmt.all(tag).map((r) => r.order_id);
  }

  placementShownOnCard(tag: string | null): boolean {
    const cardId = cardIdOfTag(tag);
    if (!cardId) return false;
    const card = this.cardStatusStmt.get(cardId);
    if (card?.status === "done") return true;
    return card?.status === "confirming" && card.decided_at !== null && this.now() - card.decided_at < CONFIRM_IN_FLIGHT_MS;
  }

  /**
   * Records a snapshot in one transaction and returns the order before and after it.
   * A new order belongs to `userId`; an order already stored keeps its owner. A snapshot
   * older than the stored one (isStale) writes nothing, so `current` equals `previous`.
   */
  upsertSnapshot(userId: number, snapshot: OrderSnapshot, now: number = this.now()): { previous: StoredOrder | undefined; current: StoredOrder } {
    return this.db.transaction(() => {
      const previous = this.get(snapshot.orderId);
      if (previous && isStale(previous, snapshot)) return { previous, current: previous };
      const state = nextState(previous, snapshot);
      const params: WriteParams = {
        orderId: snapshot.orderId,
        userId,
        upstoxUserId: snapshot.upstoxUserId,
        tag: snapshot.tag,
        instrumentKey: snapshot.instrumentKey,
        symbol: snapshot.symbol,
        transactionType: snapshot.transactionType,
        orderType: snapshot.orderType,
        product: snapshot.product,
        quantity: snapshot.quantity,
        price: snapshot.price,
        triggerPrice: snapshot.triggerPrice,
        status: snapshot.status,
        stage: state.stage,
        filledQuantity: state.filledQuantity,
        averagePrice: snapshot.averagePrice,
        statusMessage: snapshot.statusMessage,
        statusAt: snapshot.at,
        now,
      };
      if (previous) {
        const { userId: _owner, ...update } = params;
        this.updateStmt.run(update);
      } else {
        this.insertStmt.run(params);
      }
      return { previous, current: this.get(snapshot.orderId)! };
    })();
  }

  /** A user's orders first seen at or after `sinceMs`, newest first. */
  forUser(userId: number, sinceMs: number, limit = 200): StoredOrder[] {
    return this.forUserStmt.all(userId, sinceMs, limit).map(toStored);
  }
}
