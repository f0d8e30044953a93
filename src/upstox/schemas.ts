import { z } from "zod";

/**
 * The documented Upstox response shapes (shared/upstox/REFERENCE.md), as much as the bot
 * reads of them. Unknown extra fields pass through; a missing or mistyped field we rely on
 * is an error, not a silent undefined.
 */

const num = z.number();
const numOrNull = z.number().nullable();
const str = z.string();
const strOrNull = z.string().nullable().optional();

export const fullQuoteSchema = z.looseObject({
  instrument_token: str,
  symbol: str.optional(),
  last_price: num,
  volume: num.optional().default(0),
  average_price: numOrNull.optional(),
  net_change: num.optional(),
  last_trade_time: z.union([str, num]).optional(),
  timestamp: str.optional(),
  ohlc: z.looseObject({ open: num, high: num, low: num, close: num }),
  total_buy_quantity: num.optional(),
  total_sell_quantity: num.optional(),
  lower_circuit_limit: num.optional(),
  upper_circuit_limit: num.optional(),
  oi: num.optional(),
});
export const fullQuoteMapSchema = z.record(z.string(), fullQuoteSchema);

export const ltpSchema = z.looseObject({
  instrument_token: str,
  last_price: num,
  ltq: num.optional(),
  volume: num.optional(),
  cp: num.optional(),
});
export const ltpMapSchema = z.record(z.string(), ltpSchema);

const ohlcBar = z.looseObject({ open: num, high: num, low: num, close: num, volume: num.optional(), ts: num.optional() });
export const ohlcSchema = z.looseObject({
  instrument_token: str,
  last_price: num,
  prev_ohlc: ohlcBar.nullable().optional(),
  live_ohlc: ohlcBar.nullable().optional(),
});
export const ohlcMapSchema = z.record(z.string(), ohlcSchema);

export const candlesSchema = z.looseObject({
  candles: z.array(z.tuple([str, num, num, num, num, num]).rest(num)),
});

export const holdingSchema = z.looseObject({
  isin: str.optional(),
  company_name: str.optional(),
  trading_symbol: str.optional(),
  tradingsymbol: str.optional(),
  instrument_token: str,
  exchange: str.optional(),
  product: str.optional(),
  quantity: num,
  t1_quantity: num.optional().default(0),
  average_price: num,
  last_price: num,
  close_price: num,
  pnl: num,
  day_change: num.optional().default(0),
  day_change_percentage: num.optional().default(0),
});

export const positionSchema = z.looseObject({
  exchange: str.optional(),
  instrument_token: str,
  trading_symbol: str.optional(),
  tradingsymbol: str.optional(),
  product: str,
  quantity: num,
  average_price: numOrNull.optional(),
  last_price: num,
  close_price: num.optional(),
  pnl: num,
  realised: num.optional().default(0),
  unrealised: num.optional().default(0),
  multiplier: num.optional().default(1),
  day_buy_quantity: num.optional().default(0),
  day_sell_quantity: num.optional().default(0),
});

const fundsSegment = z.looseObject({
  used_margin: num,
  payin_amount: num.optional(),
  span_margin: num.optional(),
  adhoc_margin: num.optional(),
  notional_cash: num.optional(),
  available_margin: num,
  exposure_margin: num.optional(),
});
export const fundsSchema = z.looseObject({ equity: fundsSegment.nullable().optional(), commodity: fundsSegment.nullable().optional() });

export const profileSchema = z.looseObject({
  email: str.optional(),
  user_id: str,
  user_name: str.optional(),
  broker: str.optional(),
  exchanges: z.array(str).optional(),
  products: z.array(str).optional(),
  order_types: z.array(str).optional(),
  is_active: z.boolean().optional(),
});

export const tokenResponseSchema = z.looseObject({
  access_token: str.min(1),
  user_id: str.optional(),
  user_name: str.optional(),
  email: str.optional(),
  extended_token: str.nullable().optional(),
});

export const orderSchema = z.looseObject({
  order_id: str,
  exchange: str.optional(),
  instrument_token: str,
  trading_symbol: str.optional(),
  tradingsymbol: str.optional(),
  product: str.optional(),
  order_type: str,
  transaction_type: str,
  quantity: num,
  price: num.optional().default(0),
  trigger_price: num.optional().default(0),
  average_price: numOrNull.optional(),
  filled_quantity: num.optional().default(0),
  pending_quantity: num.optional(),
  status: str,
  status_message: strOrNull,
  tag: strOrNull,
  order_timestamp: strOrNull,
  exchange_timestamp: strOrNull,
  validity: str.optional(),
  is_amo: z.boolean().optional(),
});

export const tradeSchema = z.looseObject({
  trade_id: str,
  order_id: str,
  instrument_token: str,
  trading_symbol: str.optional(),
  tradingsymbol: str.optional(),
  transaction_type: str,
  quantity: num,
  average_price: num,
  exchange_timestamp: strOrNull,
  order_timestamp: strOrNull,
});

export const placeOrderV3Schema = z.looseObject({ order_ids: z.array(str).min(1) });
export const orderIdSchema = z.looseObject({ order_id: str });

export const holidaySchema = z.looseObject({
  date: str,
  description: str.optional(),
  holiday_type: str.optional(),
  closed_exchanges: z.array(str).optional().default([]),
  open_exchanges: z
    .array(z.looseObject({ exchange: str, start_time: num, end_time: num }))
    .optional()
    .default([]),
});
export const timingSchema = z.looseObject({ exchange: str, start_time: num, end_time: num });
export const marketStatusSchema = z.looseObject({ exchange: str, status: str, last_updated: num.optional() });

export const instrumentRecordSchema = z.looseObject({
  instrument_key: str,
  trading_symbol: str,
  segment: str,
  exchange: str,
  name: str.optional(),
  instrument_type: str.optional(),
  isin: str.optional(),
  lot_size: num.optional(),
  tick_size: num.optional(),
  expiry: num.optional(),
  short_name: str.optional(),
});

/** A feed authorization: the one-time WebSocket URL (Upstox has spelt the field both ways). */
export const feedAuthorizeSchema = z
  .looseObject({ authorized_redirect_uri: str.min(1).optional(), authorizedRedirectUri: str.min(1).optional() })
  .refine((d) => d.authorized_redirect_uri !== undefined || d.authorizedRedirectUri !== undefined, {
    message: "authorized_redirect_uri is missing",
    path: ["authorized_redirect_uri"],
  });

/**
 * A GTT write's whole body (read bare: Upstox may answer `partial_success`, which the
 * transport's success-envelope check would refuse). `gtt_order_ids` is an array even for one.
 */
export const gttWriteSchema = z.looseObject({
  status: z.enum(["success", "partial_success"]),
  data: z.looseObject({ gtt_order_ids: z.array(str) }),
  errors: z
    .array(z.looseObject({ message: str.optional() }))
    .nullable()
    .optional(),
});

export const gttRuleSchema = z.looseObject({
  strategy: str,
  status: str,
  trigger_type: str,
  trigger_price: num,
  transaction_type: str,
  message: strOrNull,
  order_id: strOrNull,
  trailing_gap: numOrNull.optional(),
});

/** The details object; a gtt_order update is the same plus `update_type`. */
export const gttDetailsSchema = z.looseObject({
  type: str,
  exchange: str,
  quantity: num,
  product: str,
  rules: z.array(gttRuleSchema),
  trading_symbol: str.optional(),
  instrument_token: str,
  gtt_order_id: str,
  expires_at: numOrNull.optional(),
  created_at: numOrNull.optional(),
});

const zeroIfAbsent = num.optional().default(0);
export const marginSchema = z.looseObject({
  margins: z.array(
    z.looseObject({
      span_margin: zeroIfAbsent,
      exposure_margin: zeroIfAbsent,
      equity_margin: zeroIfAbsent,
      net_buy_premium: zeroIfAbsent,
      additional_margin: zeroIfAbsent,
      total_margin: num,
      tender_margin: zeroIfAbsent,
    }),
  ),
  required_margin: num,
  final_margin: num,
});

const otherCharges = z.record(z.string(), z.number().nullable());
/** `other_charges` is documented; the SDKs read only the deprecated `otherTaxes` copy. Either will do. */
export const brokerageSchema = z.looseObject({
  charges: z
    .looseObject({
      total: num,
      brokerage: num,
      taxes: z.looseObject({ gst: zeroIfAbsent, stt: zeroIfAbsent, stamp_duty: zeroIfAbsent }),
      other_charges: otherCharges.optional(),
      otherTaxes: otherCharges.optional(),
    })
    .refine((c) => c.other_charges !== undefined || c.otherTaxes !== undefined, {
      message: "other_charges is missing",
      path: ["other_charges"],
    }),
});
