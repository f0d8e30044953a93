import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MinuteBars } from "../../src/market/minute-bars.js";
import { SimulatedMarketFeed } from "../../src/market/simulated-feed.js";
import { MarketSimulator, SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { FeedState, Tick } from "../../src/market/types.js";

const key = (symbol: string) => SIMULATED_INSTRUMENTS.find((i) => i.tradingSymbol === symbol)!.instrumentKey;
const RELIANCE = key("RELIANCE");
const TCS = key("TCS");
const INFY = key("INFY");
const UNKNOWN = "NSE_EQ|INE000X00000";
/** Monday 09:15:00.200 IST: the simulator steps once a second, on the second. */
const START = Date.UTC(2025, 0, 6, 3, 45) + 200;
const MIN = 60_000;

/** A simulator and its feed on the fake clock, with everything the feed told recorded. */
function setup(everyMs = 300) {
  const simulator = new MarketSimulator({ seed: 7, now: () => Date.now() });
  const feed = new SimulatedMarketFeed({ simulator, everyMs, now: () => Date.now() });
  const ticks: Tick[] = [];
  const frames: Tick[][] = [];
  const states: FeedState[] = [];
  const segments: Array<Readonly<Record<string, string>>> = [];
  const start = () =>
    feed.start({
      onTicks: (t) => {
        frames.push([...t]);
        ticks.push(...t);
      },
      onStateChange: (s) => states.push(s),
      onSegmentStatus: (s) => segments.push(s),
    });
  return { simulator, feed, ticks, frames, states, segments, start };
}

describe("SimulatedMarketFeed", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: START });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("ticks the subscribed keys the simulator knows, and counts the others as over the limit", async () => {
    const { feed, ticks, states, segments, start } = setup();
    feed.setInstruments([RELIANCE, TCS, UNKNOWN]);
    expect(feed.covered().size).toBe(0); // nothing is delivered before start
    start();
    expect(segments).toEqual([{ NSE_EQ: "NORMAL_OPEN" }]);
    expect([...feed.covered()].sort()).toEqual([RELIANCE, TCS].sort());
    expect(states.at(-1)).toMatchObject({ name: "simulator", status: "connected", subscribed: 2, overLimit: 1 });

    await vi.advanceTimersByTimeAsync(5_000);
    expect(new Set(ticks.map((t) => t.instrumentKey))).toEqual(new Set([RELIANCE, TCS]));
    expect(feed.state()).toMatchObject({ status: "connected", subscribed: 2, overLimit: 1 });
    // Every look at the simulator counts as a message: the feed is live, not stalled.
    expect(feed.state().lastMessageAt).toBeGreaterThan(Date.now() - 300);
    expect(segments).toHaveLength(1);
    await feed.close();
  });

  it("starts each instrument with a snapshot of its last trade, then ticks each price move with the volume traded", async () => {
    const { simulator, feed, ticks, start } = setup();
    feed.setInstruments([RELIANCE]);
    start();
    await vi.advanceTimersByTimeAsync(0);
    const [quote] = (await simulator.getQuotes([RELIANCE])).values();
    expect(ticks).toHaveLength(1);
    expect(ticks[0]).toMatchObject({
      instrumentKey: RELIANCE,
      lastPrice: quote!.lastPrice,
      lastTradeAt: START - 200, // the step on the second
      lastQuantity: 0,
      prevClose: quote!.prevClose,
      volumeToday: quote!.volume,
      day: { open: quote!.open, high: quote!.high, low: quote!.low },
    });
    // Nothing moves until the next step: polls do not repeat the price.
    await vi.advanceTimersByTimeAsync(600);
    expect(ticks).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(300); // past 09:15:01
    expect(ticks).toHaveLength(2);
    const [moved] = (await simulator.getQuotes([RELIANCE])).values();
    expect(ticks[1]).toMatchObject({
      lastPrice: moved!.lastPrice,
      lastTradeAt: START - 200 + 1000,
      lastQuantity: moved!.volume - quote!.volume,
      volumeToday: moved!.volume,
    });
    expect(ticks[1]!.lastQuantity).toBeGreaterThan(0);
    // Every step is ticked once: 10 more seconds, 10 more ticks.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ticks).toHaveLength(12);
    await feed.close();
  });

  it("follows setInstruments: dropped keys stop, new keys start with a snapshot", async () => {
    const { feed, ticks, states, start } = setup();
    feed.setInstruments([RELIANCE, TCS]);
    start();
    await vi.advanceTimersByTimeAsync(2_000);
    const covered = feed.covered();
    feed.setInstruments([TCS, INFY]);
    expect(feed.covered()).not.toBe(covered);
    expect([...feed.covered()].sort()).toEqual([TCS, INFY].sort());
    expect(states.at(-1)).toMatchObject({ subscribed: 2, overLimit: 0 });
    // The same set again is no change: same Set, no state change.
    const statesBefore = states.length;
    feed.setInstruments([INFY, TCS]);
    expect(states).toHaveLength(statesBefore);

    const from = ticks.length;
    await vi.advanceTimersByTimeAsync(3_000);
    const after = ticks.slice(from);
    expect(new Set(after.map((t) => t.instrumentKey))).toEqual(new Set([TCS, INFY]));
    expect(after.find((t) => t.instrumentKey === INFY)!.lastQuantity).toBe(0); // its snapshot
    await feed.close();
  });

  it("carries the simulator's closed bar on a new minute's first tick, so bars built from ticks equal its candles", async () => {
    const { simulator, feed } = setup();
    const bars = new MinuteBars();
    const carried: number[] = [];
    feed.setInstruments([RELIANCE, TCS]);
    feed.start({
      onTicks: (ticks) => {
        for (const t of ticks) {
          bars.onTick(t, Date.now());
          if (t.minuteBars) carried.push(...t.minuteBars.map((b) => b.ts));
        }
      },
    });
    await vi.advanceTimersByTimeAsync(2 * MIN + 5_000);
    const minute = START - 200 + MIN; // 09:16, covered from its first second
    const built = bars.take(minute);
    for (const k of [RELIANCE, TCS]) {
      const [candle] = await simulator.getCandleHistory(k, minute, minute + MIN);
      expect(candle!.volume).toBeGreaterThan(0);
      expect(built.get(k)).toEqual(candle);
    }
    // Each instrument got 09:14's bar with its snapshot, then 09:15's and 09:16's on their minutes' first moves.
    const m = START - 200;
    expect(carried.sort()).toEqual([m - MIN, m - MIN, m, m, m + MIN, m + MIN]);
    await feed.close();
  });

  it("stops ticking on close, idempotently, and says it stopped", async () => {
    const { feed, ticks, states, start } = setup();
    feed.setInstruments([RELIANCE]);
    start();
    await vi.advanceTimersByTimeAsync(3_000);
    const seen = ticks.length;
    expect(seen).toBeGreaterThan(1);

    const closing = feed.close();
    expect(feed.close()).toBe(closing);
    await closing;
    expect(feed.state().status).toBe("stopped");
    expect(states.at(-1)).toMatchObject({ status: "stopped", subscribed: 0 });
    expect(feed.covered().size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ticks).toHaveLength(seen);
    start(); // a closed feed does not start again
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ticks).toHaveLength(seen);
  });

  it("keeps ticking when a consumer throws, keeping the error as its last", async () => {
    const simulator = new MarketSimulator({ seed: 7, now: () => Date.now() });
    const feed = new SimulatedMarketFeed({ simulator, now: () => Date.now() });
    let calls = 0;
    feed.setInstruments([RELIANCE]);
    feed.start({
      onTicks: () => {
        calls++;
        throw new Error("consumer failed");
      },
    });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(calls).toBeGreaterThan(2);
    expect(feed.state().lastError).toBe("consumer failed");
    await feed.close();
  });
});
