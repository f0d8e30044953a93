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
