import { IST_OFFSET_MS } from "../market/calendar.js";
import type { Order } from "../upstox/types.js";

/**
 * One observation of an order, whichever source reported it (the order-update webhook or
 * portfolio stream, or a poll of the order book). Source-independent, camelCase.
 */
export interface OrderSnapshot {
  orderId: string;
  /** Upstox's status, trimmed and lower-cased ("open", "complete", "trigger pending", …). */
  status: string;
  quantity: number;
  filledQuantity: number;
  averagePrice: number | null;
  price: number;
  triggerPrice: number;
  /** The trading symbol without an "-EQ" suffix ("NHPC-EQ" → "NHPC"). */
  symbol: string;
  instrumentKey: string;
  transactionType: "BUY" | "SELL";
  orderType: string;
  product: string | null;
  statusMessage: string | null;
  /** The Upstox account (webhook `user_id ?? userId`); null when the source does not say (the order book). */
  upstoxUserId: string | null;
  tag: string | null;
  /** When Upstox says this state happened (exchange time, else order time), epoch ms; null when unknown. */
  at: number | null;
}

/** "NHPC-EQ" → "NHPC"; other symbols (F&O, "SBIN") unchanged. */
export const displaySymbol = (tradingSymbol: string): string => tradingSymbol.replace(/-EQ$/i, "");

export const normalizeStatus = (status: string): string => status.trim().toLowerCase().replace(/\s+/g, " ");

export function toTransactionType(v: string): "BUY" | "SELL" | undefined {
  const t = v.trim().toUpperCase();
  return t === "BUY" || t === "SELL" ? t : undefined;
}

/** Upstox order timestamps are IST wall-clock "YYYY-MM-DD HH:mm:ss": epoch ms, or null if not in that form. */
export function parseIstTimestamp(v: string | null | undefined): number | null {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(v.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  return Date.UTC(y, mo - 1, d, h, mi, s) - IST_OFFSET_MS;
}

export class InvalidOrderSnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidOrderSnapshotError";
  }
}

/**
 * An order-book (or order-details / history) entry as a snapshot. The order book carries no
 * Upstox user id and the client keeps only the order time, so `at` is the order time.
 * Throws InvalidOrderSnapshotError for a transaction type other than BUY/SELL.
 */
export function snapshotFromOrder(o: Order): OrderSnapshot {
  const transactionType = toTransactionType(o.transactionType);
  if (!transactionType) throw new InvalidOrderSnapshotError(`order ${o.orderId}: transaction_type ${JSON.stringify(o.transactionType)} is not BUY or SELL`);
  return {
    orderId: o.orderId,
    status: normalizeStatus(o.status),
    quantity: o.quantity,
    filledQuantity: o.filledQuantity,
    averagePrice: o.averagePrice,
    price: o.price,
    triggerPrice: o.triggerPrice,
    symbol: displaySymbol(o.symbol),
    instrumentKey: o.instrumentKey,
    transactionType,
    orderType: o.orderType,
    product: o.product ?? null,
    statusMessage: o.statusMessage,
    upstoxUserId: null,
    tag: o.tag,
    at: parseIstTimestamp(o.placedAt),
  };
}
