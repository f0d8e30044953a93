import { parsePrice, type ParseResult } from "../bot/parse-alert.js";

/**
 * What a trader asks for in chat, before the symbol is resolved. Pure: the handlers turn these
 * into confirmation cards; nothing here talks to Upstox.
 */

export type Side = "BUY" | "SELL";
export type Product = "I" | "D";
export type OrderType = "MARKET" | "LIMIT" | "SL" | "SL-M";

/** `/buy` and `/sell SYMBOL QTY [at PRICE | market] [intraday|delivery] [sl TRIGGER]`. */
export interface OrderIntent {
  symbol: string;
  side: Side;
  quantity: number;
  orderType: OrderType;
  /** The limit price (LIMIT, SL); undefined at market. */
  price: number | undefined;
  /** The stop-loss trigger (SL, SL-M). */
  triggerPrice: number | undefined;
  product: Product;
}

/** `/gtt SYMBOL buy|sell QTY above|below TRIGGER [target PRICE] [sl PRICE] [intraday|delivery]`. */
export interface GttIntent {
  symbol: string;
  side: Side;
  quantity: number;
  direction: "ABOVE" | "BELOW";
  trigger: number;
  target: number | undefined;
  stopLoss: number | undefined;
  product: Product;
}

/** `/modify ID [price P] [qty Q] [trigger T] [market]`: only what changes. */
export interface ModifyIntent {
  orderId: string;
  price: number | undefined;
  quantity: number | undefined;
  triggerPrice: number | undefined;
  market: boolean;
}

/** Upstox order ids are digits; GTT ids start with "GTT-". Both are opaque beyond that. */
export const ORDER_ID_RE = /^\d{6,30}$/;
export const GTT_ID_RE = /^GTT-[A-Za-z0-9]{4,40}$/;

/** Most units one chat order may ask for; the value limit binds long before it for equities. */
export const MAX_QUANTITY = 100_000;

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

const quantityOf = (s: string | undefined): number | undefined =>
  s && /^\d{1,6}$/.test(s) && Number(s) >= 1 && Number(s) <= MAX_QUANTITY ? Number(s) : undefined;

const PRODUCTS: Record<string, Product> = { intraday: "I", mis: "I", delivery: "D", cnc: "D" };

/** Splits on spaces and lower-cases the words (prices and symbols don't care). */
const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);

export function parseOrder(side: Side, text: string): ParseResult<OrderIntent> {
  const w = words(text);
  const symbol = w[0];
  if (!symbol) return fail("Say what to trade and how many.");
  const quantity = quantityOf(w[1]);
  if (quantity === undefined)
    return fail(w[1] ? `"${w[1]}" is not a quantity: a whole number from 1 to ${MAX_QUANTITY.toLocaleString("en-IN")}.` : "Say how many.");
  let price: number | undefined;
  let trigger: number | undefined;
  let market = false;
  let product: Product | undefined;
  for (let i = 2; i < w.length; i++) {
    const word = w[i]!.toLowerCase();
    if (word === "at" || word === "@") {
      const p = w[i + 1]?.toLowerCase() === "market" ? "market" : parsePrice(w[i + 1]);
      if (p === undefined) return fail(`"at" needs a price, e.g. at 1450.50${w[i + 1] ? ` (got "${w[i + 1]}")` : ""}.`);
      if (p === "market") market = true;
      else price = p;
      i++;
    } else if (word === "market" || word === "mkt") market = true;
    else if (word === "sl" || word === "stop") {
      trigger = parsePrice(w[i + 1]);
      if (trigger === undefined) return fail(`"sl" needs a trigger price, e.g. sl 1400${w[i + 1] ? ` (got "${w[i + 1]}")` : ""}.`);
      i++;
    } else if (PRODUCTS[word]) {
      if (product) return fail("Say intraday or delivery once.");
      product = PRODUCTS[word];
    } else return fail(`I don't understand "${w[i]}".`);
  }
  if (market && price !== undefined) return fail("Say either at PRICE or market, not both.");
  const orderType: OrderType = trigger !== undefined ? (price !== undefined ? "SL" : "SL-M") : price !== undefined ? "LIMIT" : "MARKET";
  if (trigger !== undefined && price !== undefined) {
    // A stop-loss limit triggers before its limit is reached: a buy's trigger sits at or below its limit, a sell's at or above.
    if (side === "BUY" && trigger > price) return fail("For a stop-loss buy the trigger must be at or below the limit price.");
    if (side === "SELL" && trigger < price) return fail("For a stop-loss sell the trigger must be at or above the limit price.");
  }
  return { ok: true, value: { symbol, side, quantity, orderType, price, triggerPrice: trigger, product: product ?? "D" } };
}

export function parseGtt(text: string): ParseResult<GttIntent> {
  const w = words(text);
  const symbol = w[0];
  if (!symbol) return fail("Say what to trade.");
  const sideWord = w[1]?.toLowerCase();
  if (sideWord !== "buy" && sideWord !== "sell") return fail(`Say buy or sell after the symbol${w[1] ? ` (got "${w[1]}")` : ""}.`);
  const side: Side = sideWord === "buy" ? "BUY" : "SELL";
  const quantity = quantityOf(w[2]);
  if (quantity === undefined)
    return fail(w[2] ? `"${w[2]}" is not a quantity: a whole number from 1 to ${MAX_QUANTITY.toLocaleString("en-IN")}.` : "Say how many.");
  const dirWord = w[3]?.toLowerCase();
  if (dirWord !== "above" && dirWord !== "below") return fail(`Say above or below and the trigger price${w[3] ? ` (got "${w[3]}")` : ""}.`);
  const trigger = parsePrice(w[4]);
  if (trigger === undefined) return fail(`"${dirWord}" needs a trigger price, e.g. ${dirWord} 1450${w[4] ? ` (got "${w[4]}")` : ""}.`);
  let target: number | undefined;
  let stopLoss: number | undefined;
  let product: Product | undefined;
  for (let i = 5; i < w.length; i++) {
    const word = w[i]!.toLowerCase();
    if (word === "target" || word === "tgt") {
      target = parsePrice(w[i + 1]);
      if (target === undefined) return fail(`"target" needs a price${w[i + 1] ? ` (got "${w[i + 1]}")` : ""}.`);
      i++;
    } else if (word === "sl" || word === "stop") {
      stopLoss = parsePrice(w[i + 1]);
      if (stopLoss === undefined) return fail(`"sl" needs a price${w[i + 1] ? ` (got "${w[i + 1]}")` : ""}.`);
      i++;
    } else if (PRODUCTS[word]) {
      if (product) return fail("Say intraday or delivery once.");
      product = PRODUCTS[word];
    } else return fail(`I don't understand "${w[i]}".`);
  }
  // The exits are the opposite side of the entry: a buy's target sits above its entry and its stop below; a sell's the other way.
  const up = side === "BUY" ? 1 : -1;
  if (target !== undefined && (target - trigger) * up <= 0)
    return fail(`A ${side === "BUY" ? "buy" : "sell"}'s target must be ${side === "BUY" ? "above" : "below"} its trigger (${trigger}).`);
  if (stopLoss !== undefined && (trigger - stopLoss) * up <= 0)
    return fail(`A ${side === "BUY" ? "buy" : "sell"}'s stop-loss must be ${side === "BUY" ? "below" : "above"} its trigger (${trigger}).`);
  return {
    ok: true,
    value: { symbol, side, quantity, direction: dirWord === "above" ? "ABOVE" : "BELOW", trigger, target, stopLoss, product: product ?? "D" },
  };
}

export function parseModify(text: string): ParseResult<ModifyIntent> {
  const w = words(text);
  const orderId = w[0];
  if (!orderId || !ORDER_ID_RE.test(orderId))
    return fail(orderId ? `"${orderId}" is not an order id: /orders shows them.` : "Say which order: /orders shows their ids.");
  const out: ModifyIntent = { orderId, price: undefined, quantity: undefined, triggerPrice: undefined, market: false };
  for (let i = 1; i < w.length; i++) {
    const word = w[i]!.toLowerCase();
    const next = w[i + 1];
    if (word === "price" || word === "at") {
      out.price = parsePrice(next);
      if (out.price === undefined) return fail(`"price" needs a price${next ? ` (got "${next}")` : ""}.`);
      i++;
    } else if (word === "qty" || word === "quantity") {
      out.quantity = quantityOf(next);
      if (out.quantity === undefined) return fail(`"qty" needs a whole number${next ? ` (got "${next}")` : ""}.`);
      i++;
    } else if (word === "trigger" || word === "sl") {
      out.triggerPrice = parsePrice(next);
      if (out.triggerPrice === undefined) return fail(`"trigger" needs a price${next ? ` (got "${next}")` : ""}.`);
      i++;
    } else if (word === "market") out.market = true;
    else return fail(`I don't understand "${w[i]}".`);
  }
  if (out.market && out.price !== undefined) return fail("Say either a price or market, not both.");
  if (out.price === undefined && out.quantity === undefined && out.triggerPrice === undefined && !out.market)
    return fail("Say what to change: price, qty or trigger.");
  return { ok: true, value: out };
}
