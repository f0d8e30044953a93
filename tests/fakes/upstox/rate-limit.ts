/**
 * Sliding-window request log per (token, category), driven by the fake's `now()` so tests
 * with a frozen clock are deterministic. Limits from REFERENCE.md §11 (2026 docs).
 */

export type LimitCategory = "standard" | "order";

export interface LimitWindow {
  ms: number;
  max: number;
}

export const LIMITS: Record<LimitCategory, readonly LimitWindow[]> = {
  standard: [
    { ms: 1_000, max: 50 },
    { ms: 60_000, max: 500 },
    { ms: 1_800_000, max: 2000 },
  ],
  // place + modify + cancel combined (unregistered algo)
  order: [
    { ms: 1_000, max: 10 },
    { ms: 60_000, max: 500 },
    { ms: 1_800_000, max: 2000 },
  ],
};

export type Acquire = { ok: true } | { ok: false; retryAfterMs: number; window: LimitWindow };

export class SlidingWindowLimiter {
  private readonly logs = new Map<string, number[]>();

  acquire(key: string, category: LimitCategory, now: number): Acquire {
    const windows = LIMITS[category];
    const longest = Math.max(...windows.map((w) => w.ms));
    const logKey = `${category}\u0000${key}`;
    let log = this.logs.get(logKey) ?? [];
    // Drop entries that fell out of every window (tolerates a clock that moves backwards).
    if (log.length && (log[0]! <= now - longest || log[log.length - 1]! > now)) log = log.filter((t) => t > now - longest && t <= now);
    let worst: Acquire = { ok: true };
    for (const w of windows) {
      const inWindow = log.filter((t) => t > now - w.ms);
      if (inWindow.length >= w.max) {
        // The slot frees when the entry that keeps the count at the max leaves the window.
        const sorted = inWindow.sort((a, b) => a - b);
        const freeing = sorted[inWindow.length - w.max]!;
        const retryAfterMs = Math.max(1, freeing + w.ms - now);
        if (worst.ok || retryAfterMs > worst.retryAfterMs) worst = { ok: false, retryAfterMs, window: w };
      }
    }
    if (worst.ok) log.push(now);
    this.logs.set(logKey, log);
    return worst;
  }

  reset(): void {
    this.logs.clear();
  }
}
