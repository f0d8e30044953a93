import { Pool, errors as undiciErrors, type Dispatcher } from "undici";
import type { Logger } from "../log/logger.js";
import {
  UpstoxError,
  UpstoxNetworkError,
  UpstoxRateLimitError,
  UpstoxRequestError,
  UpstoxResponseError,
  UpstoxTokenError,
  UpstoxUnavailableError,
} from "./errors.js";
import type { Priority, RateLimiter } from "../redis/rate-limit.js";
import { abortableSleep, CallCutOffError, callSignal } from "../lifecycle/abort.js";
import type { LimitCategory } from "./limits.js";

/**
 * The wire under the Upstox client: keep-alive pools per host, explicit timeouts, our own
 * rate limiter before every call, the Upstox envelope unwrapped, errors mapped to types,
 * and retries only where a retry cannot do harm (reads).
 */

export type Host = "api" | "hft" | "assets";

export interface TransportOptions {
  apiBase: string;
  hftBase: string;
  assetsBase: string;
  limiter: RateLimiter<LimitCategory> | undefined;
  log: Logger;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Deadline for one whole attempt (connect, headers and body), enforced precisely by an abort signal. */
  timeoutMs?: number;
  /** Retries of a read after 5xx, 429 or a network error. */
  readRetries?: number;
  /** Base of the exponential backoff between retries. */
  backoffMs?: number;
  /** Called once per 401 with the user whose token was refused, and Upstox's words for why. */
  onTokenRejected?: (userId: number, refusal: { message: string; code: string }) => void;
  /**
   * The app's shutdown: `stopping` ends every wait (rate-limit slot, retry backoff) at once,
   * `cutOff` aborts calls still on the wire when the drain's time is up.
   */
  signals?: { stopping: AbortSignal; cutOff: AbortSignal };
  onResponse?: (info: { host: Host; status: number; ms: number; path: string }) => void;
  onThrottled?: (info: { host: Host; retryAfterMs: number | undefined; pausedMs: number }) => void;
}

export interface CallOptions {
  host?: Host;
  method?: "GET" | "POST" | "PUT" | "DELETE";
  /** Path with the query already encoded (see `path`). */
  path: string;
  /** Whose token, for auth, rate limits and expiry. Absent for public calls. */
  session?: { userId: number; accessToken: string };
  category?: LimitCategory;
  /** Live calls (quotes, a trader's request) may use the whole budget; background ones (history) only what is left. */
  priority?: Priority;
  json?: unknown;
  form?: Record<string, string>;
  /** Whether the call may be repeated after an unclear failure. Order writes must not be. */
  idempotent?: boolean;
  /** Return the raw body bytes instead of parsing the Upstox envelope. */
  raw?: boolean;
  /** Return the parsed JSON as is (the token exchange has no envelope). */
  bare?: boolean;
  headers?: Record<string, string>;
}

/** Builds `/v2/x?instrument_key=NSE_EQ%7CINE…` with every value encoded ('|', spaces, commas). */
export function path(base: string, query?: Record<string, string | number | boolean | undefined>): string {
  if (!query) return base;
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `${base}?${parts.join("&")}` : base;
}

/** One path segment, encoded: `NSE_INDEX|Nifty 50` -> `NSE_INDEX%7CNifty%2050`. */
export const seg = (s: string) => encodeURIComponent(s);

interface ErrorItem {
  error_code?: string;
  errorCode?: string;
  message?: string;
}

export class UpstoxTransport {
  private readonly pools: Record<Host, Pool>;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(private readonly opts: TransportOptions) {
    const poolOpts: Pool.Options = {
      connections: 16,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: opts.connectTimeoutMs ?? 5_000 },
      headersTimeout: opts.headersTimeoutMs ?? 10_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 30_000,
    };
    this.pools = {
      api: new Pool(new URL(opts.apiBase).origin, poolOpts),
      hft: new Pool(new URL(opts.hftBase).origin, poolOpts),
      // The instruments master is a large gzip on a CDN: allow it longer to stream.
      assets: new Pool(new URL(opts.assetsBase).origin, { ...poolOpts, bodyTimeout: 120_000, connections: 2 }),
    };
    this.retries = opts.readRetries ?? 3;
    this.backoffMs = opts.backoffMs ?? 500;
  }

  private basePath(host: Host): string {
    const base = host === "api" ? this.opts.apiBase : host === "hft" ? this.opts.hftBase : this.opts.assetsBase;
    return new URL(base).pathname.replace(/\/+$/, "");
  }

  async call<T>(c: CallOptions): Promise<T> {
    const method = c.method ?? "GET";
    const idempotent = c.idempotent ?? method === "GET";
    let attempt = 0;
    for (;;) {
      try {
        return await this.once<T>(c, method);
      } catch (err) {
        const retryable =
          idempotent &&
          attempt < this.retries &&
          (err instanceof UpstoxUnavailableError || err instanceof UpstoxNetworkError || err instanceof UpstoxRateLimitError);
        if (!retryable) throw err;
        attempt++;
        const backoff = this.backoffMs * 2 ** (attempt - 1);
        // After a 429 the shared pause already holds every caller back: the next slot waits it out.
        const sharedPause = Boolean(c.session && c.category && this.opts.limiter);
        const wait = err instanceof UpstoxRateLimitError ? (sharedPause ? 0 : Math.max(err.retryAfterMs, backoff)) : backoff;
        this.opts.log.debug({ path: c.path.split("?")[0], attempt, wait, err: (err as Error).message }, "retrying Upstox read");
        if (wait) await abortableSleep(wait, this.opts.signals?.stopping);
      }
    }
  }

  private async once<T>(c: CallOptions, method: string): Promise<T> {
    const host = c.host ?? "api";
    const limited =
      c.session && c.category && this.opts.limiter ? { limiter: this.opts.limiter, subject: String(c.session.userId), category: c.category } : undefined;
    if (limited) {
      const priority = c.priority ?? "live";
      // A live call that would wait over a minute fails (the next poll comes sooner); background
      // work (history) waits as long as the budget live work leaves requires, up to the half
      // hour window, and only the shutdown ends that wait.
      const maxWaitMs = priority === "background" ? Number.POSITIVE_INFINITY : undefined;
      await limited.limiter.acquire(limited.subject, limited.category, { priority, maxWaitMs, signal: this.opts.signals?.stopping });
    }
    const headers: Record<string, string> = { accept: c.raw ? "*/*" : "application/json", ...c.headers };
    if (c.session) headers.authorization = `Bearer ${c.session.accessToken}`;
    let body: string | undefined;
    if (c.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(c.json);
    } else if (c.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(c.form).toString();
    }
    const started = performance.now();
    const cutOff = this.opts.signals?.cutOff;
    const call = callSignal(this.opts.timeoutMs ?? (host === "assets" ? 120_000 : 15_000), cutOff);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pools[host].request({
        method: method,
        path: this.basePath(host) + c.path,
        headers,
        body,
        signal: call.signal,
      });
    } catch (err) {
      call.done();
      if (cutOff?.aborted) throw new CallCutOffError();
      const timeout =
        err instanceof undiciErrors.HeadersTimeoutError ||
        err instanceof undiciErrors.BodyTimeoutError ||
        err instanceof undiciErrors.ConnectTimeoutError ||
        (err as Error).name === "TimeoutError";
      throw new UpstoxNetworkError(
        timeout ? `Upstox did not answer in time (${(err as Error).name})` : `Could not reach Upstox: ${(err as Error).message}`,
        err,
      );
    }
    const requestId = headerOf(res.headers, "requestid") ?? headerOf(res.headers, "x-request-id");
    let buf: Buffer;
    try {
      buf = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      if (cutOff?.aborted) throw new CallCutOffError();
      if ((err as Error).name === "TimeoutError") throw new UpstoxNetworkError("Upstox did not finish answering in time", err);
      throw new UpstoxNetworkError(`Upstox's answer was cut off: ${(err as Error).message}`, err);
    } finally {
      call.done();
    }
    const status = res.statusCode;
    this.opts.onResponse?.({ host, status, ms: performance.now() - started, path: c.path.split("?")[0]! });

    if (status >= 200 && status < 300) {
      if (c.raw) return buf as T;
      const parsed = parseJson(buf, status, requestId);
      if (c.bare) return parsed as T;
      // The order-book doc sample is a bare array while the SDK says wrapped: accept both.
      if (Array.isArray(parsed)) return parsed as T;
      const env = parsed as { status?: string; data?: unknown };
      if (env.status !== "success" || !("data" in env))
        throw new UpstoxResponseError("Upstox answered without the success envelope", status, undefined, requestId);
      return env.data as T;
    }

    const first = firstError(buf);
    const code = first?.error_code ?? first?.errorCode;
    const message = first?.message ?? `HTTP ${status}`;
    if (status === 401 || code === "UDAPI100050") {
      if (c.session) this.opts.onTokenRejected?.(c.session.userId, { message, code: code ?? "UDAPI100050" });
      throw new UpstoxTokenError(message, status, code ?? "UDAPI100050", requestId);
    }
    if (status === 429 || code === "UDAPI10005") {
      // The whole category of this token waits, in every process: Retry-After when given,
      // else a growing backoff with jitter. Never hammered.
      const retryAfterMs = retryAfter(headerOf(res.headers, "retry-after"));
      const pausedMs = limited ? await limited.limiter.pause(limited.subject, limited.category, retryAfterMs) : (retryAfterMs ?? this.backoffMs);
      this.opts.onThrottled?.({ host, retryAfterMs, pausedMs });
      throw new UpstoxRateLimitError(message, pausedMs, code, requestId);
    }
    if (status >= 500 || status === 423) throw new UpstoxUnavailableError(message, status, code, requestId);
    throw new UpstoxRequestError(message, status, code, requestId);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((p) => p.close()));
  }

  /** Drops every connection now, requests in flight included. */
  async destroy(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((p) => p.destroy()));
  }
}

function headerOf(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function retryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(v);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function parseJson(buf: Buffer, status: number, requestId: string | undefined): unknown {
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch {
    throw new UpstoxResponseError(`Upstox answered with something that is not JSON (HTTP ${status})`, status, undefined, requestId);
  }
}

function firstError(buf: Buffer): ErrorItem | undefined {
  try {
    const body = JSON.parse(buf.toString("utf8")) as { errors?: ErrorItem[] };
    return Array.isArray(body.errors) ? body.errors[0] : undefined;
  } catch {
    return undefined;
  }
}

export { UpstoxError };
