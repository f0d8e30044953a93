/**
 * Which instruments the Market Data Feed V3 carries, and in which mode: pure planning, no I/O.
 *
 * Upstox limits one connection per mode category, and lower when categories are mixed
 * (LTPC 5000 alone / 2000 mixed, Full 2000 alone / 1500 mixed). A plan therefore never
 * mixes: up to `full` keys all go full (the feed's own one-minute bars and volume), beyond
 * that all go LTPC up to `ltpc`, and whatever is left stays on REST polling.
 */

export type FeedMode = "ltpc" | "full";

export interface SubscriptionLimits {
  ltpc: number;
  full: number;
}

export const FEED_LIMITS: SubscriptionLimits = { ltpc: 5000, full: 2000 };

export interface SubscriptionPlan {
  full: string[];
  ltpc: string[];
  /** Wanted beyond the limits, in wanted order: these stay on REST polling. */
  overLimit: string[];
}

/** One request to send on the socket (a `sub` or `unsub` with its keys). */
export interface FeedRequest {
  method: "sub" | "unsub";
  mode: FeedMode;
  instrumentKeys: string[];
}

/** Upstox documents no cap on keys per request; batches keep each frame a sane size. */
export const KEYS_PER_REQUEST = 1000;

/** Earlier keys win when the wanted set is over a limit; duplicates count once. */
export function planSubscription(wanted: readonly string[], limits: SubscriptionLimits = FEED_LIMITS): SubscriptionPlan {
  const keys = [...new Set(wanted)];
  if (keys.length <= limits.full) return { full: keys, ltpc: [], overLimit: [] };
  return { full: [], ltpc: keys.slice(0, limits.ltpc), overLimit: keys.slice(limits.ltpc) };
}

/** The mode each planned key should be subscribed in. */
export function plannedModes(plan: SubscriptionPlan): Map<string, FeedMode> {
  const modes = new Map<string, FeedMode>();
  for (const k of plan.full) modes.set(k, "full");
  for (const k of plan.ltpc) modes.set(k, "ltpc");
  return modes;
}

/**
 * The requests that take a connection from `current` to `plan`: unsubscribes first, so the
 * connection never holds more than the larger of the two sets. When the plan's mode differs
 * from the connection's, every key is unsubscribed and subscribed again in the new mode
 * rather than sent a `change_mode`: changed one by one, a set of 2000 would pass through
 * mixed states over the mixed limits (Full 1500 beside LTPC), and Upstox would refuse them.
 * A `sub` is answered with a snapshot, so the keys kept lose nothing.
 */
export function diffSubscription(current: ReadonlyMap<string, FeedMode>, plan: SubscriptionPlan, batchSize = KEYS_PER_REQUEST): FeedRequest[] {
  const target = plannedModes(plan);
  const unsub: Record<FeedMode, string[]> = { ltpc: [], full: [] };
  const sub: Record<FeedMode, string[]> = { ltpc: [], full: [] };
  const switching = [...current].some(([key, mode]) => {
    const wanted = target.get(key);
    return wanted !== undefined && wanted !== mode;
  });
  for (const [key, mode] of current) if (switching || !target.has(key)) unsub[mode].push(key);
  for (const [key, mode] of target) if (switching || current.get(key) === undefined) sub[mode].push(key);
  const out: FeedRequest[] = [];
  const emit = (method: FeedRequest["method"], byMode: Record<FeedMode, string[]>) => {
    for (const mode of ["ltpc", "full"] as const) {
      const keys = byMode[mode];
      for (let i = 0; i < keys.length; i += batchSize) out.push({ method, mode, instrumentKeys: keys.slice(i, i + batchSize) });
    }
  };
  emit("unsub", unsub);
  emit("sub", sub);
  return out;
}

/** `current` after `requests` went out on the connection. */
export function applyRequests(current: Map<string, FeedMode>, requests: readonly FeedRequest[]): void {
  for (const r of requests) {
    for (const key of r.instrumentKeys) {
      if (r.method === "unsub") current.delete(key);
      else current.set(key, r.mode);
    }
  }
}
