import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { abortableSleep } from "../lifecycle/abort.js";

/**
 * Rate limits shared by every process through Redis: a sliding log per window, checked and
 * recorded atomically. Used for Upstox's per-user limits and Telegram's send limits.
 *
 * Two priorities share each window. `live` work (quote polls, a trader's own request) may use
 * the whole limit; `background` work (history warm-up) only takes a slot while the window
 * holds fewer than its `background` count, so the rest stays reserved for live calls however
 * much background work is queued. A pause (after a 429) stops every priority of that subject
 * and category, in every process, until it runs out.
 */

export interface Window {
  ms: number;
  limit: number;
  /** The most calls background work may have in this window (default: the whole limit). */
  background?: number;
}

export type Priority = "live" | "background";

// KEYS: one sorted set per window, then the pause key. ARGV: member, then (window ms,
// limit) pairs; the window passed in already includes the safety margin and the limit is
// the one of the caller's priority. Returns 0 when a slot was taken, else the ms until one
// may be free. Uses the Redis clock so processes on different machines agree.
const ACQUIRE = `
local paused = redis.call('PTTL', KEYS[#KEYS])
if paused > 0 then return paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, #KEYS - 1 do
  local key = KEYS[i]
  local win = tonumber(ARGV[i * 2])
  local limit = tonumber(ARGV[i * 2 + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    -- A slot frees when the entry that keeps the count at the limit leaves the window.
    local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(freeing[2]) + win - now + 1
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS - 1 do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[i * 2]))
end
return 0
`;

// KEYS: the pause key, the strike counter. ARGV: pause ms (0: back off from the strikes),
// base ms, max ms, jitter fraction 0..1 (drawn by the caller). Returns the pause applied.
// A longer pause already in force is kept; strikes expire a minute after the last 429.
const PAUSE = `
local strikes = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 60000)
local ms = tonumber(ARGV[1])
if ms <= 0 then
  local base = tonumber(ARGV[2])
  local max = tonumber(ARGV[3])
  ms = math.min(max, base * (2 ^ (strikes - 1)))
  ms = math.floor(ms * (0.5 + tonumber(ARGV[4]) / 2))
  if ms < 1 then ms = 1 end
end
local left = redis.call('PTTL', KEYS[1])
if left >= ms then return left end
redis.call('SET', KEYS[1], '1', 'PX', ms)
return ms
`;

export interface RateLimiterOptions<C extends string> {
  redis: Redis;
  prefix: string;
  limits: Record<C, readonly Window[]>;
  /**
   * Extra length given to each window, as a fraction of it (min 50 ms): requests granted a
   * second apart here can arrive at Upstox a little closer together.
   */
  safetyFraction?: number;
  /** The smallest margin, in ms (default 50). */
  minSafetyMs?: number;
  /** Called with the wait each time a caller has to queue behind the limit (for metrics). */
  onWait?: (category: C, ms: number, priority: Priority) => void;
}

export interface AcquireOptions {
  priority?: Priority;
  /** Give up (throw RateLimitWaitTooLongError) rather than wait longer than this in all. */
  maxWaitMs?: number;
  /** Stops the wait at once (shutdown): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

type LimiterRedis = Redis & {
  uabRateAcquire(n: number, ...a: (string | number)[]): Promise<number>;
  uabRatePause(n: number, ...a: (string | number)[]): Promise<number>;
};

/** Shared sliding-window limits per (subject, category). */
export class RateLimiter<C extends string> {
  private readonly limits: Record<C, readonly Window[]>;
  private readonly redis: LimiterRedis;

  constructor(private readonly opts: RateLimiterOptions<C>) {
    this.limits = opts.limits;
    opts.redis.defineCommand("uabRateAcquire", { lua: ACQUIRE });
    opts.redis.defineCommand("uabRatePause", { lua: PAUSE });
    this.redis = opts.redis as LimiterRedis;
  }

  private key(subject: string, category: C, what: string | number): string {
    return `${this.opts.prefix}:ratelimit:${category}:${subject}:${what}`;
  }

  /** Tries once: 0 if a slot was taken, else how long to wait before trying again. */
  async tryAcquire(subject: string, category: C, priority: Priority = "live"): Promise<number> {
    const windows = this.limits[category];
    const keys = [...windows.map((w) => this.key(subject, category, w.ms)), this.key(subject, category, "pause")];
    const margin = (ms: number) => Math.max(this.opts.minSafetyMs ?? 50, Math.round(ms * (this.opts.safetyFraction ?? 0.05)));
    const limitOf = (w: Window) => (priority === "background" ? Math.max(1, w.background ?? w.limit) : w.limit);
    const args = [randomUUID(), ...windows.flatMap((w) => [w.ms + margin(w.ms), limitOf(w)])];
    return Number(await this.redis.uabRateAcquire(keys.length, ...keys, ...args));
  }

  /** Waits for a slot. Gives up (throws) only if the wait would exceed `maxWaitMs` (default 60 s). */
  async acquire(subject: string, category: C, opts: AcquireOptions = {}): Promise<void> {
    const priority = opts.priority ?? "live";
    const maxWaitMs = opts.maxWaitMs ?? 60_000;
    let waited = 0;
    for (;;) {
      opts.signal?.throwIfAborted();
      const wait = await this.tryAcquire(subject, category, priority);
      if (wait === 0) return;
      if (waited + wait > maxWaitMs) throw new RateLimitWaitTooLongError(category, wait);
      this.opts.onWait?.(category, wait, priority);
      await abortableSleep(wait, opts.signal);
      waited += wait;
    }
  }

  /**
   * Stops every caller of this subject and category, in every process: for `ms` when the far
   * end said how long (Retry-After), else for an exponential backoff with jitter that grows
   * with each 429 inside a minute (from `baseMs`, at most `maxMs`). Returns the pause in ms.
   */
  async pause(subject: string, category: C, ms: number | undefined, backoff: { baseMs: number; maxMs: number } = { baseMs: 1000, maxMs: 60_000 }): Promise<number> {
    const keys = [this.key(subject, category, "pause"), this.key(subject, category, "strikes")];
    return Number(await this.redis.uabRatePause(2, ...keys, Math.max(0, Math.round(ms ?? 0)), backoff.baseMs, backoff.maxMs, Math.random()));
  }

  /** How long this subject and category stay paused (0 when not paused). */
  async pausedFor(subject: string, category: C): Promise<number> {
    return Math.max(0, await this.opts.redis.pttl(this.key(subject, category, "pause")));
  }
}

export class RateLimitWaitTooLongError extends Error {
  override name = "RateLimitWaitTooLongError";
  constructor(readonly category: string, readonly waitMs: number) {
    super(`${category} rate limit: next slot in ${Math.ceil(waitMs / 1000)} s`);
  }
}
