import type { Tick } from "./types.js";

export interface TickCoalescerOptions {
  /** The shortest time between two flushes of the same instrument. */
  windowMs: number;
  /** Receives the latest tick of each instrument due, in the order they first arrived. */
  flush(ticks: ReadonlyMap<string, Tick>): void;
  /** A monotonic clock, ms. */
  now?: () => number;
  /** What flush threw; the coalescer carries on either way. */
  onError?(err: unknown): void;
}

/**
 * Thins a feed's ticks so each instrument is evaluated at most about once per window, always
 * ending on its latest price.
 *
 * An instrument not flushed within the last window goes into the next flush at once (the
 * leading edge), run by setImmediate, so every tick of one frame, and of the frames decoded
 * in the same turn, is evaluated together. An instrument flushed less than a window ago has
 * its latest tick held until a window after that flush (the trailing edge). A burst of any
 * number of ticks of one instrument within a window thus costs at most two evaluations, and
 * a busy instrument is evaluated once a window.
 *
 * A tick replaces the one waiting for its instrument only if its trade is not older, and a
 * trade older than the one last flushed is dropped: a stale snapshot never follows a newer price.
 */
export class TickCoalescer {
  private readonly windowMs: number;
  private readonly flushTicks: (ticks: ReadonlyMap<string, Tick>) => void;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;

  /** Ticks for the flush at the next setImmediate. */
  private readonly ready = new Map<string, Tick>();
  /** Ticks waiting out their instrument's window. */
  private readonly held = new Map<string, Tick>();
  /** The held instruments by the time they are due (a flush time plus the window). */
  private readonly dueAt = new Map<number, string[]>();
  /** Each instrument's last flush: when, and the trade it carried. */
  private readonly flushed = new Map<string, { at: number; tradeAt: number }>();
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private closed = false;

  constructor(opts: TickCoalescerOptions) {
    if (!(opts.windowMs >= 0)) throw new Error(`TickCoalescer windowMs must be 0 or more (got ${opts.windowMs})`);
    this.windowMs = opts.windowMs;
    this.flushTicks = (ticks) => opts.flush(ticks);
    this.now = opts.now ?? (() => performance.now());
    this.onError = (err) => opts.onError?.(err);
  }

  push(ticks: readonly Tick[]): void {
    if (this.closed || ticks.length === 0) return;
    const now = this.now();
    for (const tick of ticks) {
      const key = tick.instrumentKey;
      const waiting = this.ready.has(key) ? this.ready : this.held.has(key) ? this.held : undefined;
      if (waiting) {
        if (tick.lastTradeAt >= waiting.get(key)!.lastTradeAt) waiting.set(key, tick);
        continue;
      }
      const last = this.flushed.get(key);
      if (last && tick.lastTradeAt < last.tradeAt) continue;
      if (!last || now - last.at >= this.windowMs) {
        this.ready.set(key, tick);
      } else {
        this.held.set(key, tick);
        this.holdUntil(last.at + this.windowMs, key);
      }
    }
    if (this.ready.size > 0) this.immediate ??= setImmediate(() => this.flushReady());
  }

  /** Instruments with a tick waiting to be flushed. */
  get pending(): number {
    return this.ready.size + this.held.size;
  }

  /** Drops what is remembered about instruments not in `keep` (their last flush), and their waiting ticks. */
  forget(keep: ReadonlySet<string>): void {
    for (const key of this.flushed.keys()) if (!keep.has(key)) this.flushed.delete(key);
    for (const key of this.ready.keys()) if (!keep.has(key)) this.ready.delete(key);
    // Their entries in dueAt stay until due and then find nothing held.
    for (const key of this.held.keys()) if (!keep.has(key)) this.held.delete(key);
  }

  /** Drops the timers and the waiting ticks: the REST poll or the next tick covers them. */
  close(): void {
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    clearTimeout(this.timer);
    this.immediate = this.timer = undefined;
    this.ready.clear();
    this.held.clear();
    this.dueAt.clear();
    this.flushed.clear();
  }

  private holdUntil(due: number, key: string): void {
    const keys = this.dueAt.get(due);
    if (keys) keys.push(key);
    else this.dueAt.set(due, [key]);
    if (due < this.timerDue) this.armTimer(due);
  }

  private armTimer(due: number): void {
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => this.flushHeld(), Math.max(0, due - this.now()));
  }

  private flushReady(): void {
    this.immediate = undefined;
    if (this.ready.size === 0) return;
    const out = new Map(this.ready);
    this.ready.clear();
    this.deliver(out);
  }

  private flushHeld(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = this.now();
    const out = new Map<string, Tick>();
    let next = Infinity;
    for (const [due, keys] of this.dueAt) {
      // A timer may fire a fraction early on this clock: what is not due yet waits for the next one.
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      this.dueAt.delete(due);
      for (const key of keys) {
        const tick = this.held.get(key);
        if (!tick) continue;
        this.held.delete(key);
        out.set(key, tick);
      }
    }
    if (next < Infinity) this.armTimer(next);
    if (out.size > 0) this.deliver(out);
  }

  private deliver(ticks: Map<string, Tick>): void {
    const at = this.now();
    for (const [key, tick] of ticks) this.flushed.set(key, { at, tradeAt: tick.lastTradeAt });
    try {
      this.flushTicks(ticks);
    } catch (err) {
      this.onError(err);
    }
  }
}
