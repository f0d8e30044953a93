import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * Rate limits shared by every process through Redis: a sliding log per window, checked and
 * recorded atomically. Used for Upstox's per-user limits and Telegram's send limits.
 */

export interface Window {
  ms: number;
  limit: number;
}

// KEYS: one sorted set per window. ARGV: member, then (window ms, limit) pairs; the window
// passed in already includes the safety margin.
// Returns 0 when a slot was taken, else the ms until one frees up. Uses the Redis clock so
// processes on different machines agree.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local win = tonumber(ARGV[i * 2])
  local limit = tonumber(ARGV[i * 2 + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + win - now + 1
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[i * 2]))
end
return 0
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
  onWait?: (category: C, ms: number) => void;
}

/** Shared sliding-window limits per (subject, category). */
export class RateLimiter<C extends string> {
  private readonly limits: Record<C, readonly Window[]>;

  constructor(private readonly opts: RateLimiterOptions<C>) {
    this.limits = opts.limits;
    opts.redis.defineCommand("uabRateAcquire", { lua: ACQUIRE });
  }

  /** Tries once: 0 if a slot was taken, else how long to wait before trying again. */
  async tryAcquire(subject: string, category: C): Promise<number> {
    const windows = this.limits[category];
    const keys = windows.map((w) => `${this.opts.prefix}:ratelimit:${category}:${subject}:${w.ms}`);
    const margin = (ms: number) => Math.max(this.opts.minSafetyMs ?? 50, Math.round(ms * (this.opts.safetyFraction ?? 0.05)));
    const args = [randomUUID(), ...windows.flatMap((w) => [w.ms + margin(w.ms), w.limit])];
    const redis = this.opts.redis as Redis & { uabRateAcquire(n: number, ...a: (string | number)[]): Promise<number> };
    return Number(await redis.uabRateAcquire(keys.length, ...keys, ...args));
  }

  /** Waits for a slot. Gives up (throws) only if the wait would exceed `maxWaitMs`. */
  async acquire(subject: string, category: C, maxWaitMs = 60_000): Promise<void> {
    let waited = 0;
    for (;;) {
      const wait = await this.tryAcquire(subject, category);
      if (wait === 0) return;
      if (waited + wait > maxWaitMs) throw new RateLimitWaitTooLongError(category, wait);
      this.opts.onWait?.(category, wait);
      await new Promise((r) => setTimeout(r, wait));
      waited += wait;
    }
  }
}

export class RateLimitWaitTooLongError extends Error {
  override name = "RateLimitWaitTooLongError";
  constructor(readonly category: string, readonly waitMs: number) {
    super(`${category} rate limit: next slot in ${Math.ceil(waitMs / 1000)} s`);
  }
}
