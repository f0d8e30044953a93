import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { encodeFeedResponse, type FeedEntryInput, type OhlcInput, type RequestModeName } from "../../../src/upstox/feed/proto.js";
import { badRequest, errorBody } from "./errors.js";
import type { FakeGtt } from "./gtt.js";
import type { FakeOrder } from "./orders.js";

/**
 * Upstox's two WebSocket feeds on the fake (REFERENCE.md §6.2, §7): the Market Data Feed V3
 * (binary JSON requests in, protobuf `FeedResponse` frames out) and the Portfolio Stream Feed
 * (JSON text out). Both are reached through a one-time URL from an authorize call.
 *
 * Where Upstox documents nothing, the fake does this:
 * - an upgrade with a missing, unknown, already used or expired code gets HTTP 401; a code of
 *   the other feed (a market code on the portfolio path) gets 403. Either way the code is spent.
 *   Refusals injected with `refuseConnections` get 503 and do not spend the code.
 * - keys beyond the per-connection limits are not subscribed and nothing is sent back; the
 *   connection records a `limitErrors` entry naming them. Unknown keys are ignored silently.
 * - `change_mode` answers with an `initial_feed` snapshot of the keys whose mode changed.
 * - a stalled socket drops (does not queue) everything it would have sent, pings included.
 */

export type FeedKind = "market" | "portfolio";
/** Subscription modes of the market feed requests. */
export type FeedMode = "ltpc" | "full" | "option_greeks" | "full_d30";

export const FEED_MODES: readonly FeedMode[] = ["ltpc", "full", "option_greeks", "full_d30"];
export const PORTFOLIO_UPDATE_TYPES = ["order", "position", "holding", "gtt_order"] as const;
export const DEFAULT_SEGMENT_STATUS: Readonly<Record<string, string>> = {
  NSE_EQ: "NORMAL_OPEN",
  NSE_FO: "NORMAL_OPEN",
  BSE_EQ: "NORMAL_OPEN",
  NSE_INDEX: "NORMAL_OPEN",
};
const MARKET_STATUSES = new Set(["PRE_OPEN_START", "PRE_OPEN_END", "NORMAL_OPEN", "NORMAL_CLOSE", "CLOSING_START", "CLOSING_END"]);

/** Keys per connection and mode: alone, and when the connection mixes modes (REFERENCE §7). Full D30 is 50 either way. */
export const FEED_LIMITS: Readonly<Record<FeedMode, { alone: number; mixed: number }>> = {
  ltpc: { alone: 5000, mixed: 2000 },
  option_greeks: { alone: 3000, mixed: 2000 },
  full: { alone: 2000, mixed: 1500 },
  full_d30: { alone: 50, mixed: 50 },
};

/** How long an authorized redirect URI's code stays usable. */
export const FEED_CODE_TTL_MS = 60_000;

const MARKET_PATH = "/v3/feed/market-data-feeder";
const PORTFOLIO_PATH = "/v2/order-updates/feed";
const REQUEST_MODE: Readonly<Record<FeedMode, RequestModeName>> = { ltpc: "ltpc", full: "full_d5", option_greeks: "option_greeks", full_d30: "full_d30" };

export interface FeedLimitError {
  at: number;
  method: "sub" | "change_mode";
  mode: FeedMode;
  /** Keys left unsubscribed (sub) or in their previous mode (change_mode). */
  refused: string[];
  message: string;
}

export interface FeedConnectionInfo {
  kind: FeedKind;
  userId: string;
  /** Market feed: key → mode. Empty for the portfolio feed. */
  subscriptions: Map<string, FeedMode>;
  /** Portfolio feed: the update types asked for. Empty for the market feed. */
  updateTypes: string[];
  /** The fake's `now()` at the upgrade. */
  openedAt: number;
  /** Messages the fake ignored, and why. */
  protocolErrors: string[];
  limitErrors: FeedLimitError[];
}

export interface FeedRequestRecord {
  guid: string;
  method: "sub" | "unsub" | "change_mode";
  /** As asked (a `sub` without mode is `ltpc`); undefined for `unsub` without one. */
  mode: FeedMode | undefined;
  keys: string[];
  userId: string;
  at: number;
}

export interface FeedCounters {
  marketAuthorizations: number;
  portfolioAuthorizations: number;
  /** Upgrades that became open sockets. */
  marketUpgrades: number;
  portfolioUpgrades: number;
  /** Upgrades answered with 401/403/404/503. */
  refusedUpgrades: number;
}

/** One-minute and day bars of an instrument as the fake's OHLC quotes have them. */
export interface InstrumentBars {
  day: OhlcInput;
  previousMinute: OhlcInput;
  currentMinute: OhlcInput;
}

/** An instrument's state for a frame: what the market feed needs from the rest of the fake. */
export interface InstrumentSnapshot {
  isIndex: boolean;
  ltp: number;
  /** Epoch ms of the last trade. */
  ltt: number;
  ltq: number;
  cp: number;
  volume: number;
  atp: number;
  /** Computed only for the full modes. */
  bars(): InstrumentBars;
}

export interface FeedMarket {
  now(): number;
  /** Undefined for a key the fake does not know. */
  snapshot(instrumentKey: string): InstrumentSnapshot | undefined;
  /** Moves the instrument's price to the synthetic price path at now() (autoTicks). */
  moveAlongPath(instrumentKey: string): void;
}

export interface FakeFeedsOptions {
  /** ws://127.0.0.1:<port> of the api server. */
  wsBase: string;
  pingIntervalMs?: number;
  autoTicks?: { everyMs: number };
  segmentStatus?: Record<string, string>;
}

interface Code {
  kind: FeedKind;
  userId: string;
  updateTypes: string[];
  expiresAt: number;
}

interface Connection extends FeedConnectionInfo {
  ws: WebSocket;
  stalledUntil: number;
}

/** The entry of `feeds` for an instrument in a mode: ltpc only, or the full or greeks shapes. */
export function feedEntry(s: InstrumentSnapshot, mode: FeedMode): FeedEntryInput {
  const ltpc = { ltp: s.ltp, ltt: s.ltt, ltq: s.ltq, cp: s.cp };
  const requestMode = REQUEST_MODE[mode];
  if (mode === "ltpc") return { requestMode, ltpc };
  if (mode === "option_greeks") return { requestMode, firstLevelWithGreeks: { ltpc, vtt: s.volume } };
  const b = s.bars();
  const marketOHLC = { ohlc: [b.day, b.previousMinute, b.currentMinute] };
  if (s.isIndex) return { requestMode, indexFF: { ltpc, marketOHLC } };
  return { requestMode, marketFF: { ltpc, marketOHLC, vtt: s.volume, atp: s.atp } };
}

/** The Portfolio Stream Feed's order update: the webhook payload (fixtures/webhook_order_update.json), from an order of the fake. */
export function orderUpdate(o: FakeOrder, userId: string): Record<string, unknown> {
  return {
    update_type: "order",
    user_id: userId,
    userId,
    exchange: o.exchange,
    instrument_token: o.instrument_token,
    instrument_key: o.instrument_token,
    trading_symbol: o.trading_symbol,
    tradingsymbol: o.tradingsymbol,
    product: o.product,
    order_type: o.order_type,
    average_price: o.average_price,
    price: o.price,
    trigger_price: o.trigger_price,
    quantity: o.quantity,
    disclosed_quantity: o.disclosed_quantity,
    pending_quantity: o.pending_quantity,
    transaction_type: o.transaction_type,
    order_ref_id: o.order_ref_id,
    exchange_order_id: o.exchange_order_id ?? "",
    parent_order_id: o.parent_order_id,
    validity: o.validity,
    status: o.status,
    is_amo: o.is_amo,
    variety: o.variety,
    tag: o.tag,
    exchange_timestamp: o.exchange_timestamp,
    status_message: o.status_message ?? "",
    order_id: o.order_id,
    order_request_id: o.order_request_id,
    order_timestamp: o.order_timestamp,
    filled_quantity: o.filled_quantity,
    guid: o.guid,
    placed_by: o.placed_by,
    status_message_raw: o.status_message_raw,
  };
}

/**
 * The gtt_order update (Portfolio Stream Feed and webhook alike): the details object plus
 * `update_type`, with the fields and order of fixtures/webhook_gtt_update.json (no
 * trading_symbol, which the sample lacks).
 */
export function gttUpdate(g: FakeGtt): Record<string, unknown> {
  return {
    update_type: "gtt_order",
    type: g.type,
    exchange: g.exchange,
    instrument_token: g.instrument_token,
    quantity: g.quantity,
    product: g.product,
    gtt_order_id: g.gtt_order_id,
    expires_at: g.expires_at,
    created_at: g.created_at,
    rules: g.rules.map((r) => ({
      strategy: r.strategy,
      status: r.status,
      trigger_type: r.trigger_type,
      trigger_price: r.trigger_price,
      transaction_type: r.transaction_type,
      message: r.message,
      order_id: r.order_id,
      trailing_gap: r.trailing_gap,
    })),
  };
}

/** Which of `wanted` keys (in order) fit beside `current` subscriptions in `mode`; the rest are refused. */
export function fitWithinLimits(current: ReadonlyMap<string, FeedMode>, wanted: readonly string[], mode: FeedMode): { accepted: string[]; refused: string[] } {
  const counts: Record<FeedMode, number> = { ltpc: 0, full: 0, option_greeks: 0, full_d30: 0 };
  for (const m of current.values()) counts[m]++;
  const accepted: string[] = [];
  const refused: string[] = [];
  const seen = new Set<string>();
  for (const key of wanted) {
    // A key listed twice counts once.
    if (seen.has(key)) continue;
    seen.add(key);
    const old = current.get(key);
    if (old === mode) continue;
    if (old !== undefined) counts[old]--;
    counts[mode]++;
    if (withinLimits(counts)) accepted.push(key);
    else {
      counts[mode]--;
      if (old !== undefined) counts[old]++;
      refused.push(key);
    }
  }
  return { accepted, refused };
}

function withinLimits(counts: Readonly<Record<FeedMode, number>>): boolean {
  const mixed = FEED_MODES.filter((m) => counts[m] > 0).length > 1;
  return FEED_MODES.every((m) => counts[m] <= (mixed ? FEED_LIMITS[m].mixed : FEED_LIMITS[m].alone));
}

type ParsedRequest = { ok: true; guid: string; method: FeedRequestRecord["method"]; mode: FeedMode | undefined; keys: string[] } | { ok: false; error: string };

/** A market feed request: `{guid, method, data: {mode, instrumentKeys}}` as UTF-8 JSON. */
export function parseFeedRequest(text: string): ParsedRequest {
  let req: unknown;
  try {
    req = JSON.parse(text);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (typeof req !== "object" || req === null) return { ok: false, error: "not a JSON object" };
  const { guid, method, data } = req as Record<string, unknown>;
  if (method !== "sub" && method !== "unsub" && method !== "change_mode") return { ok: false, error: `unknown method ${JSON.stringify(method)}` };
  if (typeof data !== "object" || data === null) return { ok: false, error: "no data" };
  const { mode, instrumentKeys } = data as Record<string, unknown>;
  if (!Array.isArray(instrumentKeys) || !instrumentKeys.every((k) => typeof k === "string"))
    return { ok: false, error: "instrumentKeys is not a list of strings" };
  if (mode !== undefined && !FEED_MODES.includes(mode as FeedMode)) return { ok: false, error: `unknown mode ${JSON.stringify(mode)}` };
  if (method === "change_mode" && mode === undefined) return { ok: false, error: "change_mode without a mode" };
  return {
    ok: true,
    guid: typeof guid === "string" ? guid : "",
    method,
    mode: (mode as FeedMode | undefined) ?? (method === "sub" ? "ltpc" : undefined),
    keys: instrumentKeys,
  };
}

/** Both feeds' sockets, one-time codes and test controls. FakeUpstox owns one and routes to it. */
export class FakeFeeds {
  readonly requests: FeedRequestRecord[] = [];
  readonly counters: FeedCounters = { marketAuthorizations: 0, portfolioAuthorizations: 0, marketUpgrades: 0, portfolioUpgrades: 0, refusedUpgrades: 0 };

  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly codes = new Map<string, Code>();
  private readonly connections = new Set<Connection>();
  private readonly segmentStatus: Record<string, string>;
  private readonly timers: NodeJS.Timeout[] = [];
  private refuseNext = 0;
  private closed = false;

  constructor(
    private readonly market: FeedMarket,
    private readonly opts: FakeFeedsOptions,
  ) {
    this.segmentStatus = { ...(opts.segmentStatus ?? DEFAULT_SEGMENT_STATUS) };
    for (const status of Object.values(this.segmentStatus)) checkStatus(status);
    this.timers.push(setInterval(() => this.pingAll(), opts.pingIntervalMs ?? 10_000));
    if (opts.autoTicks) this.timers.push(setInterval(() => this.autoTick(), opts.autoTicks.everyMs));
    // A test that forgets close() should not keep its worker alive for these.
    for (const t of this.timers) t.unref();
  }

  // --- authorize and upgrade ------------------------------------------------------

  /** A one-time ws:// URL for `userId`. `updateTypes` (portfolio only) is the raw query value: comma-separated, default `order`. */
  authorize(kind: FeedKind, userId: string, updateTypes?: string | null): string {
    let types: string[] = [];
    if (kind === "portfolio") {
      types = (updateTypes ?? "order").split(",").map((t) => t.trim());
      const bad = types.find((t) => !(PORTFOLIO_UPDATE_TYPES as readonly string[]).includes(t));
      if (bad !== undefined)
        throw badRequest(
          "UDAPI100036",
          `Invalid update_types: expected a comma-separated list of ${PORTFOLIO_UPDATE_TYPES.join(", ")}`,
          "update_types",
          updateTypes,
        );
      this.counters.portfolioAuthorizations++;
    } else this.counters.marketAuthorizations++;
    const code = randomUUID();
    this.codes.set(code, { kind, userId, updateTypes: [...new Set(types)], expiresAt: this.market.now() + FEED_CODE_TTL_MS });
    const path = kind === "market" ? MARKET_PATH : PORTFOLIO_PATH;
    return `${this.opts.wsBase}${path}?requestId=${randomUUID()}&code=${code}`;
  }

  /** The api server's `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const kind: FeedKind | undefined = url.pathname === MARKET_PATH ? "market" : url.pathname === PORTFOLIO_PATH ? "portfolio" : undefined;
    if (this.closed) return refuse(socket, 503, "UDAPI100500", "Service unavailable");
    if (kind === undefined) return this.refuse(socket, 404, "UDAPI100060", "Resource not Found.");
    if (this.refuseNext > 0) {
      this.refuseNext--;
      return this.refuse(socket, 503, "UDAPI100500", "Service unavailable, under maintenance");
    }
    const codeParam = url.searchParams.get("code") ?? "";
    const code = this.codes.get(codeParam);
    this.codes.delete(codeParam);
    if (!code || code.expiresAt <= this.market.now()) return this.refuse(socket, 401, "UDAPI100050", "Invalid or expired feed authorization code");
    if (code.kind !== kind) return this.refuse(socket, 403, "UDAPI100050", `This code authorizes the ${code.kind} feed`);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, code));
  }

  private refuse(socket: Duplex, status: number, code: string, message: string): void {
    this.counters.refusedUpgrades++;
    refuse(socket, status, code, message);
  }

  private open(ws: WebSocket, code: Code): void {
    const conn: Connection = {
      ws,
      kind: code.kind,
      userId: code.userId,
      subscriptions: new Map(),
      updateTypes: code.updateTypes,
      openedAt: this.market.now(),
      protocolErrors: [],
      limitErrors: [],
      stalledUntil: 0,
    };
    this.connections.add(conn);
    ws.on("close", () => this.connections.delete(conn));
    ws.on("error", () => this.connections.delete(conn));
    if (this.closed) {
      ws.terminate();
      return;
    }
    if (code.kind === "market") {
      this.counters.marketUpgrades++;
      ws.on("message", (data, isBinary) => this.onMarketMessage(conn, data, isBinary));
      this.send(conn, encodeFeedResponse({ type: "market_info", currentTs: this.market.now(), segmentStatus: this.segmentStatus }));
    } else {
      this.counters.portfolioUpgrades++;
      ws.on("message", () => conn.protocolErrors.push("the portfolio feed takes no messages"));
    }
  }

  // --- market feed --------------------------------------------------------------------

  private onMarketMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    // Upstox's SDK sends requests as binary frames; the fake is as strict as that documentation.
    if (!isBinary) {
      conn.protocolErrors.push("text frame ignored: requests must be binary frames");
      return;
    }
    const req = parseFeedRequest(rawText(data));
    if (!req.ok) {
      conn.protocolErrors.push(`request ignored: ${req.error}`);
      return;
    }
    const at = this.market.now();
    this.requests.push({ guid: req.guid, method: req.method, mode: req.mode, keys: [...req.keys], userId: conn.userId, at });
    if (req.method === "unsub") {
      for (const key of req.keys) conn.subscriptions.delete(key);
      return;
    }
    const mode = req.mode!;
    const candidates = req.keys.filter((k) => (req.method === "sub" ? true : conn.subscriptions.has(k)) && this.market.snapshot(k) !== undefined);
    const { accepted, refused } = fitWithinLimits(conn.subscriptions, candidates, mode);
    for (const key of accepted) conn.subscriptions.set(key, mode);
    if (refused.length)
      conn.limitErrors.push({
        at,
        method: req.method,
        mode,
        refused,
        message: `${refused.length} key(s) over the per-connection limit (${mode}: ${FEED_LIMITS[mode].alone} alone, ${FEED_LIMITS[mode].mixed} when mixing modes)`,
      });
    if (accepted.length) this.send(conn, this.frame(conn, "initial_feed", accepted, new Map()));
  }

  /** A frame of `keys` in each key's subscribed mode; `cache` shares entries between sockets of one push. */
  private frame(conn: Connection, type: "initial_feed" | "live_feed", keys: Iterable<string>, cache: Map<string, FeedEntryInput | null>): Uint8Array {
    const feeds: Record<string, FeedEntryInput> = {};
    for (const key of keys) {
      const mode = conn.subscriptions.get(key);
      if (mode === undefined) continue;
      const cacheKey = `${mode}\u0000${key}`;
      let entry = cache.get(cacheKey);
      if (entry === undefined) {
        const snap = this.market.snapshot(key);
        entry = snap ? feedEntry(snap, mode) : null;
        cache.set(cacheKey, entry);
      }
      if (entry) feeds[key] = entry;
    }
    return encodeFeedResponse({ type, currentTs: this.market.now(), feeds });
  }

  /** A live_feed frame with these instruments to every market socket subscribed to any of them. */
  pushTicks(keys: readonly string[]): void {
    const cache = new Map<string, FeedEntryInput | null>();
    for (const conn of this.connections) {
      if (conn.kind !== "market") continue;
      const mine = keys.filter((k) => conn.subscriptions.has(k));
      if (mine.length) this.send(conn, this.frame(conn, "live_feed", mine, cache));
    }
  }

  private autoTick(): void {
    const keys = new Set<string>();
    for (const conn of this.connections) if (conn.kind === "market") for (const key of conn.subscriptions.keys()) keys.add(key);
    if (!keys.size) return;
    for (const key of keys) this.market.moveAlongPath(key);
    const cache = new Map<string, FeedEntryInput | null>();
    for (const conn of this.connections) {
      if (conn.kind === "market" && conn.subscriptions.size) this.send(conn, this.frame(conn, "live_feed", conn.subscriptions.keys(), cache));
    }
  }

  setSegmentStatus(segment: string, status: string): void {
    checkStatus(status);
    this.segmentStatus[segment] = status;
    const frame = encodeFeedResponse({ type: "market_info", currentTs: this.market.now(), segmentStatus: this.segmentStatus });
    for (const conn of this.connections) if (conn.kind === "market") this.send(conn, frame);
  }

  // --- portfolio feed -----------------------------------------------------------------

  /** Sends `update` to `userId`'s portfolio sockets (all users' when omitted) that asked for its update_type; returns how many. */
  pushPortfolioUpdate(update: Record<string, unknown>, userId?: string): number {
    const type = update.update_type;
    if (typeof type !== "string") throw new Error("FakeUpstox.pushPortfolioUpdate: the update has no update_type");
    const text = JSON.stringify(update);
    let sent = 0;
    for (const conn of this.connections) {
      if (conn.kind !== "portfolio" || (userId !== undefined && conn.userId !== userId) || !conn.updateTypes.includes(type)) continue;
      if (this.send(conn, text)) sent++;
    }
    return sent;
  }

  // --- test controls ------------------------------------------------------------------

  /** Closes the sockets without a close frame, as a lost network does. */
  drop(kind?: FeedKind): void {
    for (const conn of this.connections) if (kind === undefined || conn.kind === kind) conn.ws.terminate();
  }

  /** The open sockets send nothing at all (pings included) for `ms`; they stay open. */
  stall(ms: number, kind?: FeedKind): void {
    const until = Date.now() + ms;
    for (const conn of this.connections) if (kind === undefined || conn.kind === kind) conn.stalledUntil = until;
  }

  refuseConnections(count: number): void {
    this.refuseNext = Math.max(0, Math.floor(count));
  }

  connectionsInfo(): FeedConnectionInfo[] {
    return [...this.connections].map((c) => ({
      kind: c.kind,
      userId: c.userId,
      subscriptions: new Map(c.subscriptions),
      updateTypes: [...c.updateTypes],
      openedAt: c.openedAt,
      protocolErrors: [...c.protocolErrors],
      limitErrors: c.limitErrors.map((e) => ({ ...e, refused: [...e.refused] })),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const conn of this.connections) conn.ws.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // --- plumbing -----------------------------------------------------------------------

  private pingAll(): void {
    const now = Date.now();
    for (const conn of this.connections) if (conn.stalledUntil <= now && conn.ws.readyState === WebSocket.OPEN) conn.ws.ping();
  }

  private send(conn: Connection, data: Uint8Array | string): boolean {
    if (conn.stalledUntil > Date.now() || conn.ws.readyState !== WebSocket.OPEN) return false;
    conn.ws.send(data, { binary: typeof data !== "string" });
    return true;
  }
}

function checkStatus(status: string): void {
  if (!MARKET_STATUSES.has(status)) throw new Error(`FakeUpstox: unknown segment status "${status}" (expected one of ${[...MARKET_STATUSES].join(", ")})`);
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  return Buffer.from(new Uint8Array(data)).toString("utf8");
}

/** Answers an upgrade request with an HTTP error and the Upstox error envelope, then closes the socket. */
function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify(errorBody(code, message));
  const reason = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable" }[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
