import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { abortableSleep } from "../lifecycle/abort.js";

/**
 * Rate limits shared by every process through Redis, in two forms:
 * - windowed (`acquire`): a sliding log per window, checked and recorded atomically. Used for
 *   Upstox's per-user limits, with the priorities below.
 * - paced (`reservePaced`): evenly spaced slots, each reserved in one call, for Telegram's
 *   sends (30 a second overall, one a second into a chat). A sliding log lets a window's
 *   sends go in a burst and then has every waiter poll for the next free slot; the bursts
 *   reach Telegram bunched (each 429 costs a wasted slot and a second's wait) and the polls
 *   cost Redis round trips. Paced slots reach it as spaced as they were handed out.
 *
 * Two priorities share each window. `live` work (quote polls, a trader's own request) may use
 * the whole limit. `background` work (history warm-up) uses only what live work leaves, in
 * every window that has a `background` count:
 * - it never holds more than that count of the window's calls, so live work always keeps the
 *   rest (the share), however much background work is queued;
 * - it leaves room for live work's pace over the whole window, plus a headroom for bursts: a
 *   background call taken now stays in a half-hour window for half an hour, during which
 *   polls keep coming. Live work's pace is measured over a window of at least a minute
 *   (`livePaceFromMs`) and projected onto each longer one, so background work cannot fill a
 *   fresh half hour that polls will need before it ends, and still gets what polls leave
 *   once the half hour is full of them.
 * A pause (after a 429) stops every priority of that subject and category, in every process,
 * until it runs out.
 */

export interface Window {
  ms: number;
  limit: number;
  /** The most calls background work may hold in this window (default: no background share, the whole limit). */
  background?: number;
}

export type Priority = "live" | "background";

// KEYS: per window the set of all its calls and the set of its background calls, then the
// pause key. ARGV: member, 'b' (background) or 'l' (live), then per window: ms (with the
// safety margin), limit, background share (-1: none), live headroom, and the 1-based index
// of the window live work's pace is read from (0: its own count). Returns 0 when a slot was
// taken, else the ms until one may be free. Uses the Redis clock so processes on different
// machines agree.
const ACQUIRE = `
local paused = redis.call('PTTL', KEYS[#KEYS])
if paused > 0 then return paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = (#KEYS - 1) / 2
local bg = ARGV[2] == 'b'
local win, lim, share, head, pace, all, mine = {}, {}, {}, {}, {}, {}, {}
for i = 1, n do
  local o = 2 + (i - 1) * 5
  win[i] = tonumber(ARGV[o + 1])
  lim[i] = tonumber(ARGV[o + 2])
  share[i] = tonumber(ARGV[o + 3])
  head[i] = tonumber(ARGV[o + 4])
  pace[i] = tonumber(ARGV[o + 5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2 * i - 1], '-inf', now - win[i])
  all[i] = redis.call('ZCARD', KEYS[2 * i - 1])
  mine[i] = 0
  if share[i] >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2 * i], '-inf', now - win[i])
    mine[i] = redis.call('ZCARD', KEYS[2 * i])
  end
end
-- ms until the entry at a 0-based index (oldest first) of a set leaves its window
local function leaves(key, index, w)
  local e = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
  if not e[2] then return w end
  return tonumber(e[2]) + w - now + 1
end
local wait = 0
for i = 1, n do
  if all[i] >= lim[i] then
    -- A slot frees when the entry that keeps the count at the limit leaves the window.
    wait = math.max(wait, leaves(KEYS[2 * i - 1], all[i] - lim[i], win[i]))
  end
  if bg and share[i] >= 0 then
    if mine[i] >= share[i] then wait = math.max(wait, leaves(KEYS[2 * i], mine[i] - share[i], win[i])) end
    local live = all[i] - mine[i]
    local p = pace[i]
    if p > 0 then live = math.max(live, math.ceil((all[p] - mine[p]) * win[i] / win[p])) end
    local room = lim[i] - head[i] - live
    if mine[i] >= room then
      if room > 0 then
        wait = math.max(wait, leaves(KEYS[2 * i], mine[i] - room, win[i]))
      else
        -- Live work's pace alone needs the window: look again when that pace is measured anew.
        local src = p > 0 and p or i
        wait = math.max(wait, leaves(KEYS[2 * src - 1], 0, win[src]))
      end
    end
  end
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2 * i - 1], win[i])
  if bg and share[i] >= 0 then
    redis.call('ZADD', KEYS[2 * i], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[2 * i], win[i])
  end
end
return 0
`;

// KEYS: the pause key, the strike counter. ARGV: pause ms (0: back off from the strikes),
// base ms, max ms, jitter fraction 0..1 (drawn by the caller). Returns the pause in force.
// A longer pause already in force is kept; strikes expire a minute after the last 429.
const PAUSE = `
local left = redis.call('PTTL', KEYS[1])
local ms = tonumber(ARGV[1])
if ms <= 0 then
  -- 429s answered together (parallel batches, other processes) are one strike: while a
  -- pause is in force, a 429 without Retry-After keeps it as it is.
  if left > 0 then return left end
  local strikes = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], 60000)
  ms = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * (2 ^ (strikes - 1)))
  ms = math.floor(ms * (0.5 + tonumber(ARGV[4]) / 2))
  if ms < 1 then ms = 1 end
end
if left >= ms then return left end
redis.call('SET', KEYS[1], '1', 'PX', ms)
return ms
`;

// Evenly spaced slots (a virtual schedule per key, as in GCRA). KEYS: per claim its schedule
// key (the time its next slot is free) and its pause key. ARGV: per claim the spacing in ms and
// the most it may wait (-1: any). The slot is the earliest time every claim is free (and
// unpaused); it is taken for all of them at once, and each schedule moves one spacing past
// it. When a claim with a most-wait would wait longer, nothing is taken. Returns { 1, ms until
// the slot, the slot's time on the Redis clock } or { 0, ms until that claim is free }. Uses
// the Redis clock, like ACQUIRE.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 2
local at = now
local free = {}
for i = 1, n do
  local f = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local paused = redis.call('PTTL', KEYS[2 * i])
  if paused > 0 then f = math.max(f, now + paused) end
  free[i] = f
  if f > at then at = f end
end
for i = 1, n do
  local most = tonumber(ARGV[2 * i])
  if most >= 0 and free[i] - now > most then return { 0, math.ceil(free[i] - now) } end
end
for i = 1, n do
  local nextFree = at + tonumber(ARGV[2 * i - 1])
  redis.call('SET', KEYS[2 * i - 1], string.format('%.3f', nextFree), 'PX', math.ceil(nextFree - now) + 1000)
end
return { 1, math.ceil(at - now), string.format('%.3f', at) }
`;

/** One limit a paced slot must respect: this subject's limit in this category. */
export interface PacedClaim<C extends string> {
  subject: string;
  category: C;
  /** Take nothing (and say when this claim is free) rather than wait longer than this for it. */
  maxWaitMs?: number;
}

/**
 * A paced slot taken (`inMs` from now: wait that long, then go; `at` is its time on the Redis
 * clock, the same for every process), or not, and when the refusing claim is free.
 */
export type PacedSlot = { taken: true; inMs: number; at: number } | { taken: false; freeInMs: number };

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
  /**
   * Windows at least this long (default 60 s) measure live work's pace; each longer window
   * with a background share keeps room for that pace over its whole length. Shorter windows
   * are too bursty to project (a poll's calls go out together).
   */
  livePaceFromMs?: number;
  /** Part of each limit background work leaves free for bursts of live work, over its pace (default 0.1). */
  liveHeadroom?: number;
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
  uabRateReserve(n: number, ...a: (string | number)[]): Promise<[number, number, string?]>;
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
    opts.redis.defineCommand("uabRateReserve", { lua: RESERVE });
    this.redis = opts.redis as LimiterRedis;
  }

  private key(subject: string, category: C, what: string | number): string {
    return `${this.opts.prefix}:ratelimit:${category}:${subject}:${what}`;
  }

  private margin(ms: number): number {
    return Math.max(this.opts.minSafetyMs ?? 50, Math.round(ms * (this.opts.safetyFraction ?? 0.05)));
  }

  /**
   * Paced slots: instead of letting a window's calls go in a burst and then polling for the
   * next free one, each call gets its own time, `(window + margin) / limit` after the previous
   * one, from the category's shortest window. One Redis call reserves a slot that respects
   * every claim at once (e.g. Telegram's 30/s overall and 1/s into one chat), so a send takes
   * its chat's slot and a global slot at the same moment, the moment it goes. Callers queue
   * in the order they asked, with no herd of retries; a pause (after a 429) holds them all.
   *
   * Only the pacing keys are used: a category is either paced or windowed (`acquire`), not
   * both. The caller must wait `inMs` before going; if it gives up instead, the slot is lost
   * (the schedule stays correct, just one slot sparser).
   */
  async reservePaced(claims: readonly PacedClaim<C>[]): Promise<PacedSlot> {
    const keys: string[] = [];
    const args: number[] = [];
    for (const c of claims) {
      const w = [...this.limits[c.category]].sort((x, y) => x.ms - y.ms)[0];
      if (!w) throw new Error(`no window for ${c.category}`);
      keys.push(this.key(c.subject, c.category, "paced"), this.key(c.subject, c.category, "pause"));
      args.push((w.ms + this.margin(w.ms)) / w.limit, c.maxWaitMs === undefined ? -1 : Math.max(0, c.maxWaitMs));
    }
    const [taken, ms, at] = await this.redis.uabRateReserve(keys.length, ...keys, ...args);
    return taken === 1 ? { taken: true, inMs: Number(ms), at: Number(at) } : { taken: false, freeInMs: Number(ms) };
  }

  /** Tries once: 0 if a slot was taken, else how long to wait before trying again. */
  async tryAcquire(subject: string, category: C, priority: Priority = "live"): Promise<number> {
    const windows = [...this.limits[category]].sort((x, y) => x.ms - y.ms);
    const keys = [
      ...windows.flatMap((w) => [this.key(subject, category, w.ms), this.key(subject, category, `${w.ms}:bg`)]),
      this.key(subject, category, "pause"),
    ];
    const margin = (ms: number) => this.margin(ms);
    const paceFrom = this.opts.livePaceFromMs ?? 60_000;
    const headroom = this.opts.liveHeadroom ?? 0.1;
    const args: (string | number)[] = [randomUUID(), priority === "background" ? "b" : "l"];
    windows.forEach((w, i) => {
      // The longest shorter window that is long enough to measure a pace (1-based for Lua).
      let pace = 0;
      for (let j = 0; j < i; j++) if (windows[j]!.ms >= paceFrom) pace = j + 1;
      const share = w.background === undefined ? -1 : Math.max(1, Math.min(w.limit, w.background));
      args.push(w.ms + margin(w.ms), w.limit, share, Math.max(1, Math.round(w.limit * headroom)), pace);
    });
    return Number(await this.redis.uabRateAcquire(keys.length, ...keys, ...args));
  }

  /** Waits for a slot. Gives up (throws) only if the wait would exceed `maxWaitMs` (default 60 s). */
  async acquire(subject: string, category: C, opts: AcquireOptions = {}): Promise<void> {
    const priority = opts.priority ?? "live";
    const maxWaitMs = opts.maxWaitMs ?? 60_000;
    let waited = 0;
    for (;;) {
      const wait = await this.tryAcquire(subject, category, priority);
      if (wait === 0) return;
      // A free slot is granted even while stopping (running work may finish); a wait is not.
      opts.signal?.throwIfAborted();
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
  async pause(
    subject: string,
    category: C,
    ms: number | undefined,
    backoff: { baseMs: number; maxMs: number } = { baseMs: 1000, maxMs: 60_000 },
  ): Promise<number> {
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
  constructor(
    readonly category: string,
    readonly waitMs: number,
  ) {
    super(`${category} rate limit: next slot in ${Math.ceil(waitMs / 1000)} s`);
  }
}
