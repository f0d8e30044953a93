import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { OhlcInput } from "../../../src/upstox/feed/proto.js";
import { EXCHANGES, MarketCalendar, type HolidayEntry } from "./calendar.js";
import { DATA_START, filterCandles, generateCandles, MAX_CANDLES, pricePath, type Candle, type CandleUnit } from "./candles.js";
import { badRequest, errorBody, FakeHttpError, INVALID_TOKEN, METHOD_NOT_ALLOWED, NOT_FOUND } from "./errors.js";
import { brokerageData, marginData } from "./charges.js";
import {
  FakeFeeds,
  gttUpdate,
  orderUpdate,
  type FeedConnectionInfo,
  type FeedCounters,
  type FeedKind,
  type FeedRequestRecord,
  type InstrumentSnapshot,
} from "./feeds.js";
import { fixture, fixtureData } from "./fixtures.js";
import { GttBook, gttOrderId, type FakeGtt, type FakeGttStrategy } from "./gtt.js";
import { InstrumentStore, roundTo, unit, type Instrument, type InstrumentRecord } from "./instruments.js";
import { OrderBook, validatePlace, type FakeOrder } from "./orders.js";
import { SlidingWindowLimiter, type LimitCategory } from "./rate-limit.js";
import { addMonths, DAY_MS, istDayStart, istParts, isoIstMillis, MINUTE_MS, parseIstDate } from "./time.js";

export interface RecordedRequest {
  host: "api" | "hft";
  method: string;
  /** Decoded pathname (no query). */
  path: string;
  /** Request target exactly as received: pathname AND query, still percent-encoded. */
  rawPath: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, a form object (x-www-form-urlencoded), the raw text if unparsable, or undefined. */
  body: unknown;
  /** HTTP status sent back (0 while the request is still being handled). */
  status: number;
  /** `now()` when the request arrived. */
  at: number;
}

export interface FakeUpstoxOptions {
  /** Extra generated NSE_EQ instruments (SYM00001…, NSE_EQ|INEGEN000001…), e.g. 5000 for benches. */
  instruments?: number;
  clientId?: string;
  clientSecret?: string;
  redirectUri?: string;
  /** Clock for token expiry, rate limits, timestamps, market status and candles. Default Date.now. */
  now?: () => number;
  /** Default true. */
  enforceRateLimits?: boolean;
  /**
   * Default true: a raw '|' anywhere in the request target is refused with 400 UDAPI10000
   * (Upstox requires NSE_EQ%7C…). Set false to accept raw pipes.
   */
  strictUrlEncoding?: boolean;
  /** Default true. Benches making very many calls may turn recording off (`requests` stays empty). */
  recordRequests?: boolean;
  /**
   * Default true: a 429 from the enforced limits carries retry-after (whole seconds, ≥1).
   * Upstox documents no such header; false answers without it, as Upstox may.
   */
  retryAfterHeader?: boolean;
  /** WebSocket ping period on every feed socket. Default 10_000. */
  pingIntervalMs?: number;
  /** Off by default: every subscribed instrument ticks along the synthetic price path this often (benches, demos). */
  autoTicks?: { everyMs: number };
  /** Default true: order status changes are pushed to the user's portfolio feed sockets. */
  pushOrderUpdates?: boolean;
  /** Segment → status sent in the market feed's first market_info frame. Default NSE_EQ, NSE_FO, BSE_EQ, NSE_INDEX: NORMAL_OPEN. */
  segmentStatus?: Record<string, string>;
}

export const DEFAULT_USER_ID = "FAKE01";
export const DEFAULT_CLIENT_ID = "fake-client-id";
export const DEFAULT_CLIENT_SECRET = "fake-client-secret";
export const DEFAULT_REDIRECT_URI = "http://127.0.0.1/upstox/callback";

/** Largest number of instrument keys per quote/LTP/OHLC call. */
export const MAX_QUOTE_KEYS = 500;

const KEY_RE = /^(NSE_EQ|NSE_FO|NSE_COM|NCD_FO|BSE_EQ|BSE_FO|BCD_FO|MCX_FO|NSE_INDEX|BSE_INDEX|MCX_INDEX)\|[\w &.-]+$/;

type Host = "api" | "hft";

interface TokenInfo {
  token: string;
  userId: string;
  expiresAt: number;
  revoked: boolean;
  kind: "access" | "extended";
}

interface Ctx {
  host: Host;
  method: string;
  path: string;
  rawPath: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
  contentType: string;
  userId: string;
  token: TokenInfo | undefined;
  started: number;
}

interface Reply {
  status?: number;
  json?: unknown;
  raw?: Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

interface Route {
  host: Host;
  method: string;
  segments: string[];
  auth: boolean;
  category?: LimitCategory;
  /** Endpoints an extended_token may call (REFERENCE §1.2). */
  extendedOk?: boolean;
  /** Order writes (place, modify, cancel, GTT): their X-Algo-Name header is recorded. */
  orderWrite?: boolean;
  handler: (ctx: Ctx) => Reply | Promise<Reply>;
}

interface Injection {
  remaining: number;
  pathPrefix: string | undefined;
}

interface FailInjection extends Injection {
  status: number;
  errorCode: string | undefined;
  message: string | undefined;
  afterHandling: boolean;
  /** Retry-After of an injected 429, in whole seconds; null: none. */
  retryAfter: number | null;
}

interface DelayInjection extends Injection {
  ms: number;
}

const ok = (data: unknown): Reply => ({ json: { status: "success", data } });

const FAIL_DEFAULTS: Record<number, [string, string]> = {
  400: ["UDAPI100036", "Invalid input"],
  423: ["UDAPI100072", "The funds service is down for maintenance (00:00-05:30 IST)"],
  429: ["UDAPI10005", "Too Many Request Sent"],
  500: ["UDAPI100500", "Something went wrong, please try again"],
  502: ["UDAPI100500", "Bad gateway"],
  503: ["UDAPI100500", "Service unavailable, under maintenance"],
};

/** v2 candle intervals → v3 unit/interval. */
const V2_INTERVALS: Record<string, [CandleUnit, number]> = {
  "1minute": ["minutes", 1],
  "30minute": ["minutes", 30],
  day: ["days", 1],
  week: ["weeks", 1],
  month: ["months", 1],
};

const V3_UNIT_MAX: Record<CandleUnit, number> = { minutes: 300, hours: 5, days: 1, weeks: 1, months: 1 };

/**
 * A fake of api.upstox.com + api-hft.upstox.com: two real node:http servers on 127.0.0.1,
 * documented shapes (shared/upstox/REFERENCE.md + fixtures), documented limits.
 */
export class FakeUpstox {
  readonly apiBase: string;
  readonly hftBase: string;
  readonly requests: RecordedRequest[] = [];
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;

  private readonly now: () => number;
  private readonly enforceRateLimits: boolean;
  private readonly strictUrlEncoding: boolean;
  private readonly recordRequests: boolean;
  private readonly retryAfterHeader: boolean;
  private readonly pushOrderUpdates: boolean;
  private readonly feeds: FakeFeeds;
  private readonly instruments: InstrumentStore;
  private readonly calendar = new MarketCalendar();
  private readonly orders: OrderBook;
  private readonly gtts: GttBook;
  private readonly orderWrites: { path: string; algoName: string | undefined }[] = [];
  private readonly limiter = new SlidingWindowLimiter();
  private readonly tokens = new Map<string, TokenInfo>();
  private readonly authCodes = new Map<string, { userId: string }>();
  private readonly fails: FailInjection[] = [];
  private readonly delays: DelayInjection[] = [];
  private readonly candleOverrides = new Map<string, Candle[]>();
  private readonly holdings = new Map<string | null, unknown[]>();
  private readonly positions = new Map<string | null, unknown[]>();
  private readonly pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly routes: Route[] = [];
  private closed = false;

  private constructor(
    private readonly apiServer: http.Server,
    private readonly hftServer: http.Server,
    opts: FakeUpstoxOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.enforceRateLimits = opts.enforceRateLimits ?? true;
    this.strictUrlEncoding = opts.strictUrlEncoding ?? true;
    this.recordRequests = opts.recordRequests ?? true;
    this.retryAfterHeader = opts.retryAfterHeader ?? true;
    this.pushOrderUpdates = opts.pushOrderUpdates ?? true;
    this.clientId = opts.clientId ?? DEFAULT_CLIENT_ID;
    this.clientSecret = opts.clientSecret ?? DEFAULT_CLIENT_SECRET;
    this.redirectUri = opts.redirectUri ?? DEFAULT_REDIRECT_URI;
    this.instruments = new InstrumentStore(Math.max(0, Math.floor(opts.instruments ?? 0)));
    this.orders = new OrderBook(this.instruments);
    this.gtts = new GttBook(this.instruments);
    this.apiBase = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
    this.hftBase = `http://127.0.0.1:${(hftServer.address() as AddressInfo).port}`;
    apiServer.on("request", (req: IncomingMessage, res: ServerResponse) => void this.onRequest("api", req, res));
    hftServer.on("request", (req: IncomingMessage, res: ServerResponse) => void this.onRequest("hft", req, res));
    this.feeds = new FakeFeeds(
      { now: () => this.now(), snapshot: (key) => this.feedSnapshot(key), moveAlongPath: (key) => this.moveAlongPath(key) },
      {
        wsBase: this.apiBase.replace(/^http:/, "ws:"),
        ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
        ...(opts.autoTicks ? { autoTicks: opts.autoTicks } : {}),
        ...(opts.segmentStatus ? { segmentStatus: opts.segmentStatus } : {}),
      },
    );
    apiServer.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.feeds.handleUpgrade(req, socket, head));
    this.registerRoutes();
  }

  static async start(opts: FakeUpstoxOptions = {}): Promise<FakeUpstox> {
    const listen = async () => {
      const s = http.createServer();
      // Longer than the client pools' idle time so the server is not the side that drops idle sockets mid-test.
      s.keepAliveTimeout = 60_000;
      s.headersTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
          s.off("error", reject);
          resolve();
        });
      });
      return s;
    };
    const [api, hft] = await Promise.all([listen(), listen()]);
    return new FakeUpstox(api, hft, opts);
  }

  // --- recorded requests ----------------------------------------------------

  /** Also forgets the recorded order-write headers. */
  clearRequests(): void {
    this.requests.length = 0;
    this.orderWrites.length = 0;
  }

  /**
   * The `X-Algo-Name` of every order write (HFT place/modify/cancel, GTT place/modify/cancel)
   * that reached its route, oldest first, recorded even when `recordRequests` is off.
   */
  orderWriteHeaders(): { path: string; algoName: string | undefined }[] {
    return this.orderWrites.map((w) => ({ ...w }));
  }

  requestsTo(pathPrefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(pathPrefix));
  }

  // --- tokens -----------------------------------------------------------------

  /** A new random access token (JWT-looking) valid until `expiresAt` (default: far future). */
  issueToken(opts: { userId?: string; expiresAt?: number } = {}): string {
    return this.newToken(opts.userId ?? DEFAULT_USER_ID, opts.expiresAt ?? Number.MAX_SAFE_INTEGER, "access");
  }

  /** Later calls with `token` get 401 UDAPI100050. */
  expireToken(token: string): void {
    const t = this.tokens.get(token);
    if (t) t.revoked = true;
  }

  /** Registers a one-time code for POST /v2/login/authorization/token. */
  addAuthCode(code: string, opts: { userId?: string } = {}): void {
    this.authCodes.set(code, { userId: opts.userId ?? DEFAULT_USER_ID });
  }

  private newToken(userId: string, expiresAt: number, kind: TokenInfo["kind"]): string {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const iat = Math.floor(this.now() / 1000);
    const token = `${b64({ typ: "JWT", alg: "HS256" })}.${b64({ sub: userId, iss: "fake-upstox", iat, kind, jti: randomBytes(6).toString("hex") })}.${randomBytes(24).toString("base64url")}`;
    this.tokens.set(token, { token, userId, expiresAt, revoked: false, kind });
    return token;
  }

  // --- market -----------------------------------------------------------------

  instrumentKeys(): string[] {
    return this.instruments.keys();
  }

  /** Adds an instrument to the master file and the quote universe (extension). */
  addInstrument(record: InstrumentRecord, price?: number): void {
    this.instruments.add(record, price);
  }

  /** Also pushes a live_feed frame to the market feed sockets subscribed to the instrument. */
  setPrice(instrumentKey: string, price: number): void {
    this.instruments.require(instrumentKey);
    this.instruments.setPrice(instrumentKey, price, this.now());
    this.feeds.pushTicks([instrumentKey]);
  }

  getPrice(instrumentKey: string): number {
    return this.instruments.price(instrumentKey).last;
  }

  setPrevClose(instrumentKey: string, price: number): void {
    this.instruments.setPrevClose(instrumentKey, price);
  }

  /** Serve these candles (any unit/interval) for `instrumentKey` instead of synthetic ones; null restores (extension). */
  setCandles(instrumentKey: string, candles: Candle[] | null): void {
    this.instruments.require(instrumentKey);
    if (candles === null) this.candleOverrides.delete(instrumentKey);
    else
      this.candleOverrides.set(
        instrumentKey,
        candles.map((c) => [...c] as Candle),
      );
  }

  /** Adds/replaces an exchange holiday (extension). Default: all exchanges closed. */
  addHoliday(date: string, opts: { description?: string; closedExchanges?: string[]; openExchanges?: HolidayEntry["open_exchanges"] } = {}): void {
    if (parseIstDate(date) === null) throw new Error(`FakeUpstox.addHoliday: bad date "${date}"`);
    this.calendar.addHoliday({
      date,
      description: opts.description ?? "Test holiday",
      holiday_type: "TRADING_HOLIDAY",
      closed_exchanges: opts.closedExchanges ?? [...EXCHANGES],
      open_exchanges: opts.openExchanges ?? [],
    });
  }

  /** Holdings / positions rows served to `userId` (all users when omitted) instead of the fixtures (extension). */
  setHoldings(rows: unknown[], userId?: string): void {
    this.holdings.set(userId ?? null, structuredClone(rows));
  }

  setPositions(rows: unknown[], userId?: string): void {
    this.positions.set(userId ?? null, structuredClone(rows));
  }

  // --- failure injection ------------------------------------------------------

  /**
   * The next `count` requests whose decoded path starts with `pathPrefix` (any path when
   * omitted) get this error (envelope with `errorCode`/`message` or a default per status; 429
   * also carries retry-after: 1). By default the request is refused before anything happens;
   * with `afterHandling: true` (extension) it is handled normally first, e.g. the order IS
   * placed, and only the answer is replaced by the error: an "outcome unclear" write.
   */
  failNext(opts: {
    status: 429 | 500 | 502 | 503 | 400 | 423;
    count?: number;
    pathPrefix?: string;
    errorCode?: string;
    message?: string;
    afterHandling?: boolean;
    retryAfter?: number | null;
  }): void {
    this.fails.push({
      retryAfter: opts.retryAfter === undefined ? 1 : opts.retryAfter,
      status: opts.status,
      remaining: opts.count ?? 1,
      pathPrefix: opts.pathPrefix,
      errorCode: opts.errorCode,
      message: opts.message,
      afterHandling: opts.afterHandling ?? false,
    });
  }

  /**
   * The next `count` matching requests are handled at once (state changes are immediate:
   * an order is placed even if the client gives up) but answered only after `ms`.
   */
  delayNext(opts: { ms: number; count?: number; pathPrefix?: string }): void {
    this.delays.push({ ms: opts.ms, remaining: opts.count ?? 1, pathPrefix: opts.pathPrefix });
  }

  private take<T extends Injection>(list: T[], path: string): T | undefined {
    const i = list.findIndex((x) => x.remaining > 0 && (x.pathPrefix === undefined || path.startsWith(x.pathPrefix)));
    if (i < 0) return undefined;
    const x = list[i]!;
    x.remaining--;
    if (x.remaining <= 0) list.splice(i, 1);
    return x;
  }

  /** Forget all rate-limit history (extension). */
  resetRateLimits(): void {
    this.limiter.reset();
  }

  // --- orders -----------------------------------------------------------------

  /** Also pushes the order update to its user's portfolio feed sockets (unless `pushOrderUpdates: false`). */
  setOrderStatus(orderId: string, status: string, opts: { filledQuantity?: number; averagePrice?: number; statusMessage?: string } = {}): void {
    this.orderChanged(this.orders.transition(orderId, status, opts, this.now()));
  }

  /** Current state of an order, any user (extension). */
  getOrder(orderId: string): FakeOrder | undefined {
    return this.orders.get(orderId);
  }

  /** Every order placed on the fake, any user (extension). */
  allOrders(): FakeOrder[] {
    return this.orders.all();
  }

  private orderChanged(order: FakeOrder): FakeOrder {
    if (this.pushOrderUpdates) this.feeds.pushPortfolioUpdate(orderUpdate(order, order.placed_by), order.placed_by);
    return order;
  }

  // --- GTT (extension controls) ------------------------------------------------

  /**
   * The price of a GTT leg (ENTRY by default; TARGET or STOPLOSS once ENTRY completed) was
   * met: the leg goes TRIGGERED, its LIMIT order at the trigger price is placed through the
   * order book (order updates flow as for any order), then the leg goes COMPLETED with that
   * order's id. With `fail` the order is rejected with that message and the leg goes FAILED,
   * the legs still waiting CANCELLED; a completed exit leg cancels the other exit. Every step
   * pushes a gtt_order update. Returns the child order.
   */
  triggerGtt(gttOrderId: string, opts: { fail?: string; strategy?: FakeGttStrategy } = {}): FakeOrder {
    const strategy = opts.strategy ?? "ENTRY";
    const { userId } = this.gtts.entry(gttOrderId);
    const triggered = this.gttChanged(this.gtts.startTrigger(gttOrderId, strategy), userId);
    const rule = triggered.rules.find((r) => r.strategy === strategy)!;
    const now = this.now();
    let child = this.orderChanged(
      this.orders.place(
        userId,
        {
          inst: this.instruments.require(triggered.instrument_token),
          quantity: triggered.quantity,
          product: triggered.product,
          validity: "DAY",
          // "A GTT order is always placed as a LIMIT order upon execution" (DOC); at the trigger price here.
          price: rule.trigger_price,
          tag: null,
          order_type: "LIMIT",
          transaction_type: rule.transaction_type,
          disclosed_quantity: 0,
          trigger_price: 0,
          is_amo: false,
        },
        now,
      ),
    );
    if (opts.fail !== undefined) child = this.orderChanged(this.orders.transition(child.order_id, "rejected", { statusMessage: opts.fail }, now));
    this.gttChanged(this.gtts.finishTrigger(gttOrderId, strategy, child.order_id, opts.fail), userId);
    return child;
  }

  /** Every leg of the GTT still waiting goes EXPIRED (as at its expires_at); pushes a gtt_order update. */
  expireGtt(gttOrderId: string): FakeGtt {
    const { userId } = this.gtts.entry(gttOrderId);
    return this.gttChanged(this.gtts.expire(gttOrderId), userId);
  }

  /** Current state of a GTT, any user, completed ones included; undefined when unknown. */
  getGtt(gttOrderId: string): FakeGtt | undefined {
    return this.allGtts().find((g) => g.gtt_order_id === gttOrderId);
  }

  /** Every GTT placed on the fake, any user, oldest first. */
  allGtts(): FakeGtt[] {
    return this.gtts.all();
  }

  /** The gtt_order update of the GTT as it is now, e.g. to post to the bot's webhook. */
  gttUpdatePayload(gttOrderId: string): Record<string, unknown> {
    return gttUpdate(this.gtts.entry(gttOrderId).gtt);
  }

  /** Pushes the GTT's update to its user's portfolio sockets that asked for gtt_order (unless `pushOrderUpdates: false`). */
  private gttChanged(gtt: FakeGtt, userId: string): FakeGtt {
    if (this.pushOrderUpdates) this.feeds.pushPortfolioUpdate(gttUpdate(gtt), userId);
    return gtt;
  }

  // --- WebSocket feeds (extension controls; see feeds.ts for the undocumented behaviour) ----

  /** Every sub/unsub/change_mode request the market feed accepted, oldest first. */
  get feedRequests(): FeedRequestRecord[] {
    return this.feeds.requests;
  }

  clearFeedRequests(): void {
    this.feeds.requests.length = 0;
  }

  /** Authorize calls and upgrades so far (both feeds). */
  feedCounters(): FeedCounters {
    return { ...this.feeds.counters };
  }

  /** A copy of each open feed socket's state. */
  feedConnections(): FeedConnectionInfo[] {
    return this.feeds.connectionsInfo();
  }

  /** Sends `update` (an object with update_type) to the user's portfolio sockets that asked for that type; all users' when omitted. Returns the sockets reached. */
  pushPortfolioUpdate(update: Record<string, unknown>, userId?: string): number {
    return this.feeds.pushPortfolioUpdate(update, userId);
  }

  /** Terminates the feed sockets (no close frame), as a lost network does. */
  dropFeeds(kind?: FeedKind): void {
    this.feeds.drop(kind);
  }

  /** The open feed sockets send nothing, pings included, for `ms` (what they would send is dropped); they stay open. */
  stallFeeds(ms: number, kind?: FeedKind): void {
    this.feeds.stall(ms, kind);
  }

  /** The next `count` feed upgrades get HTTP 503, their codes staying valid (replaces any count left; 0 stops refusing). */
  refuseFeedConnections(count: number): void {
    this.feeds.refuseConnections(count);
  }

  /** Sets a segment's status and pushes a market_info frame to every market feed socket. */
  setSegmentStatus(segment: string, status: string): void {
    this.feeds.setSegmentStatus(segment, status);
  }

  private feedSnapshot(key: string): InstrumentSnapshot | undefined {
    const i = this.instruments.get(key);
    if (!i) return undefined;
    const p = this.instruments.price(key);
    return {
      isIndex: i.isIndex,
      ltp: p.last,
      ltt: p.lastTradeTime ?? this.now(),
      ltq: p.ltq,
      cp: p.prevClose,
      volume: p.volume,
      atp: i.isIndex ? 0 : roundTo((p.open + p.high + p.low + p.last) / 4, 0.01),
      // The same bars /v3/market-quote/ohlc serves (its 1d live bar without the previous
      // session's, which costs a calendar walk), so the feed and the REST fallback agree.
      bars: () => {
        const minute = this.bars(i, "I1");
        const day = { interval: "1d", open: p.open, high: p.high, low: p.low, close: p.last, vol: p.volume, ts: istDayStart(this.now()) };
        return { day, previousMinute: ohlcInput("I1", minute.prev), currentMinute: ohlcInput("I1", minute.live) };
      },
    };
  }

  private moveAlongPath(key: string): void {
    const i = this.instruments.require(key);
    const now = this.now();
    this.instruments.setPrice(key, roundTo(pricePath(i, now), i.tick || 0.05), now);
  }

  // --- lifecycle --------------------------------------------------------------

  /** Also closes the feeds' sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feeds.close();
    for (const d of this.pendingDelays) {
      clearTimeout(d.timer);
      d.resolve();
    }
    this.pendingDelays.clear();
    await Promise.all(
      [this.apiServer, this.hftServer].map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pendingDelays.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.pendingDelays.add(entry);
    });
  }

  // --- HTTP plumbing ----------------------------------------------------------

  private async onRequest(host: Host, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const at = this.now();
    const rawUrl = req.url ?? "/";
    const qi = rawUrl.indexOf("?");
    const rawPathname = qi >= 0 ? rawUrl.slice(0, qi) : rawUrl;
    const query = new URLSearchParams(qi >= 0 ? rawUrl.slice(qi + 1) : "");
    let path: string;
    try {
      path = decodeURIComponent(rawPathname);
    } catch {
      path = rawPathname;
    }
    let buf: Buffer;
    try {
      buf = await readBody(req);
    } catch {
      return; // client went away
    }
    const contentType = String(req.headers["content-type"] ?? "").toLowerCase();
    const rec: RecordedRequest = {
      host,
      method: req.method ?? "GET",
      path,
      rawPath: rawUrl,
      query,
      headers: { ...req.headers },
      body: parseBody(buf, contentType),
      status: 0,
      at,
    };
    if (this.recordRequests) this.requests.push(rec);

    const delay = this.take(this.delays, path);
    const fail = this.take(this.fails, path);
    let reply: Reply;
    try {
      if (fail && !fail.afterHandling) throw injected(fail);
      reply = await this.dispatch(host, rec, rawPathname, contentType, started, req.headers);
      if (fail) throw injected(fail);
    } catch (err) {
      if (err instanceof FakeHttpError) reply = { status: err.status, json: err.body(), headers: err.headers };
      else reply = { status: 500, json: errorBody("UDAPI100500", `Fake Upstox internal error: ${(err as Error).message}`) };
    }
    if (delay) await this.sleep(delay.ms);
    const status = reply.status ?? 200;
    rec.status = status;
    if (res.destroyed || res.writableEnded) return;
    const payload = reply.raw ?? Buffer.from(JSON.stringify(reply.json ?? null));
    res.statusCode = status;
    res.setHeader("Content-Type", reply.contentType ?? "application/json");
    res.setHeader("Content-Length", payload.length);
    res.setHeader("requestId", `fake-${randomBytes(8).toString("hex")}`);
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    res.end(payload);
  }

  private async dispatch(
    host: Host,
    rec: RecordedRequest,
    rawPathname: string,
    contentType: string,
    started: number,
    headers: IncomingMessage["headers"],
  ): Promise<Reply> {
    if (this.strictUrlEncoding && rec.rawPath.includes("|"))
      throw badRequest("UDAPI10000", "This request is not supported by Upstox API: '|' must be URL-encoded as %7C");

    let segs: string[];
    try {
      segs = rawPathname
        .split("/")
        .slice(1)
        .map((s) => decodeURIComponent(s));
    } catch {
      throw badRequest("UDAPI10000", "This request is not supported by Upstox API: malformed URL encoding");
    }
    let pathMatched = false;
    let route: Route | undefined;
    let params: Record<string, string> = {};
    for (const r of this.routes) {
      if (r.host !== host) continue;
      const p = matchSegments(r.segments, segs);
      if (!p) continue;
      pathMatched = true;
      if (r.method === rec.method) {
        route = r;
        params = p;
        break;
      }
    }
    if (!route) throw pathMatched ? METHOD_NOT_ALLOWED(rec.method) : NOT_FOUND();
    if (route.orderWrite) {
      const algo = headers["x-algo-name"];
      this.orderWrites.push({ path: rec.path, algoName: Array.isArray(algo) ? algo[0] : algo });
    }

    let token: TokenInfo | undefined;
    if (route.auth) {
      const auth = headers.authorization;
      const m = typeof auth === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
      token = m ? this.tokens.get(m[1]!) : undefined;
      if (!token || token.revoked || token.expiresAt <= this.now()) throw INVALID_TOKEN();
      if (token.kind === "extended" && !route.extendedOk)
        throw new FakeHttpError(401, "UDAPI100067", "The API you are trying to access is not permissible with extended_token");
      if (this.enforceRateLimits && route.category) {
        const r = this.limiter.acquire(token.token, route.category, this.now());
        if (!r.ok) {
          // Upstox documents neither the 429 body nor a Retry-After header; the fake sends the
          // assembled fixture body (UDAPI10005) plus retry-after in whole seconds (≥1).
          const headers: Record<string, string> = this.retryAfterHeader ? { "retry-after": String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) } : {};
          throw new FakeHttpError(429, "UDAPI10005", "Too Many Request Sent", null, null, headers);
        }
      }
    }
    return route.handler({
      host,
      method: rec.method,
      path: rec.path,
      rawPath: rec.rawPath,
      params,
      query: rec.query,
      headers,
      body: rec.body,
      contentType,
      userId: token?.userId ?? DEFAULT_USER_ID,
      token,
      started,
    });
  }

  private route(
    host: Host,
    method: string,
    pattern: string,
    handler: Route["handler"],
    o: { auth?: boolean; category?: LimitCategory; extendedOk?: boolean; orderWrite?: boolean } = {},
  ): void {
    this.routes.push({
      host,
      method,
      segments: pattern.split("/").slice(1),
      auth: o.auth ?? true,
      ...(o.auth === false ? {} : { category: o.category ?? "standard" }),
      ...(o.extendedOk ? { extendedOk: true } : {}),
      ...(o.orderWrite ? { orderWrite: true } : {}),
      handler,
    });
  }

  private registerRoutes(): void {
    const api = (method: string, pattern: string, h: Route["handler"], o?: { auth?: boolean; extendedOk?: boolean }) =>
      this.route("api", method, pattern, h, o);
    const hft = (method: string, pattern: string, h: Route["handler"]) => this.route("hft", method, pattern, h, { category: "order", orderWrite: true });
    // GTT writes stay on the main host but share the order budget with the HFT writes (REFERENCE §5.5.1, §11).
    const gttWrite = (method: string, pattern: string, h: Route["handler"]) => this.route("api", method, pattern, h, { category: "order", orderWrite: true });

    // auth
    api("POST", "/v2/login/authorization/token", (c) => this.tokenExchange(c), { auth: false });
    api("DELETE", "/v2/logout", (c) => {
      if (c.token) c.token.revoked = true;
      return ok(true);
    });

    // market quotes
    api("GET", "/v2/market-quote/quotes", (c) => ok(this.quoteMap(c, "UDAPI100042", (i) => this.fullQuote(i))));
    api("GET", "/v2/market-quote/ltp", (c) => ok(this.quoteMap(c, "UDAPI100043", (i) => this.ltp(i, false))));
    api("GET", "/v3/market-quote/ltp", (c) => ok(this.quoteMap(c, "UDAPI100043", (i) => this.ltp(i, true))));
    api("GET", "/v2/market-quote/ohlc", (c) => {
      const interval = ohlcInterval(c);
      return ok(this.quoteMap(c, "UDAPI100042", (i) => this.ohlcV2(i, interval)));
    });
    api("GET", "/v3/market-quote/ohlc", (c) => {
      const interval = ohlcInterval(c);
      return ok(this.quoteMap(c, "UDAPI100042", (i) => this.ohlcV3(i, interval)));
    });

    // candles (intraday patterns first: same segment count as the historical ones)
    api("GET", "/v3/historical-candle/intraday/:key/:unit/:interval", (c) => this.candles(c, 3, true));
    api("GET", "/v3/historical-candle/:key/:unit/:interval/:to", (c) => this.candles(c, 3, false));
    api("GET", "/v3/historical-candle/:key/:unit/:interval/:to/:from", (c) => this.candles(c, 3, false));
    api("GET", "/v2/historical-candle/intraday/:key/:interval", (c) => this.candles(c, 2, true));
    api("GET", "/v2/historical-candle/:key/:interval/:to", (c) => this.candles(c, 2, false));
    api("GET", "/v2/historical-candle/:key/:interval/:to/:from", (c) => this.candles(c, 2, false));

    // portfolio and user
    api(
      "GET",
      "/v2/portfolio/long-term-holdings",
      (c) => ok(this.holdings.get(c.userId) ?? this.holdings.get(null) ?? fixtureData("portfolio_holdings.json")),
      { extendedOk: true },
    );
    api(
      "GET",
      "/v2/portfolio/short-term-positions",
      (c) => ok(this.positions.get(c.userId) ?? this.positions.get(null) ?? fixtureData("portfolio_positions.json")),
      { extendedOk: true },
    );
    api("GET", "/v2/user/get-funds-and-margin", (c) => this.fundsV2(c));
    api("GET", "/v3/user/get-funds-and-margin", () => ok(fixtureData("user_funds_and_margin_v3.json")));
    api("GET", "/v2/user/profile", (c) => ok({ ...fixtureData<Record<string, unknown>>("user_profile.json"), user_id: c.userId }));

    // order reads (main host)
    api("GET", "/v2/order/details", (c) => ok(this.orders.owned(c.userId, c.query.get("order_id") ?? undefined).order), { extendedOk: true });
    api("GET", "/v2/order/retrieve-all", (c) => ok(this.orders.book(c.userId)), { extendedOk: true });
    api(
      "GET",
      "/v2/order/history",
      (c) => {
        const orderId = c.query.get("order_id");
        const tag = c.query.get("tag");
        if (!orderId && !tag) throw badRequest("UDAPI1023", "Either order_id or tag is required", "order_id", null);
        return ok(this.orders.historyOf(c.userId, { orderId, tag }));
      },
      { extendedOk: true },
    );
    api("GET", "/v2/order/trades/get-trades-for-day", (c) => ok(this.orders.tradesOf(c.userId)));
    api("GET", "/v2/order/trades", (c) => ok(this.orders.tradesOf(c.userId, c.query.get("order_id") ?? "")));

    // WebSocket feeds: one-time ws:// URLs (the upgrades arrive on the api server)
    api("GET", "/v3/feed/market-data-feed/authorize", (c) => ok({ authorized_redirect_uri: this.feeds.authorize("market", c.userId) }));
    api("GET", "/v2/feed/portfolio-stream-feed/authorize", (c) => {
      const uri = this.feeds.authorize("portfolio", c.userId, c.query.get("update_types"));
      // Both spellings, as fixtures/ws_portfolio_stream_feed_authorize.json has them.
      return ok({ authorized_redirect_uri: uri, authorizedRedirectUri: uri });
    });

    // market information
    api("GET", "/v2/market/holidays", () => ok(this.calendar.holidaysForYear(istParts(this.now()).year)), { auth: false });
    api(
      "GET",
      "/v2/market/holidays/:date",
      (c) => {
        const day = parseIstDate(c.params.date ?? "");
        if (day === null) throw badRequest("UDAPI1088", "Invalid date", "date", c.params.date ?? null);
        const h = this.calendar.holidayOn(day);
        return ok(h ? [h] : []);
      },
      { auth: false },
    );
    api(
      "GET",
      "/v2/market/timings/:date",
      (c) => {
        const day = parseIstDate(c.params.date ?? "");
        if (day === null) throw badRequest("UDAPI1088", "Invalid date", "date", c.params.date ?? null);
        return ok(this.calendar.timings(day));
      },
      { auth: false },
    );
    api("GET", "/v2/market/status/:exchange", (c) => ok(this.marketStatus(c.params.exchange ?? "")));

    // instruments master (public CDN file in reality; served here on apiBase)
    api(
      "GET",
      "/market-quote/instruments/exchange/:file",
      (c) => {
        const m = /^(complete|NSE|BSE|MCX)\.json\.gz$/.exec(c.params.file ?? "");
        const gz = m ? this.instruments.masterFile(m[1]!) : undefined;
        if (!gz) throw NOT_FOUND();
        return { raw: gz, contentType: "application/gzip" };
      },
      { auth: false },
    );

    // order writes: HFT host only
    hft("POST", "/v3/order/place", (c) => this.place(c, 3));
    hft("POST", "/v2/order/place", (c) => this.place(c, 2));
    const modify = (c: Ctx) => this.orderChanged(this.orders.modify(c.userId, c.body, this.now())).order_id;
    const cancel = (c: Ctx) => this.orderChanged(this.orders.cancel(c.userId, c.query.get("order_id") ?? undefined, this.now())).order_id;
    hft("PUT", "/v3/order/modify", (c) => this.orderIdReply(c, 3, modify(c)));
    hft("PUT", "/v2/order/modify", (c) => this.orderIdReply(c, 2, modify(c)));
    hft("DELETE", "/v3/order/cancel", (c) => this.orderIdReply(c, 3, cancel(c)));
    hft("DELETE", "/v2/order/cancel", (c) => this.orderIdReply(c, 2, cancel(c)));

    // GTT (main host). The details read counts as a standard call, like the other order reads.
    const gttIds = (c: Ctx, g: FakeGtt): Reply => ({
      json: { status: "success", data: { gtt_order_ids: [this.gttChanged(g, c.userId).gtt_order_id] }, metadata: { latency: latency(c) } },
    });
    gttWrite("POST", "/v3/order/gtt/place", (c) => gttIds(c, this.gtts.place(c.userId, c.body, this.now())));
    gttWrite("PUT", "/v3/order/gtt/modify", (c) => gttIds(c, this.gtts.modify(c.userId, c.body)));
    gttWrite("DELETE", "/v3/order/gtt/cancel", (c) => gttIds(c, this.gtts.cancel(c.userId, c.body)));
    api("GET", "/v3/order/gtt", (c) => {
      const id = c.query.get("gtt_order_id");
      const data = this.gtts.details(c.userId, id === null || id === "" ? null : gttOrderId(id));
      return { json: { status: "success", data, metadata: { latency: latency(c) } } };
    });

    // pre-trade calculators
    api("POST", "/v2/charges/margin", (c) => ok(marginData(c.body, this.instruments)));
    api("GET", "/v2/charges/brokerage", (c) => ok(brokerageData(c.query, this.instruments)));
  }

  // --- handlers ---------------------------------------------------------------

  private tokenExchange(c: Ctx): Reply {
    if (!c.contentType.startsWith("application/x-www-form-urlencoded"))
      throw badRequest("UDAPI100036", "Invalid input: the token request must be application/x-www-form-urlencoded", null, null);
    const f = (c.body ?? {}) as Record<string, string>;
    if (!f.code) throw badRequest("UDAPI100036", "code is required", "code", null);
    // The code is single-use even when the exchange fails (REFERENCE §1.2).
    const entry = this.authCodes.get(f.code);
    this.authCodes.delete(f.code);
    if (f.client_id !== this.clientId || f.redirect_uri !== this.redirectUri)
      throw badRequest("UDAPI100068", "Check your 'client_id' and 'redirect_uri'; one or both are incorrect.", null, null);
    if (f.client_secret !== this.clientSecret) throw new FakeHttpError(401, "UDAPI100016", "Invalid Credentials");
    if (f.grant_type !== "authorization_code") throw badRequest("UDAPI100036", "Invalid grant_type", "grant_type", f.grant_type ?? null);
    if (!entry) throw badRequest("UDAPI100057", "Invalid Auth code", "code", f.code);
    const access = this.newToken(entry.userId, Number.MAX_SAFE_INTEGER, "access");
    const extended = this.newToken(entry.userId, Number.MAX_SAFE_INTEGER, "extended");
    // Bare object, no status/data wrapper (fixtures/auth_token.json).
    return { json: { ...fixture<Record<string, unknown>>("auth_token.json"), user_id: entry.userId, access_token: access, extended_token: extended } };
  }

  private quoteMap(c: Ctx, limitCode: string, build: (i: Instrument) => Record<string, unknown>): Record<string, unknown> {
    const all = c.query.getAll("instrument_key");
    if (!all.length || all.every((s) => s.trim() === "")) throw badRequest("UDAPI1009", "instrument_key is required", "instrument_key", null);
    const keys = all
      .join(",")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (keys.length > MAX_QUOTE_KEYS) throw badRequest(limitCode, "Maximum instrument key limit exceeded", "instrument_key", null);
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      if (!KEY_RE.test(k)) throw badRequest("UDAPI1087", "Invalid Instrument key", "instrument_key", k);
      const inst = this.instruments.get(k);
      // Unknown (well-formed) keys are simply absent from the map.
      if (inst) out[inst.quoteKey] = build(inst);
    }
    return out;
  }

  private fullQuote(i: Instrument): Record<string, unknown> {
    const p = this.instruments.price(i.key);
    const now = this.now();
    const tick = i.tick || 0.05;
    const level = (side: number, n: number) =>
      i.isIndex
        ? { quantity: 0, price: 0, orders: 0 }
        : {
            quantity: 1 + Math.floor(unit(`${i.key}#dq${side}${n}`) * 2000),
            price: roundTo(p.last + side * tick * (n + 1), tick),
            orders: 1 + Math.floor(unit(`${i.key}#do${side}${n}`) * 20),
          };
    const buy = [0, 1, 2, 3, 4].map((n) => level(-1, n));
    const sell = [0, 1, 2, 3, 4].map((n) => level(1, n));
    const avg = roundTo((p.open + p.high + p.low + p.last) / 4, 0.01);
    return {
      ohlc: { open: p.open, high: p.high, low: p.low, close: p.prevClose },
      depth: { buy, sell },
      timestamp: isoIstMillis(now),
      instrument_token: i.key,
      symbol: i.symbol,
      last_price: p.last,
      volume: p.volume,
      average_price: i.isIndex ? 0 : avg,
      oi: 0,
      net_change: Number((p.last - p.prevClose).toFixed(4)),
      total_buy_quantity: buy.reduce((s, l) => s + l.quantity, 0) * 10,
      total_sell_quantity: sell.reduce((s, l) => s + l.quantity, 0) * 10,
      lower_circuit_limit: i.isIndex ? 0 : roundTo(p.prevClose * 0.8, tick),
      upper_circuit_limit: i.isIndex ? 0 : roundTo(p.prevClose * 1.2, tick),
      last_trade_time: String(p.lastTradeTime ?? now),
      oi_day_high: 0,
      oi_day_low: 0,
    };
  }

  private ltp(i: Instrument, v3: boolean): Record<string, unknown> {
    const p = this.instruments.price(i.key);
    if (!v3) return { last_price: p.last, instrument_token: i.key };
    return { last_price: p.last, instrument_token: i.key, ltq: p.ltq, volume: p.volume, cp: p.prevClose };
  }

  /** Live and previous bars of an OHLC interval (1d: today/previous session; I1/I30: current/previous bucket). */
  private bars(i: Instrument, interval: string) {
    const p = this.instruments.price(i.key);
    const now = this.now();
    const tick = i.tick || 0.05;
    if (interval === "1d") {
      const today = istDayStart(now);
      let prevDay = today - DAY_MS;
      for (let n = 0; n < 14 && !this.calendar.session(prevDay, i.sessionExchange); n++) prevDay -= DAY_MS;
      const pOpen = roundTo(p.prevClose * (1 + (unit(`${i.key}#pdo${prevDay}`) - 0.5) * 0.02), tick);
      const live = { open: p.open, high: p.high, low: p.low, close: p.last, volume: p.volume, ts: today };
      const prev = {
        open: pOpen,
        high: roundTo(Math.max(pOpen, p.prevClose) * 1.004, tick),
        low: roundTo(Math.min(pOpen, p.prevClose) * 0.996, tick),
        close: p.prevClose,
        volume: i.isIndex ? 0 : Math.floor(p.volume * (0.7 + unit(`${i.key}#pdv${prevDay}`) * 0.6)),
        ts: prevDay,
      };
      return { live, prev };
    }
    const span = interval === "I1" ? MINUTE_MS : 30 * MINUTE_MS;
    const anchor = istDayStart(now) + (9 * 60 + 15) * MINUTE_MS;
    const start = anchor + Math.floor((now - anchor) / span) * span;
    const liveOpen = roundTo(p.last * (1 + (unit(`${i.key}#lo${start}`) - 0.5) * 0.002), tick);
    const prevOpen = roundTo(liveOpen * (1 + (unit(`${i.key}#po${start}`) - 0.5) * 0.002), tick);
    const vol = (ts: number) => (i.isIndex ? 0 : Math.floor((span / MINUTE_MS) * (100 + unit(`${i.key}#bv${ts}`) * 2000)));
    // Prices set in this bar (setPrice) are its trades: the bar holds them all.
    const set = span === MINUTE_MS && p.minute?.ts === start ? p.minute : undefined;
    const live = set
      ? { open: set.open, high: set.high, low: set.low, close: p.last, volume: vol(start), ts: start }
      : { open: liveOpen, high: Math.max(liveOpen, p.last), low: Math.min(liveOpen, p.last), close: p.last, volume: vol(start), ts: start };
    const prev = {
      open: prevOpen,
      high: Math.max(prevOpen, liveOpen),
      low: Math.min(prevOpen, liveOpen),
      close: liveOpen,
      volume: vol(start - span),
      ts: start - span,
    };
    return { live, prev };
  }

  private ohlcV2(i: Instrument, interval: string): Record<string, unknown> {
    const { live } = this.bars(i, interval);
    return {
      ohlc: { open: live.open, high: live.high, low: live.low, close: live.close },
      last_price: this.instruments.price(i.key).last,
      instrument_token: i.key,
    };
  }

  private ohlcV3(i: Instrument, interval: string): Record<string, unknown> {
    const { live, prev } = this.bars(i, interval);
    return { last_price: this.instruments.price(i.key).last, instrument_token: i.key, prev_ohlc: prev, live_ohlc: live };
  }

  private candles(c: Ctx, version: 2 | 3, intraday: boolean): Reply {
    const key = c.params.key ?? "";
    if (!KEY_RE.test(key)) throw badRequest("UDAPI1021", "Invalid instrument key format", "instrument_key", key);
    const inst = this.instruments.get(key);
    if (!inst) throw badRequest("UDAPI100011", "Invalid Instrument key", "instrument_key", key);

    let unitName: CandleUnit;
    let interval: number;
    if (version === 2) {
      const m = V2_INTERVALS[c.params.interval ?? ""];
      if (!m || (intraday && m[0] !== "minutes")) throw badRequest("UDAPI1020", "Invalid interval", "interval", c.params.interval ?? null);
      [unitName, interval] = m;
    } else {
      const u = c.params.unit ?? "";
      const allowed: CandleUnit[] = intraday ? ["minutes", "hours", "days"] : ["minutes", "hours", "days", "weeks", "months"];
      if (!allowed.includes(u as CandleUnit)) throw badRequest("UDAPI1020", `Invalid unit: expected one of ${allowed.join(", ")}`, "unit", u);
      unitName = u as CandleUnit;
      const iv = c.params.interval ?? "";
      interval = /^\d{1,4}$/.test(iv) ? Number(iv) : NaN;
      if (!(interval >= 1 && interval <= V3_UNIT_MAX[unitName]))
        throw badRequest("UDAPI1020", `Invalid interval: ${unitName} takes 1..${V3_UNIT_MAX[unitName]}`, "interval", iv);
    }

    const now = this.now();
    let fromDay: number;
    let toDayExclusive: number;
    if (intraday) {
      fromDay = istDayStart(now);
      toDayExclusive = fromDay + DAY_MS;
    } else {
      const to = parseIstDate(c.params.to ?? "");
      if (to === null) throw badRequest("UDAPI1022", "Invalid to_date, expected YYYY-MM-DD", "to_date", c.params.to ?? null);
      toDayExclusive = to + DAY_MS;
      const maxSpanStart = version === 3 ? this.spanStart(unitName, interval, to) : null;
      if (c.params.from !== undefined) {
        const from = parseIstDate(c.params.from);
        if (from === null) throw badRequest("UDAPI100036", "Invalid from_date, expected YYYY-MM-DD", "from_date", c.params.from);
        if (from > to) throw badRequest("UDAPI100036", "to_date must be on or after from_date", "to_date", c.params.to ?? null);
        if (maxSpanStart !== null && from < maxSpanStart)
          throw badRequest("UDAPI100036", `Invalid date range: too long a span for ${interval} ${unitName}`, "from_date", c.params.from);
        fromDay = from;
      } else {
        fromDay = maxSpanStart ?? DATA_START[unitName];
      }
    }

    const override = this.candleOverrides.get(inst.key);
    const candles = override
      ? filterCandles(override, fromDay, toDayExclusive).slice(0, MAX_CANDLES)
      : generateCandles({ inst, unit: unitName, interval, fromDay, toDayExclusive, now, calendar: this.calendar, cap: MAX_CANDLES });
    return ok({ candles });
  }

  /** Earliest from_date v3 allows for a to_date (null = unlimited). REFERENCE §3. */
  private spanStart(u: CandleUnit, interval: number, to: number): number | null {
    if (u === "minutes") return addMonths(to, interval <= 15 ? -1 : -3);
    if (u === "hours") return addMonths(to, -3);
    if (u === "days") return addMonths(to, -120);
    return null;
  }

  private fundsV2(c: Ctx): Reply {
    const data = fixtureData<{ equity: unknown; commodity: unknown }>("user_funds_and_margin_v2.json");
    const seg = c.query.get("segment");
    if (seg === null || seg === "") return ok(data);
    if (seg === "SEC") return ok({ equity: data.equity });
    if (seg === "COM") return ok({ commodity: data.commodity });
    throw badRequest("UDAPI100036", "Invalid segment, expected SEC or COM", "segment", seg);
  }

  private marketStatus(exchange: string): Record<string, unknown> {
    if (!(EXCHANGES as readonly string[]).includes(exchange)) throw badRequest("UDAPI1089", "Invalid exchange", "exchange", exchange);
    const now = this.now();
    const today = this.calendar.session(istDayStart(now), exchange);
    if (today && now >= today.start_time && now < today.end_time) return { exchange, status: "NORMAL_OPEN", last_updated: today.start_time };
    const last = today && now >= today.end_time ? today : this.calendar.lastSessionAtOrBefore(istDayStart(now) - 1, exchange);
    return { exchange, status: "NORMAL_CLOSE", last_updated: last?.end_time ?? now };
  }

  private place(c: Ctx, version: 2 | 3): Reply {
    const input = validatePlace(c.body, this.instruments);
    const now = this.now();
    const body = c.body as Record<string, unknown>;
    let quantities = [input.quantity];
    const freeze = Number(input.inst.record.freeze_quantity ?? 0);
    if (version === 3 && body.slice === true && freeze > 0 && input.quantity > freeze) {
      quantities = [];
      for (let left = input.quantity; left > 0; left -= freeze) quantities.push(Math.min(left, freeze));
      if (quantities.length > 25) throw badRequest("UDAPI1118", "Slice limit exceeded: at most 25 slices", "quantity", input.quantity);
    }
    const ids = quantities.map((q) => this.orderChanged(this.orders.place(c.userId, { ...input, quantity: q }, now)).order_id);
    if (version === 2) return ok({ order_id: ids[0] });
    return { json: { status: "success", data: { order_ids: ids }, metadata: { latency: latency(c) } } };
  }

  private orderIdReply(c: Ctx, version: 2 | 3, orderId: string): Reply {
    if (version === 2) return ok({ order_id: orderId });
    return { json: { status: "success", data: { order_id: orderId }, metadata: { latency: latency(c) } } };
  }

  /** Deterministic reference price path of an instrument (for tests that want to predict candles). */
  syntheticPrice(instrumentKey: string, atMs: number): number {
    return pricePath(this.instruments.require(instrumentKey), atMs);
  }
}

const ohlcInput = (interval: string, b: { open: number; high: number; low: number; close: number; volume: number; ts: number }): OhlcInput => ({
  interval,
  open: b.open,
  high: b.high,
  low: b.low,
  close: b.close,
  vol: b.volume,
  ts: b.ts,
});

function injected(fail: FailInjection): FakeHttpError {
  const [code, message] = FAIL_DEFAULTS[fail.status] ?? ["UDAPI100500", "Injected failure"];
  // Upstox does not document a Retry-After header on 429; the fake sends one unless told not to.
  const headers: Record<string, string> = fail.status === 429 && fail.retryAfter !== null ? { "retry-after": String(fail.retryAfter) } : {};
  return new FakeHttpError(fail.status, fail.errorCode ?? code, fail.message ?? message, null, null, headers);
}

const latency = (c: Ctx) => Math.max(1, Math.round(performance.now() - c.started));

function ohlcInterval(c: Ctx): string {
  const iv = c.query.get("interval");
  if (iv === null || iv === "") throw badRequest("UDAPI1011", "interval is required (1d, I1 or I30)", "interval", null);
  if (!["1d", "I1", "I30"].includes(iv)) throw badRequest("UDAPI1011", "Invalid interval, expected 1d, I1 or I30", "interval", iv);
  return iv;
}

function matchSegments(pattern: string[], segs: string[]): Record<string, string> | null {
  if (pattern.length !== segs.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segs[i]!;
    if (p.startsWith(":")) {
      if (s === "") return null;
      params[p.slice(1)] = s;
    } else if (p !== s) return null;
  }
  return params;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("aborted", () => reject(new Error("aborted")));
  });
}

function parseBody(buf: Buffer, contentType: string): unknown {
  if (!buf.length) return undefined;
  const text = buf.toString("utf8");
  if (contentType.startsWith("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
