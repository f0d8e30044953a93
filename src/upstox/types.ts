/** Upstox data as the bot uses it: camelCase, one name per field, units in rupees. */

export interface LtpQuote {
  instrumentKey: string;
  lastPrice: number;
  /** Previous day's close (v3 `cp`), when sent. */
  prevClose: number | undefined;
  volume: number | undefined;
}

export interface OhlcBar {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** Candle start, epoch ms. */
  ts: number;
}

export interface OhlcQuote {
  instrumentKey: string;
  lastPrice: number;
  prev: OhlcBar | undefined;
  live: OhlcBar | undefined;
}

export interface Candle {
  /** Candle start, epoch ms. */
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  oi: number;
}

export type CandleUnit = "minutes" | "hours" | "days" | "weeks" | "months";

export interface Holding {
  instrumentKey: string;
  symbol: string;
  name: string | undefined;
  quantity: number;
  averagePrice: number;
  lastPrice: number;
  closePrice: number;
  pnl: number;
  dayChange: number;
  dayChangePct: number;
}

export interface Position {
  instrumentKey: string;
  symbol: string;
  exchange: string | undefined;
  product: string;
  quantity: number;
  averagePrice: number | null;
  lastPrice: number;
  pnl: number;
  realised: number;
  unrealised: number;
}

export interface FundsSegment {
  availableMargin: number;
  usedMargin: number;
  payinAmount: number;
}

export interface Funds {
  equity: FundsSegment | undefined;
  commodity: FundsSegment | undefined;
}

export interface Profile {
  userId: string;
  name: string | undefined;
  email: string | undefined;
  exchanges: string[];
  isActive: boolean;
}

export type TransactionType = "BUY" | "SELL";
export type OrderType = "MARKET" | "LIMIT" | "SL" | "SL-M";
export type Product = "I" | "D" | "MTF";

export interface PlaceOrderRequest {
  instrumentKey: string;
  quantity: number;
  transactionType: TransactionType;
  orderType: OrderType;
  product: Product;
  validity?: "DAY" | "IOC";
  price?: number;
  triggerPrice?: number;
  /** Our label for reconciliation; required so an unclear placement can be looked up. */
  tag: string;
  isAmo?: boolean;
  slice?: boolean;
  marketProtection?: number;
}

export interface ModifyOrderRequest {
  orderId: string;
  orderType: OrderType;
  validity?: "DAY" | "IOC";
  price: number;
  triggerPrice?: number;
  quantity?: number;
}

export const TERMINAL_ORDER_STATUSES = new Set(["complete", "rejected", "cancelled", "cancelled after market order"]);

export interface Order {
  orderId: string;
  instrumentKey: string;
  symbol: string;
  exchange: string | undefined;
  product: string | undefined;
  orderType: string;
  transactionType: string;
  quantity: number;
  price: number;
  triggerPrice: number;
  averagePrice: number | null;
  filledQuantity: number;
  pendingQuantity: number | undefined;
  /** Upstox's lower-case status, e.g. "open", "complete", "rejected". */
  status: string;
  statusMessage: string | null;
  tag: string | null;
  placedAt: string | null;
}

export interface Trade {
  tradeId: string;
  orderId: string;
  instrumentKey: string;
  symbol: string;
  transactionType: string;
  quantity: number;
  averagePrice: number;
  tradedAt: string | null;
}

export interface Holiday {
  date: string;
  description: string | undefined;
  closedExchanges: string[];
  /** Exchanges that do trade that day, with their hours (epoch ms): special sessions. */
  openExchanges: { exchange: string; start: number; end: number }[];
}

export interface MarketTiming {
  exchange: string;
  start: number;
  end: number;
}

export interface MarketStatus {
  exchange: string;
  status: string;
  lastUpdated: number | undefined;
}

export interface TokenGrant {
  accessToken: string;
  upstoxUserId: string | undefined;
  userName: string | undefined;
  email: string | undefined;
}

// --- GTT, margin and brokerage (REFERENCE §5.5) -----------------------------

export type GttStrategy = "ENTRY" | "TARGET" | "STOPLOSS";
export type GttTriggerType = "ABOVE" | "BELOW" | "IMMEDIATE";

export interface GttRuleRequest {
  strategy: GttStrategy;
  triggerType: GttTriggerType;
  triggerPrice: number;
}

/** SINGLE: one ENTRY rule. MULTIPLE: ENTRY plus TARGET and/or STOPLOSS (those only IMMEDIATE). */
export interface GttPlaceRequest {
  type: "SINGLE" | "MULTIPLE";
  quantity: number;
  product: "I" | "D" | "MTF";
  instrumentKey: string;
  /** Side of the ENTRY leg; TARGET and STOPLOSS are the opposite side. */
  transactionType: "BUY" | "SELL";
  rules: GttRuleRequest[];
}

export interface GttModifyRequest {
  gttOrderId: string;
  type: "SINGLE" | "MULTIPLE";
  quantity: number;
  rules: GttRuleRequest[];
}

/** One leg as Upstox reports it; statuses are Upstox's upper-case words (SCHEDULED, PENDING, TRIGGERED, COMPLETED, FAILED, CANCELLED, EXPIRED, ...). */
export interface GttRuleState {
  strategy: string;
  status: string;
  triggerType: string;
  triggerPrice: number;
  transactionType: string;
  /** Why the leg failed; null otherwise (Upstox's "" included). */
  message: string | null;
  /** The child order placed when the leg triggered. */
  orderId: string | null;
  trailingGap: number | null;
}

/** A GTT from the details endpoint or a gtt_order update. There is no top-level status: read the rules. */
export interface Gtt {
  gttOrderId: string;
  type: string;
  /** Segment, e.g. NSE_EQ (unlike an order's NSE). */
  segment: string;
  quantity: number;
  product: string;
  instrumentKey: string;
  symbol: string;
  rules: GttRuleState[];
  /** Epoch ms (Upstox sends µs). */
  expiresAt: number | null;
  /** Epoch ms (Upstox sends µs). */
  createdAt: number | null;
}

export interface MarginItem {
  instrumentKey: string;
  quantity: number;
  transactionType: "BUY" | "SELL";
  product: "I" | "D" | "MTF" | "CO";
  price?: number;
}

/** `finalMargin` is after the basket's margin benefit; `margins` are in the request's order. */
export interface MarginResult {
  requiredMargin: number;
  finalMargin: number;
  margins: { totalMargin: number; equityMargin: number; spanMargin: number; exposureMargin: number }[];
}

/** Charges of one side of one order, in rupees. */
export interface Brokerage {
  total: number;
  brokerage: number;
  gst: number;
  stt: number;
  stampDuty: number;
  /** Transaction, clearing, IPFT and SEBI turnover fees together. */
  otherCharges: number;
}
