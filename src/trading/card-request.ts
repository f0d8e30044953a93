import { rupees } from "../format/money.js";
import type { GttIntent, OrderIntent, OrderType, Product, Side } from "./parse-order.js";

/**
 * What a confirmation card will do when confirmed, exactly as it was shown: the card stores
 * this, and Confirm sends it without looking anything up again.
 */
export type CardRequest = PlaceRequest | ModifyRequest | CancelRequest | GttPlaceRequest | GttCancelRequest;

/** A new order exactly as /buy or /sell asked for it, on the resolved instrument. */
export interface PlaceRequest extends OrderIntent {
  action: "place";
  instrumentKey: string;
  /** Quantity × the limit price, or the last price at market: what the value limit judged. */
  value: number;
}

export interface ModifyRequest {
  action: "modify";
  orderId: string;
  symbol: string;
  side: Side;
  orderType: OrderType;
  quantity: number;
  price: number;
  triggerPrice: number;
  /** The order's validity as Upstox has it (DAY or IOC); modify must repeat it. */
  validity: string;
  value: number;
}

export interface CancelRequest {
  action: "cancel";
  orderId: string;
  symbol: string;
  side: Side;
  quantity: number;
}

/** A new GTT exactly as /gtt asked for it, on the resolved instrument. */
export interface GttPlaceRequest extends GttIntent {
  action: "gtt_place";
  instrumentKey: string;
  /** Quantity × the trigger price. */
  value: number;
}

export interface GttCancelRequest {
  action: "gtt_cancel";
  gttOrderId: string;
  symbol: string;
  side: Side;
  quantity: number;
}

const PRODUCT_WORDS: Record<Product, string> = { I: "intraday", D: "delivery" };
export const productWord = (p: string) => PRODUCT_WORDS[p as Product] ?? p;

/** "LIMIT @ ₹1,450.00", "MARKET", "SL ₹1,440.00 → ₹1,450.00", "SL-M trigger ₹1,440.00". */
export function priceWords(orderType: OrderType, price: number | undefined, trigger: number | undefined): string {
  switch (orderType) {
    case "MARKET":
      return "at market";
    case "LIMIT":
      return `limit ${rupees(price ?? 0)}`;
    case "SL":
      return `stop-loss: trigger ${rupees(trigger ?? 0)}, limit ${rupees(price ?? 0)}`;
    case "SL-M":
      return `stop-loss at market: trigger ${rupees(trigger ?? 0)}`;
  }
}

/** One line for the audit log and the logs. Plain text. */
export function summarise(r: CardRequest): string {
  switch (r.action) {
    case "place":
      return `${r.side} ${r.quantity} ${r.symbol} ${priceWords(r.orderType, r.price, r.triggerPrice)} (${productWord(r.product)})`;
    case "modify":
      return `modify ${r.orderId}: ${r.side} ${r.quantity} ${r.symbol} ${priceWords(r.orderType, r.price, r.triggerPrice)}`;
    case "cancel":
      return `cancel ${r.orderId}: ${r.side} ${r.quantity} ${r.symbol}`;
    case "gtt_place":
      return `GTT ${r.side} ${r.quantity} ${r.symbol} ${r.direction.toLowerCase()} ${rupees(r.trigger)}${r.target !== undefined ? ` target ${rupees(r.target)}` : ""}${r.stopLoss !== undefined ? ` sl ${rupees(r.stopLoss)}` : ""} (${productWord(r.product)})`;
    case "gtt_cancel":
      return `cancel GTT ${r.gttOrderId}: ${r.side} ${r.quantity} ${r.symbol}`;
  }
}
