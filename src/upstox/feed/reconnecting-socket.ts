import { WebSocket, type RawData } from "ws";
import type { Logger } from "../../log/logger.js";
import { UpstoxTokenError } from "../errors.js";

/**
 * One WebSocket that stays up: a fresh one-time URL from `authorize` for every connect,
 * reconnects with full-jitter backoff, and a watchdog that drops a connection gone quiet
 * (Upstox pings an idle feed, so silence means a dead link, not a calm market).
 */

export type SocketStatus = "connecting" | "connected" | "down" | "stopped";

/** There is no Upstox session to authorize with (nobody linked, or the token was dropped). */
export class FeedSessionMissingError extends Error {
  override name = "FeedSessionMissingError";
}

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

/** What a feed built on the socket passes through to it: timing, the watchdog and the backoff. */
export type SocketTuning = Pick<ReconnectingSocketOptions, "now" | "stallMs" | "stableMs" | "watchdogActive" | "backoff" | "random">;

export interface ReconnectingSocketOptions {
  /** For logs: which feed (and whose) this socket is. */
  name: string;
  /** A fresh one-time `ws(s)://` URL; called before every connect (the code in it is single-use). */
  authorize: () => Promise<string>;
  /** The connection is open: subscribe here. */
  onOpen?: (socket: ReconnectingSocket) => void;
  onMessage: (data: Buffer, isBinary: boolean) => void;
  onStatus?: (status: SocketStatus, socket: ReconnectingSocket) => void;
  backoff?: BackoffOptions;
  /** In [0, 1); the backoff's jitter. */
  random?: () => number;
  /** A connection with no frame (pings included) for this long is dropped and made again. */
  stallMs: number;
  /** Ping the server when it has been quiet a third of stallMs, and count its pong as life; default false. */
  keepAlivePings?: boolean;
  /** How long a connection must stay up (and carry a frame) before the backoff starts over; default 10 s. */
  stableMs?: number;
  /** Whether silence counts now; default always. */
  watchdogActive?: () => boolean;
  /** Epoch ms, for `lastMessageAt`, `since` and the IST day of the reconnect count. */
  now?: () => number;
  handshakeTimeoutMs?: number;
  log: Logger;
}

const IST_OFFSET_MS = 5.5 * 3600_000;
const DAY_MS = 86_400_000;
/** How long close() lets the closing handshake take before it cuts the TCP connection. */
const CLOSE_GRACE_MS = 1_000;

export const istDay = (epochMs: number): number => Math.floor((epochMs + IST_OFFSET_MS) / DAY_MS);

/** Full jitter: a uniform wait in [0, min(max, initial·2^failures)]. */
/** How soon a feed without a usable Upstox login looks for one again. */
export const NOT_AUTHORIZED_RETRY_MS = 3_000;

export function backoffDelay(failures: number, initialMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, initialMs * 2 ** Math.min(failures, 30)));
}

/** The one-time code (and anything else in the query) must never reach a log or an error. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : `${url.slice(0, q)}?[redacted]`;
}

function scrubQuery(message: string, url: string | undefined): string {
  let out = url ? message.split(url).join(redactUrl(url)) : message;
  out = out.replace(/([?&](?:code|requestId|token|access_token)=)[^&\s"']*/gi, "$1[redacted]");
  return out;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class ReconnectingSocket {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private ws: WebSocket | undefined;
  /** The URL of the current connection, kept only to scrub it out of error texts. */
  private url: string | undefined;
  private statusNow: SocketStatus = "stopped";
  private statusSince: number;
  private failures = 0;
  private started = false;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the last frame: the watchdog's clock, immune to wall-clock jumps. */
  private lastFrameAt = 0;
  private messageSinceOpen = false;
  private reconnectDay = 0;
  private reconnectCount = 0;
  private lastMessage: number | null = null;
  private lastErr: string | undefined;
  private handlerFailures = 0;
  private pendingRetryMs: number | undefined;
  private openedAt = 0;
  private readonly stableMs: number;
  private readonly pingEveryMs: number;
  /** Since when no usable login was found (retries while it lasts are not reconnects). */
  private notAuthorizedSince: number | undefined;

  constructor(private readonly opts: ReconnectingSocketOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.initialMs = opts.backoff?.initialMs ?? 500;
    this.maxMs = opts.backoff?.maxMs ?? 30_000;
    this.stableMs = opts.stableMs ?? 10_000;
    this.pingEveryMs = opts.keepAlivePings ? Math.max(1, Math.floor(opts.stallMs / 3)) : opts.stallMs;
    this.statusSince = this.now();
  }

  get name(): string {
    return this.opts.name;
  }
  get status(): SocketStatus {
    return this.statusNow;
  }
  /** Epoch ms the socket entered `status`. */
  get since(): number {
    return this.statusSince;
  }
  get lastMessageAt(): number | null {
    return this.lastMessage;
  }
  get lastError(): string | undefined {
    return this.lastErr;
  }
  /** Exceptions thrown by our own handlers (caught, logged), since start. */
  get handlerErrors(): number {
    return this.handlerFailures;
  }
  /** The wait before the pending reconnect, while one is pending. */
  get retryDelayMs(): number | undefined {
    return this.retryTimer ? this.pendingRetryMs : undefined;
  }
  /** Connection attempts after a loss or a failed attempt, since IST midnight. */
  get reconnectsToday(): number {
    return istDay(this.now()) === this.reconnectDay ? this.reconnectCount : 0;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.connect(false);
  }

  /** Sends one frame on the open connection; false when there is none (nothing is queued). */
  send(data: Buffer | string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.statusNow !== "connected") return false;
    ws.send(data, (err) => {
      if (err) this.opts.log.warn({ feed: this.opts.name, err: scrubQuery(err.message, this.url) }, "feed frame not sent");
    });
    return true;
  }

  /** Idempotent; resolves once the socket is closed and no timer is left. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = undefined;
    this.setStatus("stopped");
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const cutOff = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      ws.once("close", () => {
        clearTimeout(cutOff);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, "closing");
    });
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdogTimer);
    this.retryTimer = undefined;
    this.watchdogTimer = undefined;
  }

  private connect(isReconnect: boolean): void {
    if (this.stopped) return;
    if (isReconnect && this.notAuthorizedSince === undefined) this.countReconnect();
    this.setStatus("connecting");
    if (!this.stopped) void this.authorizeAndOpen();
  }

  private async authorizeAndOpen(): Promise<void> {
    let url: string;
    try {
      url = await this.opts.authorize();
    } catch (err) {
      if (this.stopped) return;
      const noSession = err instanceof UpstoxTokenError || err instanceof FeedSessionMissingError;
      const message = err instanceof Error ? err.message : String(err);
      const why = noSession ? `not authorized: ${message}` : `authorization failed: ${scrubQuery(message, undefined)}`;
      this.fail(why, noSession);
      return;
    }
    if (this.stopped) return;
    this.url = url;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, { handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000, perMessageDeflate: false });
    } catch (err) {
      this.fail(`could not open ${redactUrl(url)}: ${scrubQuery((err as Error).message, url)}`, false);
      return;
    }
    this.ws = ws;
    this.messageSinceOpen = false;
    let errorText: string | undefined;
    ws.on("open", () => this.opened(ws));
    ws.on("message", (data, isBinary) => this.frame(ws, toBuffer(data), isBinary));
    ws.on("ping", () => this.frame(ws, undefined, false));
    // Our own pings (keepAlivePings): the pong proves the connection when the server has
    // nothing to say for hours (the portfolio socket), so a half-open one is caught. Not for the
    // market feed: any server answers a ping, a stalled feed included, and Upstox pings it.
    if (this.opts.keepAlivePings) ws.on("pong", () => this.frame(ws, undefined, false));
    ws.on("error", (err) => {
      errorText = scrubQuery(err.message, url);
    });
    ws.on("close", (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      const text = errorText ?? `connection closed (code ${code}${reason.length ? `: ${scrubQuery(reason.toString("utf8"), url)}` : ""})`;
      this.fail(text, false);
    });
  }

  private opened(ws: WebSocket): void {
    if (this.ws !== ws || this.stopped) return;
    this.lastFrameAt = this.openedAt = performance.now();
    this.notAuthorizedSince = undefined;
    this.armWatchdog(this.opts.stallMs);
    this.opts.log.info({ feed: this.opts.name }, "feed connected");
    this.setStatus("connected");
    this.guard("onOpen", () => this.opts.onOpen?.(this));
  }

  /** Any frame, ping included; `data` undefined for a ping. */
  private frame(ws: WebSocket, data: Buffer | undefined, isBinary: boolean): void {
    if (this.ws !== ws || this.stopped) return;
    this.lastFrameAt = performance.now();
    this.lastMessage = this.now();
    // Backoff starts over only once a connection has proved itself: carried something and
    // stayed up a while. A server that accepts, says hello and hangs up (a connection limit, a
    // second deployment on the same login) must not make us re-authorize twice a second.
    if (!this.messageSinceOpen && performance.now() - this.openedAt >= this.stableMs) {
      this.messageSinceOpen = true;
      this.failures = 0;
    }
    if (data) this.guard("onMessage", () => this.opts.onMessage(data, isBinary));
  }

  private armWatchdog(ms: number): void {
    clearTimeout(this.watchdogTimer);
    this.watchdogTimer = setTimeout(() => this.checkStall(), Math.max(1, Math.min(ms, this.pingEveryMs)));
  }

  private pingIfQuiet(ws: WebSocket): void {
    if (!this.opts.keepAlivePings || ws.readyState !== WebSocket.OPEN || performance.now() - this.lastFrameAt < this.pingEveryMs) return;
    try {
      ws.ping();
    } catch {
      // Closing under us: the close event reports it.
    }
  }

  private checkStall(): void {
    this.watchdogTimer = undefined;
    const ws = this.ws;
    if (!ws || this.stopped || this.statusNow !== "connected") return;
    const quietMs = performance.now() - this.lastFrameAt;
    this.pingIfQuiet(ws);
    const active = this.guard("watchdogActive", () => this.opts.watchdogActive?.() ?? true) ?? true;
    if (quietMs >= this.opts.stallMs && active) {
      this.opts.log.warn({ feed: this.opts.name, quietMs: Math.round(quietMs) }, "feed stalled: reconnecting");
      this.ws = undefined;
      ws.terminate();
      this.fail(`stalled: no frame for ${Math.round(quietMs)} ms`, false);
      return;
    }
    this.armWatchdog(active ? Math.min(this.opts.stallMs - quietMs, this.pingEveryMs) : this.pingEveryMs);
  }

  /** A lost connection or a failed attempt: try again after the backoff (the max one when no token would do). */
  private fail(reason: string, notAuthorized: boolean): void {
    if (this.stopped) return;
    clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
    this.lastErr = reason;
    // Without a usable login nothing goes on the wire (a refused token is marked expired, so the
    // next try takes another or none): looking again soon costs nothing and lets the feed start
    // seconds after a trader links, not half a minute.
    const delay = notAuthorized ? Math.min(this.maxMs, NOT_AUTHORIZED_RETRY_MS) : backoffDelay(this.failures, this.initialMs, this.maxMs, this.random);
    if (!notAuthorized) {
      this.failures++;
      this.notAuthorizedSince = undefined;
    }
    // Waiting for a login is one state, told once (and again when the reason changes), not a
    // warning and a reconnect every few seconds until someone links.
    const repeat = notAuthorized && this.notAuthorizedSince !== undefined && reason === this.lastErr;
    if (notAuthorized) this.notAuthorizedSince ??= this.now();
    if (repeat) this.opts.log.debug({ feed: this.opts.name, reason, retryInMs: delay }, "feed still waiting for a usable Upstox login");
    else this.opts.log.warn({ feed: this.opts.name, reason, retryInMs: delay }, "feed connection failed");
    clearTimeout(this.retryTimer);
    this.pendingRetryMs = delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect(true);
    }, delay);
    this.setStatus(notAuthorized ? "down" : "connecting", true);
  }

  private countReconnect(): void {
    const day = istDay(this.now());
    if (day !== this.reconnectDay) {
      this.reconnectDay = day;
      this.reconnectCount = 0;
    }
    this.reconnectCount++;
  }

  /** `force` reports a change of lastError even when the status stays the same. */
  private setStatus(status: SocketStatus, force = false): void {
    if (status === this.statusNow && !force) return;
    if (status !== this.statusNow) this.statusSince = this.now();
    this.statusNow = status;
    this.guard("onStatus", () => this.opts.onStatus?.(status, this));
  }

  /** Our handlers must not take the process down: a throw is counted and logged. */
  private guard<T>(what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.handlerFailures++;
      this.opts.log.error({ feed: this.opts.name, handler: what, err: scrubQuery((err as Error)?.message ?? String(err), this.url) }, "feed handler threw");
      return undefined;
    }
  }
}
