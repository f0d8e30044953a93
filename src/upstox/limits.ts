import type { Window } from "../redis/rate-limit.js";

/**
 * Upstox's documented limits, per user and per category (shared/upstox/REFERENCE.md §11),
 * with the share background work (history warm-up) may hold: never more than that many of a
 * window's calls, so live quote polls always keep most of every window (60 % of the second,
 * 55 % of the minute and of the half hour) however much history is due; and never more than
 * what the polls' own pace leaves over the whole window (see RateLimiter), so a history burst
 * early in a half hour cannot leave later polls of a large watchlist without slots.
 */
export type LimitCategory = "standard" | "order";

export const UPSTOX_LIMITS: Record<LimitCategory, readonly Window[]> = {
  standard: [
    { ms: 1_000, limit: 50, background: 20 },
    { ms: 60_000, limit: 500, background: 225 },
    { ms: 1_800_000, limit: 2000, background: 900 },
  ],
  order: [
    { ms: 1_000, limit: 10 },
    { ms: 60_000, limit: 500 },
    { ms: 1_800_000, limit: 2000 },
  ],
};
