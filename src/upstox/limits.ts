import type { Window } from "../redis/rate-limit.js";

/** Upstox's documented limits, per user and per category (shared/upstox/REFERENCE.md §11). */
export type LimitCategory = "standard" | "order";

export const UPSTOX_LIMITS: Record<LimitCategory, readonly Window[]> = {
  standard: [
    { ms: 1_000, limit: 50 },
    { ms: 60_000, limit: 500 },
    { ms: 1_800_000, limit: 2000 },
  ],
  order: [
    { ms: 1_000, limit: 10 },
    { ms: 60_000, limit: 500 },
    { ms: 1_800_000, limit: 2000 },
  ],
};
