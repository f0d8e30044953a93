import { gunzipSync } from "node:zlib";
import type { z } from "zod";
import type { Logger } from "../log/logger.js";
import type { InstrumentInfo, Quote } from "../market/types.js";
import { OrderOutcomeUnknownError, UpstoxNetworkError, UpstoxRequestError, UpstoxResponseError, UpstoxUnavailableError } from "./errors.js";
import type { Priority, RateLimiter } from "../redis/rate-limit.js";
import { CallCutOffError } from "../lifecycle/abort.js";
import type { LimitCategory } from "./limits.js";
import * as S from "./schemas.js";
import type { UpstoxSession } from "./token-store.js";
import { path, seg, UpstoxTransport, type Host, type TransportOptions } from "./transport.js";
import type {
  Brokerage,
  Candle,
  CandleUnit,
  Funds,
  FundsSegment,
  Gtt,
  GttModifyRequest,
  GttPlaceRequest,
  GttRuleRequest,
  Holding,
  Holiday,
  LtpQuote,
  MarginItem,
  MarginResult,
  MarketStatus,
  MarketTiming,
  ModifyOrderRequest,
  OhlcBar,
  OhlcQuote,
  Order,
  PlaceOrderRequest,
  Position,
  Profile,
  TokenGrant,
  Trade,
} from "./types.js";

/** What the Portfolio Stream Feed can carry; Upstox sends only orders unless asked for more. */
export type PortfolioUpdateType = "order" | "position" | "holding" | "gtt_order";

/** Upstox takes at most this many instrument keys in one quote, LTP or OHLC call. */
export const MAX_KEYS_PER_QUOTE_CALL = 500;

/** Upstox's margin calculator takes at most this many instruments in one call (REFERENCE §5.5.5). */
export const MAX_MARGIN_ITEMS = 20;

export interface UpstoxClientOptions {
  apiBase: string;
  hftBase: string;
  /** Host of the instruments master files (assets.upstox.com). */
  assetsBase: string;
  apiKey?: string | undefined;
  apiSecret?: string | undefined;
  redirectUri?: string | undefined;
  limiter?: RateLimiter<LimitCategory> | undefined;
  log: Logger;
  /**
   * The exchange-registered algo name. When set, every order write (place, modify, cancel and
   * the GTT writes) carries it as `X-Algo-Name` (REFERENCE §0, §1.4).
   */
  algoName?: string | undefined;
  /** Waits before each lookup by tag after an unclear order placement (Upstox may still be processing it). */
  reconcileDelaysMs?: readonly number[];
  /** Forwarded to the transport: timeouts, retries, hooks. */
  transport?: Partial<Omit<TransportOptions, "apiBase" | "hftBase" | "assetsBase" | "limiter" | "log">>;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Parses a whole payload, failing with the path of the first field that is off. */
function parse<S extends z.ZodType>(schema: S, data: unknown, what: string): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UpstoxResponseError(`Upstox ${what} had an unexpected shape at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`, 200, undefined);
  }
  return r.data;
}

/** Maps keyed by "NSE_EQ:SYMBOL" are re-keyed by instrument_token; a malformed entry is skipped, not fatal. */
function byInstrumentToken<S extends z.ZodType<{ instrument_token: string }>, T>(
  data: unknown,
  schema: S,
  map: (v: z.output<S>, responseKey: string) => T,
  log: Logger,
  what: string,
): Map<string, T> {
  const out = new Map<string, T>();
  if (!data || typeof data !== "object") throw new UpstoxResponseError(`Upstox ${what} data is not an object`, 200, undefined);
  for (const [responseKey, value] of Object.entries(data as Record<string, unknown>)) {
    const r = schema.safeParse(value);
    if (!r.success) {
      log.warn({ responseKey, issue: r.error.issues[0]?.message }, `skipping malformed ${what} entry`);
      continue;
    }
    out.set(r.data.instrument_token, map(r.data, responseKey));
  }
  return out;
}

/** A full-quote response's data map, re-keyed by instrument key (exported for the benchmark). */
export function parseFullQuotes(data: unknown, log: Logger): Map<string, Quote> {
  return byInstrumentToken(
    data,
    S.fullQuoteSchema,
    (q, responseKey): Quote => ({
      instrumentKey: q.instrument_token,
      symbol: q.symbol ?? responseKey.split(":").slice(1).join(":"),
      lastPrice: q.last_price,
      open: q.ohlc.open,
      high: q.ohlc.high,
      low: q.ohlc.low,
      // ohlc.close is the latest close; the previous session's close is last price less today's change.
      prevClose: q.net_change !== undefined ? Number((q.last_price - q.net_change).toFixed(4)) : q.ohlc.close,
      volume: q.volume,
      lastTradeAt: q.last_trade_time !== undefined ? Number(q.last_trade_time) : Date.parse(q.timestamp ?? "") || 0,
    }),
    log,
    "quote",
  );
}

const candleTs = (iso: string) => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new UpstoxResponseError(`candle timestamp "${iso}" is not a date`, 200, undefined);
  return t;
};

/** Upstox sends candles newest-first (and sometimes not): always return them oldest-first. */
function toCandles(data: unknown): Candle[] {
  const { candles } = parse(S.candlesSchema, data, "candles");
  return candles
    .map(([ts, open, high, low, close, volume, oi]) => ({ ts: candleTs(ts), open, high, low, close, volume, oi: oi ?? 0 }))
    .sort((a, b) => a.ts - b.ts);
}

const toOrder = (o: z.output<typeof S.orderSchema>): Order => ({
  orderId: o.order_id,
  instrumentKey: o.instrument_token,
  symbol: o.trading_symbol ?? o.tradingsymbol ?? o.instrument_token,
  exchange: o.exchange,
  product: o.product,
  orderType: o.order_type,
  transactionType: o.transaction_type,
  quantity: o.quantity,
  price: o.price,
  triggerPrice: o.trigger_price,
  averagePrice: o.average_price ?? null,
  filledQuantity: o.filled_quantity,
  pendingQuantity: o.pending_quantity,
  status: o.status,
  statusMessage: o.status_message ?? null,
  tag: o.tag ?? null,
  placedAt: o.order_timestamp ?? null,
});

const toFundsSegment = (s: z.output<typeof S.fundsSchema>["equity"]): FundsSegment | undefined =>
  s ? { availableMargin: s.available_margin, usedMargin: s.used_margin, payinAmount: s.payin_amount ?? 0 } : undefined;

const toBar = (
  b: { open: number; high: number; low: number; close: number; volume?: number | undefined; ts?: number | undefined } | null | undefined,
): OhlcBar | undefined => (b ? { open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume ?? 0, ts: b.ts ?? 0 } : undefined);

const toPaise = (x: number) => Math.round(x * 100) / 100;

/** Upstox's GTT timestamps are epoch microseconds. */
const microsToMs = (us: number | null | undefined): number | null => (us === null || us === undefined ? null : Math.floor(us / 1000));

const gttRulesBody = (rules: readonly GttRuleRequest[]) =>
  rules.map((r) => ({ strategy: r.strategy, trigger_type: r.triggerType, trigger_price: r.triggerPrice }));

const toGtt = (g: z.output<typeof S.gttDetailsSchema>): Gtt => ({
  gttOrderId: g.gtt_order_id,
  type: g.type,
  segment: g.exchange,
  quantity: g.quantity,
  product: g.product,
  instrumentKey: g.instrument_token,
  symbol: g.trading_symbol ?? g.instrument_token,
  rules: g.rules.map((r) => ({
    strategy: r.strategy,
    status: r.status,
    triggerType: r.trigger_type,
    triggerPrice: r.trigger_price,
    transactionType: r.transaction_type,
    // Upstox sends "" or null when there is nothing to say.
    message: r.message || null,
    orderId: r.order_id ?? null,
    trailingGap: r.trailing_gap ?? null,
  })),
  expiresAt: microsToMs(g.expires_at),
  createdAt: microsToMs(g.created_at),
});

/**
 * A gtt_order update (Portfolio Stream Feed message or webhook body: the details object plus
 * `update_type`) as a Gtt. Throws UpstoxResponseError when its shape is off.
 */
export function parseGttUpdate(payload: unknown): Gtt {
  return toGtt(parse(S.gttDetailsSchema, payload, "GTT update"));
}

const feedUri = (d: z.output<typeof S.feedAuthorizeSchema>): string => (d.authorized_redirect_uri ?? d.authorizedRedirectUri)!;

/**
 * Every Upstox endpoint the bot uses. Reads and GTT writes go to the main host, order writes
 * to the HFT host; responses are validated into our own types.
 */
export class UpstoxClient {
  readonly transport: UpstoxTransport;

  constructor(private readonly opts: UpstoxClientOptions) {
    this.transport = new UpstoxTransport({
      apiBase: opts.apiBase,
      hftBase: opts.hftBase,
      assetsBase: opts.assetsBase,
      limiter: opts.limiter,
      log: opts.log,
      ...opts.transport,
    });
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  destroy(): Promise<void> {
    return this.transport.destroy();
  }

  private get<T>(session: UpstoxSession, p: string, priority: Priority = "live"): Promise<T> {
    return this.transport.call<T>({ path: p, session, category: "standard", priority });
  }

  // --- Auth ---------------------------------------------------------------

  /** The link a trader opens to log in to Upstox; `state` comes back to our callback. */
  loginUrl(state: string): string {
    const { apiKey, redirectUri } = this.requireApp();
    return `${this.opts.apiBase}${path("/v2/login/authorization/dialog", { response_type: "code", client_id: apiKey, redirect_uri: redirectUri, state })}`;
  }

  /** Trades the one-time code from the callback for an access token. The code is single-use. */
  async exchangeCode(code: string): Promise<TokenGrant> {
    const { apiKey, apiSecret, redirectUri } = this.requireApp();
    const data = await this.transport.call<unknown>({
      method: "POST",
      path: "/v2/login/authorization/token",
      form: { code, client_id: apiKey, client_secret: apiSecret, redirect_uri: redirectUri, grant_type: "authorization_code" },
      bare: true,
      // The code is consumed even by a failed exchange: never send it twice.
      idempotent: false,
    });
    const t = parse(S.tokenResponseSchema, data, "token response");
    return { accessToken: t.access_token, upstoxUserId: t.user_id, userName: t.user_name, email: t.email };
  }

  private requireApp() {
    const { apiKey, apiSecret, redirectUri } = this.opts;
    if (!apiKey || !apiSecret || !redirectUri) throw new Error("Upstox app is not configured: set UPSTOX_API_KEY, UPSTOX_API_SECRET and UPSTOX_REDIRECT_URI");
    return { apiKey, apiSecret, redirectUri };
  }

  // --- Market quotes -------------------------------------------------------

  /** Runs one call per 500 distinct keys and merges the results. */
  private async batched<T>(keys: readonly string[], call: (batch: string[]) => Promise<Map<string, T>>): Promise<Map<string, T>> {
    const distinct = [...new Set(keys)];
    const maps = await Promise.all(chunk(distinct, MAX_KEYS_PER_QUOTE_CALL).map(call));
    const out = new Map<string, T>();
    for (const m of maps) for (const [k, v] of m) out.set(k, v);
    return out;
  }

  /** Full market quotes (v2; there is no v3 full quote), keyed by instrument key. */
  getFullQuotes(session: UpstoxSession, keys: readonly string[]): Promise<Map<string, Quote>> {
    return this.batched(keys, async (batch) => {
      const data = await this.get<unknown>(session, path("/v2/market-quote/quotes", { instrument_key: batch.join(",") }));
      return parseFullQuotes(data, this.opts.log);
    });
  }

  getLtp(session: UpstoxSession, keys: readonly string[]): Promise<Map<string, LtpQuote>> {
    return this.batched(keys, async (batch) => {
      const data = await this.get<unknown>(session, path("/v3/market-quote/ltp", { instrument_key: batch.join(",") }));
      return byInstrumentToken(
        data,
        S.ltpSchema,
        (q): LtpQuote => ({ instrumentKey: q.instrument_token, lastPrice: q.last_price, prevClose: q.cp, volume: q.volume }),
        this.opts.log,
        "LTP",
      );
    });
  }

  getOhlc(session: UpstoxSession, keys: readonly string[], interval: "1d" | "I1" | "I30"): Promise<Map<string, OhlcQuote>> {
    return this.batched(keys, async (batch) => {
      const data = await this.get<unknown>(session, path("/v3/market-quote/ohlc", { instrument_key: batch.join(","), interval }));
      return byInstrumentToken(
        data,
        S.ohlcSchema,
        (q): OhlcQuote => ({ instrumentKey: q.instrument_token, lastPrice: q.last_price, prev: toBar(q.prev_ohlc), live: toBar(q.live_ohlc) }),
        this.opts.log,
        "OHLC",
      );
    });
  }

  // --- Candles -------------------------------------------------------------

  /**
   * Historical candles (v3), oldest first. Dates are IST `YYYY-MM-DD`; `to` is inclusive.
   * History is background work by default: it only uses the budget live quotes leave.
   */
  async getHistoricalCandles(
    session: UpstoxSession,
    instrumentKey: string,
    unit: CandleUnit,
    interval: number,
    toDate: string,
    fromDate?: string,
    priority: Priority = "background",
  ): Promise<Candle[]> {
    const p = `/v3/historical-candle/${seg(instrumentKey)}/${unit}/${interval}/${toDate}${fromDate ? `/${fromDate}` : ""}`;
    return toCandles(await this.get<unknown>(session, p, priority));
  }

  /** Today's candles so far (v3), oldest first; background work by default, like history. */
  async getIntradayCandles(
    session: UpstoxSession,
    instrumentKey: string,
    unit: Exclude<CandleUnit, "weeks" | "months">,
    interval: number,
    priority: Priority = "background",
  ): Promise<Candle[]> {
    return toCandles(await this.get<unknown>(session, `/v3/historical-candle/intraday/${seg(instrumentKey)}/${unit}/${interval}`, priority));
  }

  // --- Portfolio and account ----------------------------------------------

  async getHoldings(session: UpstoxSession): Promise<Holding[]> {
    const rows = parse(S.holdingSchema.array(), await this.get<unknown>(session, "/v2/portfolio/long-term-holdings"), "holdings");
    return rows.map((h) => ({
      instrumentKey: h.instrument_token,
      symbol: h.trading_symbol ?? h.tradingsymbol ?? h.instrument_token,
      name: h.company_name,
      quantity: h.quantity + h.t1_quantity,
      averagePrice: h.average_price,
      lastPrice: h.last_price,
      closePrice: h.close_price,
      pnl: h.pnl,
      dayChange: h.day_change,
      dayChangePct: h.day_change_percentage,
    }));
  }

  async getPositions(session: UpstoxSession): Promise<Position[]> {
    const rows = parse(S.positionSchema.array(), await this.get<unknown>(session, "/v2/portfolio/short-term-positions"), "positions");
    return rows.map((p) => ({
      instrumentKey: p.instrument_token,
      symbol: p.trading_symbol ?? p.tradingsymbol ?? p.instrument_token,
      exchange: p.exchange,
      product: p.product,
      quantity: p.quantity,
      averagePrice: p.average_price ?? null,
      lastPrice: p.last_price,
      pnl: p.pnl,
      realised: p.realised,
      unrealised: p.unrealised,
    }));
  }

  /** Funds and margin (v2). Since July 2025 equity and commodity funds are both reported under equity. */
  async getFunds(session: UpstoxSession): Promise<Funds> {
    const f = parse(S.fundsSchema, await this.get<unknown>(session, "/v2/user/get-funds-and-margin"), "funds");
    return { equity: toFundsSegment(f.equity), commodity: toFundsSegment(f.commodity) };
  }

  async getProfile(session: UpstoxSession): Promise<Profile> {
    const p = parse(S.profileSchema, await this.get<unknown>(session, "/v2/user/profile"), "profile");
    return { userId: p.user_id, name: p.user_name, email: p.email, exchanges: p.exchanges ?? [], isActive: p.is_active ?? true };
  }

  // --- Orders --------------------------------------------------------------

  /** `X-Algo-Name` for order writes, when an algo name is configured. */
  private algoHeaders(): Record<string, string> {
    return this.opts.algoName ? { "x-algo-name": this.opts.algoName } : {};
  }

  private orderWrite<T>(session: UpstoxSession, method: "POST" | "PUT" | "DELETE", p: string, json?: unknown): Promise<T> {
    const host: Host = "hft";
    return this.transport.call<T>({ host, method, path: p, session, category: "order", json, idempotent: false, headers: this.algoHeaders() });
  }

  /**
   * Places an order (v3, HFT host). Never retried: when the outcome is unclear (timeout,
   * 5xx, garbled answer) the order is looked up by its tag instead, and if it cannot be
   * found the caller gets OrderOutcomeUnknownError rather than a second order.
   */
  async placeOrder(session: UpstoxSession, req: PlaceOrderRequest): Promise<{ orderIds: string[]; reconciled: boolean }> {
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(req.tag)) throw new UpstoxRequestError("order tag must be 1-40 letters, digits, '-' or '_'", undefined, undefined);
    const body = {
      quantity: req.quantity,
      product: req.product,
      validity: req.validity ?? "DAY",
      price: req.orderType === "MARKET" || req.orderType === "SL-M" ? 0 : (req.price ?? 0),
      tag: req.tag,
      instrument_token: req.instrumentKey,
      order_type: req.orderType,
      transaction_type: req.transactionType,
      disclosed_quantity: 0,
      trigger_price: req.triggerPrice ?? 0,
      is_amo: req.isAmo ?? false,
      slice: req.slice ?? false,
      ...(req.marketProtection !== undefined ? { market_protection: req.marketProtection } : {}),
    };
    try {
      const data = await this.orderWrite<unknown>(session, "POST", "/v3/order/place", body);
      return { orderIds: parse(S.placeOrderV3Schema, data, "order placement").order_ids, reconciled: false };
    } catch (err) {
      // Cut off by the shutdown while on the wire: Upstox may have the order. The look-ups would
      // be cut off too; the tag lets the order book tell after the restart.
      if (err instanceof CallCutOffError) throw new OrderOutcomeUnknownError("the bot stopped while the order was being placed", req.tag, err);
      const unclear = err instanceof UpstoxNetworkError || err instanceof UpstoxUnavailableError || err instanceof UpstoxResponseError;
      if (!unclear) throw err;
      this.opts.log.warn({ tag: req.tag, err: (err as Error).message }, "order placement outcome unclear: reconciling by tag");
      let found: Order[] = [];
      for (const delay of this.opts.reconcileDelaysMs ?? [0, 500, 1500]) {
        if (delay) await new Promise((r) => setTimeout(r, delay));
        try {
          found = await this.getOrdersByTag(session, req.tag);
        } catch (lookupErr) {
          throw new OrderOutcomeUnknownError(`order placement unclear and lookup by tag failed: ${(lookupErr as Error).message}`, req.tag, err);
        }
        if (found.length) return { orderIds: [...new Set(found.map((o) => o.orderId))], reconciled: true };
      }
      throw new OrderOutcomeUnknownError("order placement unclear and no order with its tag was found", req.tag, err);
    }
  }

  async modifyOrder(session: UpstoxSession, req: ModifyOrderRequest): Promise<string> {
    const data = await this.orderWrite<unknown>(session, "PUT", "/v3/order/modify", {
      order_id: req.orderId,
      order_type: req.orderType,
      validity: req.validity ?? "DAY",
      price: req.price,
      trigger_price: req.triggerPrice ?? 0,
      ...(req.quantity !== undefined ? { quantity: req.quantity } : {}),
    });
    return parse(S.orderIdSchema, data, "order modification").order_id;
  }

  async cancelOrder(session: UpstoxSession, orderId: string): Promise<string> {
    const data = await this.orderWrite<unknown>(session, "DELETE", path("/v3/order/cancel", { order_id: orderId }));
    return parse(S.orderIdSchema, data, "order cancellation").order_id;
  }

  async getOrderDetails(session: UpstoxSession, orderId: string): Promise<Order> {
    return toOrder(parse(S.orderSchema, await this.get<unknown>(session, path("/v2/order/details", { order_id: orderId })), "order details"));
  }

  /** Today's orders. The docs show both a wrapped and a bare array: both are accepted. */
  async getOrderBook(session: UpstoxSession): Promise<Order[]> {
    return parse(S.orderSchema.array(), await this.get<unknown>(session, "/v2/order/retrieve-all"), "order book").map(toOrder);
  }

  /** Every state an order went through, oldest first. */
  async getOrderHistory(session: UpstoxSession, q: { orderId?: string; tag?: string }): Promise<Order[]> {
    const data = await this.get<unknown>(session, path("/v2/order/history", { order_id: q.orderId, tag: q.tag }));
    return parse(S.orderSchema.array(), data, "order history").map(toOrder);
  }

  /** Latest state of each order carrying `tag` (empty when Upstox has none). */
  async getOrdersByTag(session: UpstoxSession, tag: string): Promise<Order[]> {
    let history: Order[];
    try {
      history = await this.getOrderHistory(session, { tag });
    } catch (err) {
      if (err instanceof UpstoxRequestError && (err.status === 404 || err.code === "UDAPI100010")) return [];
      throw err;
    }
    const latest = new Map<string, Order>();
    for (const o of history) latest.set(o.orderId, o);
    return [...latest.values()];
  }

  async getTrades(session: UpstoxSession, orderId?: string): Promise<Trade[]> {
    const p = orderId ? path("/v2/order/trades", { order_id: orderId }) : "/v2/order/trades/get-trades-for-day";
    return parse(S.tradeSchema.array(), await this.get<unknown>(session, p), "trades").map((t) => ({
      tradeId: t.trade_id,
      orderId: t.order_id,
      instrumentKey: t.instrument_token,
      symbol: t.trading_symbol ?? t.tradingsymbol ?? t.instrument_token,
      transactionType: t.transaction_type,
      quantity: t.quantity,
      averagePrice: t.average_price,
      tradedAt: t.exchange_timestamp ?? t.order_timestamp ?? null,
    }));
  }

  // --- GTT orders (main host, never HFT; REFERENCE §5.5) ---------------------

  /**
   * A GTT write. Counted in the order budget and never retried (a second place would be a
   * second GTT). Read bare because Upstox may answer `partial_success`.
   */
  private async gttWrite(session: UpstoxSession, method: "POST" | "PUT" | "DELETE", p: string, json: unknown, what: string): Promise<string[]> {
    const body = await this.transport.call<unknown>({
      method,
      path: p,
      session,
      category: "order",
      json,
      idempotent: false,
      bare: true,
      headers: this.algoHeaders(),
    });
    const r = parse(S.gttWriteSchema, body, what);
    if (r.status === "partial_success")
      this.opts.log.warn({ gttOrderIds: r.data.gtt_order_ids, errors: r.errors?.map((e) => e.message) }, `${what}: Upstox reported partial success`);
    return r.data.gtt_order_ids;
  }

  /** Places a GTT; returns its id(s). Not retried: after an unclear failure look it up with getGtts. */
  placeGtt(session: UpstoxSession, req: GttPlaceRequest): Promise<string[]> {
    return this.gttWrite(
      session,
      "POST",
      "/v3/order/gtt/place",
      {
        type: req.type,
        quantity: req.quantity,
        product: req.product,
        rules: gttRulesBody(req.rules),
        instrument_token: req.instrumentKey,
        transaction_type: req.transactionType,
      },
      "GTT placement",
    );
  }

  /** Replaces a GTT's type, quantity and rules (product, instrument and side cannot change). */
  modifyGtt(session: UpstoxSession, req: GttModifyRequest): Promise<string[]> {
    return this.gttWrite(
      session,
      "PUT",
      "/v3/order/gtt/modify",
      { type: req.type, quantity: req.quantity, rules: gttRulesBody(req.rules), gtt_order_id: req.gttOrderId },
      "GTT modification",
    );
  }

  /** Cancels a GTT's legs still waiting. The id goes in a JSON body, unlike an order cancel's query. */
  cancelGtt(session: UpstoxSession, gttOrderId: string): Promise<string[]> {
    return this.gttWrite(session, "DELETE", "/v3/order/gtt/cancel", { gtt_order_id: gttOrderId }, "GTT cancellation");
  }

  /** One GTT, or all of them when no id is given. Upstox leaves completed GTTs out. */
  async getGtts(session: UpstoxSession, gttOrderId?: string): Promise<Gtt[]> {
    const data = await this.get<unknown>(session, path("/v3/order/gtt", { gtt_order_id: gttOrderId }));
    return parse(S.gttDetailsSchema.array(), data, "GTT details").map(toGtt);
  }

  // --- Pre-trade checks ------------------------------------------------------

  /**
   * Margin Upstox requires for up to 20 orders taken together (`finalMargin` includes the
   * basket's benefit, so it is not split into calls). More than 20 is refused before any call.
   */
  async getMargin(session: UpstoxSession, items: readonly MarginItem[]): Promise<MarginResult> {
    if (items.length === 0 || items.length > MAX_MARGIN_ITEMS)
      throw new UpstoxRequestError(`the margin calculator takes 1 to ${MAX_MARGIN_ITEMS} instruments at once, not ${items.length}`, undefined, undefined);
    const instruments = items.map((i) => ({
      instrument_key: i.instrumentKey,
      quantity: i.quantity,
      transaction_type: i.transactionType,
      product: i.product,
      ...(i.price !== undefined ? { price: i.price } : {}),
    }));
    // A calculation changes nothing, so it may be retried like a read.
    const data = await this.transport.call<unknown>({
      method: "POST",
      path: "/v2/charges/margin",
      session,
      category: "standard",
      priority: "live",
      json: { instruments },
      idempotent: true,
    });
    const m = parse(S.marginSchema, data, "margin");
    return {
      requiredMargin: m.required_margin,
      finalMargin: m.final_margin,
      margins: m.margins.map((x) => ({
        totalMargin: x.total_margin,
        equityMargin: x.equity_margin,
        spanMargin: x.span_margin,
        exposureMargin: x.exposure_margin,
      })),
    };
  }

  /** Charges of one side of one order (a round trip is a BUY and a SELL call). */
  async getBrokerage(
    session: UpstoxSession,
    q: { instrumentKey: string; quantity: number; product: string; transactionType: "BUY" | "SELL"; price: number },
  ): Promise<Brokerage> {
    const p = path("/v2/charges/brokerage", {
      instrument_token: q.instrumentKey,
      quantity: q.quantity,
      product: q.product,
      transaction_type: q.transactionType,
      price: q.price,
    });
    const { charges: c } = parse(S.brokerageSchema, await this.get<unknown>(session, p), "brokerage");
    const other = Object.values(c.other_charges ?? c.otherTaxes ?? {}).reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return { total: c.total, brokerage: c.brokerage, gst: c.taxes.gst, stt: c.taxes.stt, stampDuty: c.taxes.stamp_duty, otherCharges: toPaise(other) };
  }

  // --- Market information -------------------------------------------------

  /** This year's exchange holidays. A session is optional: the endpoint is public. */
  async getHolidays(session?: UpstoxSession): Promise<Holiday[]> {
    const data = await this.transport.call<unknown>({ path: "/v2/market/holidays", ...(session ? { session, category: "standard" as const } : {}) });
    return parse(S.holidaySchema.array(), data, "holidays").map((h) => ({
      date: h.date,
      description: h.description,
      closedExchanges: h.closed_exchanges,
      openExchanges: h.open_exchanges.map((e) => ({ exchange: e.exchange, start: e.start_time, end: e.end_time })),
    }));
  }

  /** Exchange sessions on an IST date; empty on a closed day. */
  async getTimings(date: string, session?: UpstoxSession): Promise<MarketTiming[]> {
    const data = await this.transport.call<unknown>({
      path: `/v2/market/timings/${seg(date)}`,
      ...(session ? { session, category: "standard" as const } : {}),
    });
    return parse(S.timingSchema.array(), data, "market timings").map((t) => ({ exchange: t.exchange, start: t.start_time, end: t.end_time }));
  }

  async getMarketStatus(session: UpstoxSession, exchange: string): Promise<MarketStatus> {
    const s = parse(S.marketStatusSchema, await this.get<unknown>(session, `/v2/market/status/${seg(exchange)}`), "market status");
    return { exchange: s.exchange, status: s.status, lastUpdated: s.last_updated };
  }

  // --- WebSocket feed authorization ---------------------------------------

  /**
   * A one-time `wss://` URL for the Market Data Feed V3. Its `code` is single-use: authorize
   * again before every connect, and never log the URL's query.
   */
  async authorizeMarketFeed(session: UpstoxSession): Promise<string> {
    return feedUri(parse(S.feedAuthorizeSchema, await this.get<unknown>(session, "/v3/feed/market-data-feed/authorize", "live"), "market feed authorization"));
  }

  /** A one-time `wss://` URL for one user's Portfolio Stream Feed carrying `updateTypes` (v2: there is no v3). */
  async authorizePortfolioFeed(session: UpstoxSession, updateTypes: readonly PortfolioUpdateType[]): Promise<string> {
    const p = path("/v2/feed/portfolio-stream-feed/authorize", { update_types: updateTypes.join(",") });
    return feedUri(parse(S.feedAuthorizeSchema, await this.get<unknown>(session, p, "live"), "portfolio feed authorization"));
  }

  // --- Instruments master ---------------------------------------------------

  /**
   * Downloads an instruments master file (`NSE`, `BSE`, `MCX` or `complete`) and returns
   * its valid records. Refreshed by Upstox around 06:00 IST.
   */
  async downloadInstruments(file: "NSE" | "BSE" | "MCX" | "complete"): Promise<InstrumentInfo[]> {
    const gz = await this.transport.call<Buffer>({ host: "assets", path: `/market-quote/instruments/exchange/${file}.json.gz`, raw: true });
    let records: unknown;
    try {
      records = JSON.parse(gunzipSync(gz).toString("utf8"));
    } catch (err) {
      throw new UpstoxResponseError(`instruments file ${file}.json.gz could not be decoded: ${(err as Error).message}`, 200, undefined);
    }
    if (!Array.isArray(records)) throw new UpstoxResponseError(`instruments file ${file}.json.gz is not a JSON array`, 200, undefined);
    const out: InstrumentInfo[] = [];
    for (const rec of records) {
      const r = S.instrumentRecordSchema.safeParse(rec);
      if (!r.success) continue;
      const i = r.data;
      out.push({
        instrumentKey: i.instrument_key,
        tradingSymbol: i.trading_symbol,
        name: i.name ?? i.short_name ?? i.trading_symbol,
        exchange: i.exchange,
        segment: i.segment,
        instrumentType: i.instrument_type ?? "",
        isin: i.isin ?? null,
        lotSize: i.lot_size ?? 1,
        // The JSON master gives tick size in paise (5.0 for ₹0.05).
        tickSize: i.tick_size !== undefined ? i.tick_size / 100 : 0.05,
        ...(i.expiry !== undefined ? { expiry: i.expiry } : {}),
      });
    }
    return out;
  }
}
