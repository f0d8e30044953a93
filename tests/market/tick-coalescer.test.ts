import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TickCoalescer } from "../../src/market/tick-coalescer.js";
import type { Tick } from "../../src/market/types.js";

const A = "NSE_EQ|INE002A01018";
const B = "NSE_EQ|INE467B01029";
const C = "NSE_EQ|INE009A01021";
const T0 = Date.UTC(2025, 0, 6, 3, 45);

const tick = (instrumentKey: string, lastPrice: number, lastTradeAt = Date.now()): Tick => ({
  instrumentKey,
  lastPrice,
  lastTradeAt,
  lastQuantity: 1,
  prevClose: 100,
  receivedAt: 0,
});

/** A coalescer on the fake clock, recording each flush as [time since T0, [key, price][]]. */
function coalescer(windowMs: number, extra: { onError?: (err: unknown) => void; failFirst?: boolean } = {}) {
  const flushes: Array<{ at: number; ticks: Array<[string, number]> }> = [];
  let calls = 0;
  const c = new TickCoalescer({
    windowMs,
    now: () => Date.now(),
    onError: extra.onError,
    flush: (ticks) => {
      calls++;
      flushes.push({ at: Date.now() - T0, ticks: [...ticks].map(([k, t]) => [k, t.lastPrice]) });
      if (extra.failFirst && calls === 1) throw new Error("evaluation failed");
    },
  });
  const entries = (key: string) => flushes.flatMap((f) => f.ticks.filter(([k]) => k === key).map(([, p]) => ({ at: f.at, price: p })));
  return { c, flushes, entries };
}

describe("TickCoalescer", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("evaluates a burst of one instrument at most twice: at once, and with the last price a window later", () => {
    const { c, entries } = coalescer(100);
    for (let i = 0; i < 50; i++) {
      c.push([tick(A, 1000 + i)]);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(500);
    expect(entries(A)).toEqual([
      { at: 0, price: 1000 },
      { at: 100, price: 1049 },
    ]);
    expect(c.pending).toBe(0);
  });

  it("evaluates a busy instrument once a window, ending on its latest price", () => {
    const { c, entries } = coalescer(100);
    for (let i = 0; i < 1000; i++) {
      c.push([tick(A, 1000 + i)]);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(500);
    const seen = entries(A);
    expect(seen.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.at - seen[i - 1]!.at).toBeGreaterThanOrEqual(100);
    expect(seen.at(-1)!.price).toBe(1999);
    // Prices only ever move forward in feed order.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.price).toBeGreaterThan(seen[i - 1]!.price);
  });

  it("flushes every instrument of the frames decoded in one turn together, in arrival order", () => {
    const { c, flushes } = coalescer(100);
    c.push([tick(B, 3450), tick(A, 1400)]);
    c.push([tick(C, 1580), tick(B, 3451)]);
    expect(c.pending).toBe(3);
    expect(flushes).toEqual([]); // not inside push: after the turn
    vi.advanceTimersByTime(0);
    expect(flushes).toEqual([
      {
        at: 0,
        ticks: [
          [B, 3451],
          [A, 1400],
          [C, 1580],
        ],
      },
    ]);
    expect(c.pending).toBe(0);
  });

  it("does not make one instrument wait for another's window", () => {
    const { c, flushes } = coalescer(100);
    c.push([tick(A, 1400)]);
    vi.advanceTimersByTime(30);
    c.push([tick(A, 1401), tick(B, 3450)]);
    vi.advanceTimersByTime(0);
    expect(flushes).toEqual([
      { at: 0, ticks: [[A, 1400]] },
      { at: 30, ticks: [[B, 3450]] },
    ]);
    vi.advanceTimersByTime(100);
    expect(flushes[2]).toEqual({ at: 100, ticks: [[A, 1401]] });
    // A quiet instrument is flushed at once again after its window.
    vi.advanceTimersByTime(200);
    c.push([tick(A, 1402)]);
    vi.advanceTimersByTime(0);
    expect(flushes[3]).toEqual({ at: 330, ticks: [[A, 1402]] });
  });

  it("keeps the latest trade: a tick never replaces a newer one, and an older trade than the last flushed is dropped", () => {
    const { c, entries } = coalescer(100);
    c.push([tick(A, 1400, T0 + 10)]);
    vi.advanceTimersByTime(0);
    c.push([tick(A, 1405, T0 + 20), tick(A, 1390, T0 + 15)]); // the older print arrives second
    vi.advanceTimersByTime(100);
    c.push([tick(A, 1380, T0 + 12)]); // a stale snapshot after the flush of T0 + 20
    vi.advanceTimersByTime(300);
    // Same trade time: the later tick wins (a correction of the same print).
    c.push([tick(A, 1406, T0 + 20)]);
    vi.advanceTimersByTime(0);
    expect(entries(A).map((e) => e.price)).toEqual([1400, 1405, 1406]);
  });

  it("carries on after flush throws, reporting the error", () => {
    const errors: unknown[] = [];
    const { c, flushes } = coalescer(100, { failFirst: true, onError: (err) => errors.push(err) });
    c.push([tick(A, 1400)]);
    vi.advanceTimersByTime(0);
    c.push([tick(B, 3450)]);
    vi.advanceTimersByTime(0);
    expect(flushes.map((f) => f.ticks)).toEqual([[[A, 1400]], [[B, 3450]]]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("evaluation failed");
  });

  it("drops pending ticks and timers on close", () => {
    const { c, flushes } = coalescer(100);
    c.push([tick(A, 1400)]);
    vi.advanceTimersByTime(0);
    c.push([tick(A, 1401), tick(B, 3450)]);
    expect(c.pending).toBe(2);
    c.close();
    expect(c.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    c.push([tick(C, 1580)]);
    vi.advanceTimersByTime(1000);
    expect(flushes).toEqual([{ at: 0, ticks: [[A, 1400]] }]);
  });

  it("forgets instruments no longer subscribed", () => {
    const { c, entries } = coalescer(100);
    c.push([tick(A, 1400), tick(B, 3450)]);
    vi.advanceTimersByTime(0);
    c.push([tick(A, 1401), tick(B, 3451)]);
    c.forget(new Set([B]));
    expect(c.pending).toBe(1);
    vi.advanceTimersByTime(100);
    expect(entries(A).map((e) => e.price)).toEqual([1400]);
    expect(entries(B).map((e) => e.price)).toEqual([3450, 3451]);
    // Re-subscribed: nothing remembered, so its first tick goes at once.
    vi.advanceTimersByTime(10);
    c.push([tick(A, 1402)]);
    vi.advanceTimersByTime(0);
    expect(entries(A).at(-1)).toEqual({ at: 110, price: 1402 });
  });

  it("with a zero window, flushes every turn's latest ticks", () => {
    const { c, entries } = coalescer(0);
    c.push([tick(A, 1400), tick(A, 1401)]);
    vi.advanceTimersByTime(0);
    c.push([tick(A, 1402)]);
    vi.advanceTimersByTime(0);
    expect(entries(A).map((e) => e.price)).toEqual([1401, 1402]);
  });
});

describe("TickCoalescer on the real event loop", () => {
  it("flushes a turn's frames together after the turn, and the held last price after the window", async () => {
    const flushes: Array<Array<[string, number]>> = [];
    const c = new TickCoalescer({ windowMs: 30, flush: (ticks) => flushes.push([...ticks].map(([k, t]) => [k, t.lastPrice])) });
    c.push([tick(A, 1400, 1), tick(B, 3450, 1)]);
    c.push([tick(A, 1401, 2)]);
    await new Promise((r) => setImmediate(r));
    expect(flushes).toEqual([
      [
        [A, 1401],
        [B, 3450],
      ],
    ]);
    c.push([tick(A, 1402, 3)]);
    c.push([tick(A, 1403, 4)]);
    await new Promise((r) => setImmediate(r));
    expect(flushes).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(flushes[1]).toEqual([[A, 1403]]);
    c.close();
  });
});
