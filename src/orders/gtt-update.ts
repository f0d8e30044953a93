import { z } from "zod";
import { looseId, numeric, optNum, optStr } from "./loose-fields.js";
import type { Gtt } from "../upstox/types.js";
import { displaySymbol, InvalidOrderSnapshotError, toTransactionType } from "./snapshot.js";

/**
 * A `gtt_order` update (REFERENCE §5.5.4): the GTT details object plus `update_type`, the
 * same on the postback and the portfolio stream. Pure: no I/O.
 *
 * Loose like the order webhook: unknown fields pass, numbers may be numeric strings, optional
 * fields may be null, `trading_symbol` may be missing (the documented sample has none).
 * Required is only what a GTT cannot be told without: its id, an instrument, a quantity and
 * at least one rule with a strategy, a status and a trigger price, and the entry's side.
 */

/** One leg of a GTT as last reported. */
export interface GttRuleSnapshot {
  /** Upper-case: ENTRY, TARGET or STOPLOSS (anything else is kept as sent). */
  strategy: string;
  /** Upper-case Upstox status: SCHEDULED, PENDING, TRIGGERED, COMPLETED, FAILED, CANCELLED, EXPIRED, … */
  status: string;
  /** ABOVE, BELOW or IMMEDIATE (upper-case); null when not sent. */
  triggerType: string | null;
  triggerPrice: number;
  transactionType: "BUY" | "SELL";
  /** Upstox's reason when the rule failed; null when empty. */
  message: string | null;
  /** The child order placed when the rule triggered; null until then. */
  orderId: string | null;
  /** Trailing stop-loss gap in price points; null except on a TSL stop-loss leg. */
  trailingGap: number | null;
}

/** One observation of a GTT, whichever source reported it (postback, portfolio stream, details poll). */
export interface GttSnapshot {
  gttOrderId: string;
  /** SINGLE or MULTIPLE. */
  type: string;
  /** The segment (`exchange` in GTT objects is NSE_EQ, BSE_EQ, …); null when not sent. */
  segment: string | null;
  instrumentKey: string;
  /** The trading symbol without an "-EQ" suffix; null when the update does not carry one. */
  symbol: string | null;
  quantity: number;
  product: string | null;
  /** The ENTRY leg's side (the exits are the opposite one). */
  transactionType: "BUY" | "SELL";
  rules: GttRuleSnapshot[];
  /** Epoch ms (Upstox sends epoch µs); null when not sent. */
  expiresAt: number | null;
  createdAt: number | null;
  /** The Upstox account when the update names one (the documented GTT sample does not). */
  upstoxUserId: string | null;
}

export type GttParseResult = { ok: true; snapshot: GttSnapshot } | { ok: false; issues: string[] };

const ruleSchema = z.looseObject({
  strategy: z.string().trim().min(1),
  status: z.string().trim().min(1),
  trigger_type: optStr,
  trigger_price: numeric,
  transaction_type: optStr,
  message: optStr,
  order_id: looseId.nullish(),
  trailing_gap: optNum,
});

const gttSchema = z.looseObject({
  gtt_order_id: looseId,
  type: optStr,
  exchange: optStr,
  instrument_token: optStr,
  instrument_key: optStr,
  trading_symbol: optStr,
  tradingsymbol: optStr,
  quantity: numeric,
  product: optStr,
  transaction_type: optStr,
  rules: z.array(ruleSchema).min(1),
  expires_at: optNum,
  created_at: optNum,
  user_id: optStr,
  userId: optStr,
});

const nonEmpty = (v: string | null | undefined): string | null => (v && v.trim() !== "" ? v.trim() : null);
const upper = (v: string | null | undefined): string | null => nonEmpty(v)?.toUpperCase() ?? null;

/**
 * An Upstox timestamp as epoch ms. GTT objects carry epoch microseconds (16 digits, §5.5.3);
 * milliseconds and seconds are told apart by magnitude, should a source send those.
 */
export function gttEpochMs(v: number | null | undefined): number | null {
  if (v === null || v === undefined || !Number.isFinite(v) || v <= 0) return null;
  if (v >= 1e14) return Math.round(v / 1000);
  if (v >= 1e11) return Math.round(v);
  return Math.round(v * 1000);
}

/** Parses a gtt_order update (already JSON-decoded). Never throws. */
export function parseGttUpdate(value: unknown): GttParseResult {
  const parsed = gttSchema.safeParse(value);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`) };
  const g = parsed.data;
  const issues: string[] = [];
  const instrumentKey = nonEmpty(g.instrument_token) ?? nonEmpty(g.instrument_key);
  if (!instrumentKey) issues.push("instrument_token / instrument_key: required");
  const entry = g.rules.find((r) => upper(r.strategy) === "ENTRY") ?? g.rules[0]!;
  const entrySide = toTransactionType(entry.transaction_type ?? "") ?? toTransactionType(g.transaction_type ?? "");
  if (!entrySide) issues.push(`rules: the ENTRY leg's transaction_type must be BUY or SELL, got ${JSON.stringify(entry.transaction_type ?? null)}`);
  if (!instrumentKey || !entrySide) return { ok: false, issues };
  const exitSide = entrySide === "BUY" ? "SELL" : "BUY";

  const rules = g.rules.map((r): GttRuleSnapshot => {
    const strategy = upper(r.strategy)!;
    return {
      strategy,
      status: upper(r.status)!,
      triggerType: upper(r.trigger_type),
      triggerPrice: r.trigger_price,
      // A leg without a side is the entry's side (ENTRY) or the opposite one (the exits, §5.5.2).
      transactionType: toTransactionType(r.transaction_type ?? "") ?? (strategy === "ENTRY" ? entrySide : exitSide),
      message: nonEmpty(r.message),
      orderId: r.order_id === null || r.order_id === undefined ? null : String(r.order_id),
      trailingGap: r.trailing_gap ?? null,
    };
  });
  const symbol = nonEmpty(g.trading_symbol) ?? nonEmpty(g.tradingsymbol);
  return {
    ok: true,
    snapshot: {
      gttOrderId: String(g.gtt_order_id),
      type: upper(g.type) ?? (rules.length > 1 ? "MULTIPLE" : "SINGLE"),
      segment: nonEmpty(g.exchange),
      instrumentKey,
      symbol: symbol === null ? null : displaySymbol(symbol),
      quantity: g.quantity,
      product: nonEmpty(g.product),
      transactionType: entrySide,
      rules,
      expiresAt: gttEpochMs(g.expires_at),
      createdAt: gttEpochMs(g.created_at),
      upstoxUserId: nonEmpty(g.user_id) ?? nonEmpty(g.userId),
    },
  };
}

/**
 * A GTT from the Upstox client (details endpoint) as a snapshot, so a poll is told once with
 * the postback and the stream. The client puts the instrument key where the symbol is
 * missing; that counts as no symbol here. Throws InvalidOrderSnapshotError when the ENTRY
 * leg's side is not BUY or SELL.
 */
export function snapshotFromGtt(gtt: Gtt): GttSnapshot {
  const entry = gtt.rules.find((r) => r.strategy.trim().toUpperCase() === "ENTRY") ?? gtt.rules[0];
  const entrySide = toTransactionType(entry?.transactionType ?? "");
  if (!entrySide)
    throw new InvalidOrderSnapshotError(`GTT ${gtt.gttOrderId}: the ENTRY leg's side ${JSON.stringify(entry?.transactionType ?? null)} is not BUY or SELL`);
  const exitSide = entrySide === "BUY" ? "SELL" : "BUY";
  const symbol = nonEmpty(gtt.symbol);
  return {
    gttOrderId: gtt.gttOrderId,
    type: upper(gtt.type) ?? (gtt.rules.length > 1 ? "MULTIPLE" : "SINGLE"),
    segment: nonEmpty(gtt.segment),
    instrumentKey: gtt.instrumentKey,
    symbol: symbol === null || symbol === gtt.instrumentKey ? null : displaySymbol(symbol),
    quantity: gtt.quantity,
    product: nonEmpty(gtt.product),
    transactionType: entrySide,
    rules: gtt.rules.map((r) => {
      const strategy = r.strategy.trim().toUpperCase();
      return {
        strategy,
        status: r.status.trim().toUpperCase(),
        triggerType: upper(r.triggerType),
        triggerPrice: r.triggerPrice,
        transactionType: toTransactionType(r.transactionType) ?? (strategy === "ENTRY" ? entrySide : exitSide),
        message: nonEmpty(r.message),
        orderId: r.orderId,
        trailingGap: r.trailingGap,
      };
    }),
    expiresAt: gtt.expiresAt,
    createdAt: gtt.createdAt,
    upstoxUserId: null,
  };
}
