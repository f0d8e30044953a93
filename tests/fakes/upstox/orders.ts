import { badRequest, ORDER_NOT_FOUND } from "./errors.js";
import type { Instrument, InstrumentStore } from "./instruments.js";
import { istParts, orderTs, tradeTs } from "./time.js";

/** The order object of details / order book (fixtures/order_details.json field order). */
export interface FakeOrder {
  exchange: string;
  product: string;
  price: number;
  quantity: number;
  status: string;
  guid: string | null;
  tag: string | null;
  instrument_token: string;
  placed_by: string;
  trading_symbol: string;
  tradingsymbol: string;
  order_type: string;
  validity: string;
  trigger_price: number;
  disclosed_quantity: number;
  transaction_type: string;
  average_price: number;
  filled_quantity: number;
  pending_quantity: number;
  status_message: string | null;
  status_message_raw: string | null;
  exchange_order_id: string | null;
  parent_order_id: string | null;
  order_id: string;
  variety: string;
  order_timestamp: string;
  exchange_timestamp: string | null;
  is_amo: boolean;
  order_request_id: string;
  order_ref_id: string;
}

export interface FakeTrade {
  exchange: string;
  product: string;
  trading_symbol: string;
  tradingsymbol: string;
  instrument_token: string;
  order_type: string;
  transaction_type: string;
  quantity: number;
  exchange_order_id: string;
  order_id: string;
  exchange_timestamp: string;
  average_price: number;
  trade_id: string;
  order_ref_id: string;
  order_timestamp: string;
}

/** Fields of an order-history row (fixtures/order_history.json: no pending_quantity, status_message_raw, order_ref_id). */
const HISTORY_FIELDS = [
  "exchange",
  "price",
  "product",
  "quantity",
  "status",
  "tag",
  "validity",
  "average_price",
  "disclosed_quantity",
  "exchange_order_id",
  "exchange_timestamp",
  "instrument_token",
  "is_amo",
  "status_message",
  "order_id",
  "order_request_id",
  "order_type",
  "parent_order_id",
  "trading_symbol",
  "tradingsymbol",
  "order_timestamp",
  "filled_quantity",
  "transaction_type",
  "trigger_price",
  "placed_by",
  "variety",
] as const satisfies ReadonlyArray<keyof FakeOrder>;

export type HistoryRow = Record<(typeof HISTORY_FIELDS)[number], unknown>;

export const TERMINAL_STATUSES = new Set(["complete", "rejected", "cancelled", "cancelled after market order"]);

export const PRODUCTS = ["I", "D", "MTF"];
export const VALIDITIES = ["DAY", "IOC"];
export const ORDER_TYPES = ["MARKET", "LIMIT", "SL", "SL-M"];
export const TRANSACTION_TYPES = ["BUY", "SELL"];

interface Entry {
  userId: string;
  order: FakeOrder;
  history: HistoryRow[];
  trades: FakeTrade[];
}

export interface TransitionOpts {
  filledQuantity?: number;
  averagePrice?: number;
  statusMessage?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export interface PlaceInput {
  inst: Instrument;
  quantity: number;
  product: string;
  validity: string;
  price: number;
  tag: string | null;
  order_type: string;
  transaction_type: string;
  disclosed_quantity: number;
  trigger_price: number;
  is_amo: boolean;
}

/** Validates a v2/v3 place body. Error codes: documented ones where REFERENCE.md names them, else UDAPI100036 (invalid input). */
export function validatePlace(body: unknown, instruments: InstrumentStore): PlaceInput {
  if (!isObj(body)) throw badRequest("UDAPI100036", "Invalid input: the request body must be a JSON object", null, null);
  const b = body;
  const tokenV = b.instrument_token;
  if (tokenV === undefined || tokenV === null || tokenV === "") throw badRequest("UDAPI1026", "Instrument key is required", "instrument_token", tokenV ?? null);
  if (typeof tokenV !== "string") throw badRequest("UDAPI1087", "Invalid instrument key", "instrument_token", tokenV);
  const inst = instruments.get(tokenV);
  if (!inst) throw badRequest("UDAPI1087", "Invalid instrument key", "instrument_token", tokenV);
  if (inst.isIndex) throw badRequest("UDAPI100036", "Orders cannot be placed on an index", "instrument_token", tokenV);

  if (b.quantity === undefined || b.quantity === null || b.quantity === 0)
    throw badRequest("UDAPI1052", "Quantity should be greater than zero", "quantity", b.quantity ?? null);
  if (!isPosInt(b.quantity)) throw badRequest("UDAPI1052", "Quantity must be a positive whole number", "quantity", b.quantity);
  if (b.quantity % inst.lotSize !== 0) throw badRequest("UDAPI100036", `Quantity must be a multiple of the lot size ${inst.lotSize}`, "quantity", b.quantity);

  if (b.product === undefined || b.product === null || b.product === "") throw badRequest("UDAPI100036", "Product is required", "product", null);
  if (typeof b.product !== "string" || !PRODUCTS.includes(b.product))
    throw badRequest("UDAPI100036", "Invalid product, expected one of I, D, MTF", "product", b.product);

  if (b.validity === undefined || b.validity === null || b.validity === "") throw badRequest("UDAPI1007", "Validity is required", "validity", null);
  if (typeof b.validity !== "string" || !VALIDITIES.includes(b.validity)) throw badRequest("UDAPI1055", "Invalid validity", "validity", b.validity);

  if (b.order_type === undefined || b.order_type === null || b.order_type === "") throw badRequest("UDAPI1004", "Order type is required", "order_type", null);
  if (typeof b.order_type !== "string" || !ORDER_TYPES.includes(b.order_type)) throw badRequest("UDAPI1056", "Invalid order type", "order_type", b.order_type);

  if (typeof b.transaction_type !== "string" || !TRANSACTION_TYPES.includes(b.transaction_type))
    throw badRequest("UDAPI100036", "Invalid transaction_type, expected BUY or SELL", "transaction_type", b.transaction_type ?? null);

  const price = b.price ?? 0;
  if (!isNum(price) || price < 0) throw badRequest("UDAPI100036", "Invalid price", "price", b.price);
  if ((b.order_type === "LIMIT" || b.order_type === "SL") && price <= 0)
    throw badRequest("UDAPI100036", "Price must be greater than zero for LIMIT and SL orders", "price", price);
  const trigger = b.trigger_price ?? 0;
  if (!isNum(trigger) || trigger < 0) throw badRequest("UDAPI100036", "Invalid trigger_price", "trigger_price", b.trigger_price);
  if ((b.order_type === "SL" || b.order_type === "SL-M") && trigger <= 0)
    throw badRequest("UDAPI100036", "Trigger price must be greater than zero for SL and SL-M orders", "trigger_price", trigger);

  const disclosed = b.disclosed_quantity ?? 0;
  if (typeof disclosed !== "number" || !Number.isInteger(disclosed) || disclosed < 0 || disclosed > b.quantity)
    throw badRequest("UDAPI100036", "Invalid disclosed_quantity", "disclosed_quantity", b.disclosed_quantity);

  const tag = b.tag ?? null;
  if (tag !== null && (typeof tag !== "string" || tag.length > 40)) throw badRequest("UDAPI100036", "Invalid tag: at most 40 characters", "tag", tag);
  if (b.is_amo !== undefined && typeof b.is_amo !== "boolean") throw badRequest("UDAPI100036", "Invalid is_amo", "is_amo", b.is_amo);

  return {
    inst,
    quantity: b.quantity,
    product: b.product,
    validity: b.validity,
    price: b.order_type === "MARKET" || b.order_type === "SL-M" ? 0 : price,
    tag: tag === "" ? null : tag,
    order_type: b.order_type,
    transaction_type: b.transaction_type,
    disclosed_quantity: disclosed,
    trigger_price: trigger,
    is_amo: b.is_amo === true,
  };
}

export class OrderBook {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;
  private tradeSeq = 0;

  constructor(private readonly instruments: InstrumentStore) {}

  private nextOrderId(now: number): string {
    const p = istParts(now);
    const yymmdd = `${String(p.year % 100).padStart(2, "0")}${String(p.month).padStart(2, "0")}${String(p.day).padStart(2, "0")}`;
    return `${yymmdd}${String(25_000_000 + ++this.seq).padStart(9, "0")}`;
  }

  private row(o: FakeOrder): HistoryRow {
    const r = {} as HistoryRow;
    for (const f of HISTORY_FIELDS) r[f] = o[f];
    r.parent_order_id = o.parent_order_id ?? "NA";
    return r;
  }

  private push(e: Entry, status: string, now: number): void {
    e.order.status = status;
    if ((status === "open" || status === "trigger pending" || TERMINAL_STATUSES.has(status)) && e.order.exchange_timestamp === null && status !== "rejected") {
      e.order.exchange_timestamp = orderTs(now);
      e.order.exchange_order_id = `1300000${e.order.order_id.slice(-9)}`;
    }
    e.order.pending_quantity = status === "rejected" || status === "complete" ? 0 : Math.max(0, e.order.quantity - e.order.filled_quantity);
    e.history.push(this.row(e.order));
  }

  private fill(e: Entry, filled: number, averagePrice: number, now: number): void {
    const delta = filled - e.order.filled_quantity;
    e.order.filled_quantity = filled;
    e.order.average_price = averagePrice;
    if (delta > 0) {
      e.trades.push({
        exchange: e.order.exchange,
        product: e.order.product,
        trading_symbol: e.order.trading_symbol,
        tradingsymbol: e.order.tradingsymbol,
        instrument_token: e.order.instrument_token,
        order_type: e.order.order_type,
        transaction_type: e.order.transaction_type,
        quantity: delta,
        exchange_order_id: e.order.exchange_order_id ?? "",
        order_id: e.order.order_id,
        exchange_timestamp: tradeTs(now),
        average_price: averagePrice,
        trade_id: String(50_000_000 + ++this.tradeSeq),
        order_ref_id: e.order.order_ref_id,
        order_timestamp: tradeTs(now),
      });
    }
  }

  /** The status a live (non-terminal) order rests in after placement or modification. */
  private settle(e: Entry, now: number): void {
    if (e.order.order_type === "MARKET") {
      this.push(e, "open", now);
      this.fill(e, e.order.quantity, this.instruments.price(e.order.instrument_token).last, now);
      this.push(e, "complete", now);
    } else if (e.order.order_type === "SL" || e.order.order_type === "SL-M") {
      this.push(e, "trigger pending", now);
    } else {
      this.push(e, "open", now);
    }
  }

  place(userId: string, input: PlaceInput, now: number): FakeOrder {
    const orderId = this.nextOrderId(now);
    const order: FakeOrder = {
      exchange: input.inst.orderExchange,
      product: input.product,
      price: input.price,
      quantity: input.quantity,
      status: "put order req received",
      guid: null,
      tag: input.tag,
      instrument_token: input.inst.key,
      placed_by: userId,
      trading_symbol: input.inst.symbol,
      tradingsymbol: input.inst.symbol,
      order_type: input.order_type,
      validity: input.validity,
      trigger_price: input.trigger_price,
      disclosed_quantity: input.disclosed_quantity,
      transaction_type: input.transaction_type,
      average_price: 0,
      filled_quantity: 0,
      pending_quantity: input.quantity,
      status_message: null,
      status_message_raw: null,
      exchange_order_id: null,
      parent_order_id: null,
      order_id: orderId,
      variety: "SIMPLE",
      order_timestamp: orderTs(now),
      exchange_timestamp: null,
      is_amo: input.is_amo,
      order_request_id: "1",
      order_ref_id: `udapi-${orderId}`,
    };
    const e: Entry = { userId, order, history: [], trades: [] };
    this.entries.set(orderId, e);
    this.push(e, "put order req received", now);
    this.push(e, "validation pending", now);
    if (input.is_amo) {
      this.push(e, "after market order req received", now);
      return { ...order };
    }
    this.push(e, "open pending", now);
    this.settle(e, now);
    return { ...order };
  }

  /** The user's order, or UDAPI100010. */
  owned(userId: string, orderId: unknown): Entry {
    if (typeof orderId !== "string" || orderId === "") throw badRequest("UDAPI1023", "Order id is required", "order_id", orderId ?? null);
    if (!/^[A-Za-z0-9-]+$/.test(orderId)) throw badRequest("UDAPI1010", "Order id contains invalid characters", "order_id", orderId);
    const e = this.entries.get(orderId);
    if (!e || e.userId !== userId) throw ORDER_NOT_FOUND(orderId);
    return e;
  }

  modify(userId: string, body: unknown, now: number): FakeOrder {
    if (!isObj(body)) throw badRequest("UDAPI100036", "Invalid input: the request body must be a JSON object");
    const e = this.owned(userId, body.order_id);
    if (TERMINAL_STATUSES.has(e.order.status))
      throw badRequest("UDAPI100040", `Order is already ${e.order.status} and cannot be modified`, "order_id", e.order.order_id);
    const b = body;
    if (b.order_type === undefined || b.order_type === null || b.order_type === "") throw badRequest("UDAPI1004", "Order type is required", "order_type", null);
    if (typeof b.order_type !== "string" || !ORDER_TYPES.includes(b.order_type))
      throw badRequest("UDAPI1056", "Invalid order type", "order_type", b.order_type);
    if (b.validity === undefined || b.validity === null || b.validity === "") throw badRequest("UDAPI1007", "Validity is required", "validity", null);
    if (typeof b.validity !== "string" || !VALIDITIES.includes(b.validity)) throw badRequest("UDAPI1055", "Invalid validity", "validity", b.validity);
    const price = b.price ?? 0;
    if (!isNum(price) || price < 0) throw badRequest("UDAPI100036", "Invalid price", "price", b.price);
    if ((b.order_type === "LIMIT" || b.order_type === "SL") && price <= 0)
      throw badRequest("UDAPI100036", "Price must be greater than zero for LIMIT and SL orders", "price", price);
    const trigger = b.trigger_price ?? 0;
    if (!isNum(trigger) || trigger < 0) throw badRequest("UDAPI100036", "Invalid trigger_price", "trigger_price", b.trigger_price);
    if ((b.order_type === "SL" || b.order_type === "SL-M") && trigger <= 0)
      throw badRequest("UDAPI100036", "Trigger price must be greater than zero for SL and SL-M orders", "trigger_price", trigger);
    if (b.quantity !== undefined) {
      if (!isPosInt(b.quantity)) throw badRequest("UDAPI1052", "Quantity must be a positive whole number", "quantity", b.quantity);
      if (b.quantity < e.order.filled_quantity) throw badRequest("UDAPI100036", "Quantity cannot be less than the filled quantity", "quantity", b.quantity);
      e.order.quantity = b.quantity;
    }
    if (b.disclosed_quantity !== undefined) {
      if (typeof b.disclosed_quantity !== "number" || !Number.isInteger(b.disclosed_quantity) || b.disclosed_quantity < 0)
        throw badRequest("UDAPI100036", "Invalid disclosed_quantity", "disclosed_quantity", b.disclosed_quantity);
      e.order.disclosed_quantity = b.disclosed_quantity;
    }
    e.order.order_type = b.order_type;
    e.order.validity = b.validity;
    e.order.price = b.order_type === "MARKET" || b.order_type === "SL-M" ? 0 : price;
    e.order.trigger_price = trigger;
    this.push(e, "modify validation pending", now);
    this.push(e, "modify pending", now);
    this.settle(e, now);
    return { ...e.order };
  }

  cancel(userId: string, orderId: unknown, now: number): FakeOrder {
    const e = this.owned(userId, orderId);
    if (TERMINAL_STATUSES.has(e.order.status))
      throw badRequest(
        "UDAPI100040",
        `Order is already ${e.order.status}; cancelled, rejected or completed orders cannot be cancelled`,
        "order_id",
        e.order.order_id,
      );
    this.push(e, "cancel pending", now);
    this.push(e, e.order.is_amo ? "cancelled after market order" : "cancelled", now);
    return { ...e.order };
  }

  /** Test hook: move an order to any status, appending a history row. */
  transition(orderId: string, status: string, opts: TransitionOpts, now: number): FakeOrder {
    const e = this.entries.get(orderId);
    if (!e) throw new Error(`FakeUpstox.setOrderStatus: unknown order "${orderId}"`);
    const filled = opts.filledQuantity ?? (status === "complete" ? e.order.quantity : e.order.filled_quantity);
    if (!Number.isInteger(filled) || filled < 0 || filled > e.order.quantity) throw new Error(`FakeUpstox.setOrderStatus: bad filledQuantity ${filled}`);
    if (filled !== e.order.filled_quantity || opts.averagePrice !== undefined) {
      const avg =
        opts.averagePrice ??
        (e.order.average_price > 0 ? e.order.average_price : e.order.price > 0 ? e.order.price : this.instruments.price(e.order.instrument_token).last);
      this.fill(e, filled, avg, now);
    }
    if (opts.statusMessage !== undefined) {
      e.order.status_message = opts.statusMessage;
      if (status === "rejected") e.order.status_message_raw = `RMS:${opts.statusMessage}`;
    }
    this.push(e, status, now);
    return { ...e.order };
  }

  book(userId: string): FakeOrder[] {
    return [...this.entries.values()].filter((e) => e.userId === userId).map((e) => ({ ...e.order }));
  }

  historyOf(userId: string, q: { orderId?: string | null; tag?: string | null }): HistoryRow[] {
    if (q.orderId) {
      const e = this.owned(userId, q.orderId);
      if (q.tag && e.order.tag !== q.tag) return [];
      return e.history.map((r) => ({ ...r }));
    }
    return [...this.entries.values()].filter((e) => e.userId === userId && e.order.tag === q.tag).flatMap((e) => e.history.map((r) => ({ ...r })));
  }

  tradesOf(userId: string, orderId?: string): FakeTrade[] {
    if (orderId !== undefined) return this.owned(userId, orderId).trades.map((t) => ({ ...t }));
    return [...this.entries.values()].filter((e) => e.userId === userId).flatMap((e) => e.trades.map((t) => ({ ...t })));
  }

  get(orderId: string): FakeOrder | undefined {
    const e = this.entries.get(orderId);
    return e ? { ...e.order } : undefined;
  }

  all(): FakeOrder[] {
    return [...this.entries.values()].map((e) => ({ ...e.order }));
  }
}
