import { z } from "zod";
import { looseId, numeric, optNum, optStr } from "./loose-fields.js";
import { parseGttUpdate, type GttSnapshot } from "./gtt-update.js";
import { displaySymbol, normalizeStatus, parseIstTimestamp, toTransactionType, type OrderSnapshot } from "./snapshot.js";

/**
 * The Upstox order-update postback (REFERENCE §6.1), which is also the portfolio stream's
 * order message. Two shapes are accepted: the current one (`update_type: "order"`,
 * `user_id`, `instrument_key`) and the 2023 one (no `update_type`, `userId` only,
 * `instrument_token` only). A `gtt_order` update is parsed as a GTT (gtt-update.ts); other
 * update types (position, holding) are recognised and ignored. Pure: no I/O.
 *
 * Loose on purpose: unknown fields pass, numbers may arrive as numeric strings, optional
 * fields may be null. Only what we cannot track an order without is required: order_id,
 * status, quantity, transaction_type (BUY/SELL), order_type and an instrument key.
 */

export class WebhookPayloadError extends Error {
  constructor(
    readonly issues: string[],
    updateType: "order" | "gtt_order" = "order",
  ) {
    super(`invalid ${updateType === "gtt_order" ? "GTT" : "order"} update: ${issues.join("; ")}`);
    this.name = "WebhookPayloadError";
  }
}

export type WebhookParseResult =
  | { kind: "order"; snapshot: OrderSnapshot }
  | { kind: "gtt"; updateType: "gtt_order"; snapshot: GttSnapshot }
  /** A well-formed update of a type we do not track (position, holding, …). */
  | { kind: "ignored"; updateType: string }
  /** `updateType` says which parser refused it: an order update, or a GTT one. */
  | { kind: "invalid"; updateType: "order" | "gtt_order"; error: WebhookPayloadError };

const orderUpdateSchema = z.looseObject({
  update_type: z.string().nullish(),
  order_id: looseId,
  status: z.string().trim().min(1),
  quantity: numeric,
  filled_quantity: optNum,
  average_price: optNum,
  price: optNum,
  trigger_price: optNum,
  transaction_type: z.string(),
  order_type: z.string().trim().min(1),
  instrument_key: optStr,
  instrument_token: optStr,
  trading_symbol: optStr,
  tradingsymbol: optStr,
  product: optStr,
  status_message: optStr,
  user_id: optStr,
  userId: optStr,
  tag: optStr,
  order_timestamp: optStr,
  exchange_timestamp: optStr,
});

const nonEmpty = (v: string | null | undefined): string | null => (v && v.trim() !== "" ? v.trim() : null);

/** Parses a postback body: the parsed JSON, or its raw text. Never throws. */
export function parseOrderWebhook(body: unknown): WebhookParseResult {
  let value = body;
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    try {
      value = JSON.parse(body.toString()) as unknown;
    } catch {
      return invalid(["body is not JSON"]);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return invalid(["body is not a JSON object"]);

  const updateType = (value as Record<string, unknown>).update_type;
  if (updateType !== undefined && updateType !== null) {
    if (typeof updateType !== "string") return invalid(["update_type: expected a string"]);
    const type = updateType.trim().toLowerCase();
    if (type === "gtt_order") {
      const gtt = parseGttUpdate(value);
      return gtt.ok ? { kind: "gtt", updateType: "gtt_order", snapshot: gtt.snapshot } : invalid(gtt.issues, "gtt_order");
    }
    if (type !== "order") return { kind: "ignored", updateType };
  }

  const parsed = orderUpdateSchema.safeParse(value);
  if (!parsed.success) {
    return invalid(parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`));
  }
  const o = parsed.data;
  const issues: string[] = [];
  const transactionType = toTransactionType(o.transaction_type);
  if (!transactionType) issues.push(`transaction_type: expected BUY or SELL, got ${JSON.stringify(o.transaction_type)}`);
  const instrumentKey = nonEmpty(o.instrument_key) ?? nonEmpty(o.instrument_token);
  if (!instrumentKey) issues.push("instrument_key / instrument_token: required");
  if (!transactionType || !instrumentKey) return invalid(issues);

  return {
    kind: "order",
    snapshot: {
      orderId: String(o.order_id),
      status: normalizeStatus(o.status),
      quantity: o.quantity,
      filledQuantity: o.filled_quantity ?? 0,
      averagePrice: o.average_price ?? null,
      price: o.price ?? 0,
      triggerPrice: o.trigger_price ?? 0,
      symbol: displaySymbol(nonEmpty(o.trading_symbol) ?? nonEmpty(o.tradingsymbol) ?? instrumentKey),
      instrumentKey,
      transactionType,
      orderType: o.order_type,
      product: nonEmpty(o.product),
      statusMessage: nonEmpty(o.status_message),
      upstoxUserId: nonEmpty(o.user_id) ?? nonEmpty(o.userId),
      tag: nonEmpty(o.tag),
      // The exchange's time of this state when there is one, else when the order was placed.
      at: parseIstTimestamp(o.exchange_timestamp) ?? parseIstTimestamp(o.order_timestamp),
    },
  };
}

const invalid = (issues: string[], updateType: "order" | "gtt_order" = "order"): WebhookParseResult => ({
  kind: "invalid",
  updateType,
  error: new WebhookPayloadError(issues, updateType),
});
