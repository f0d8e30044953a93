import { describe, expect, it } from "vitest";
import { MinuteBars } from "../../src/market/minute-bars.js";
import type { MarketCandle, Tick } from "../../src/market/types.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
/** 09:15:00 IST on a Monday: a minute boundary. */
const M0 = Date.UTC(2025, 0, 6, 3, 45);
const MIN = 60_000;
const at = (minute: number, second: number) => M0 + minute * MIN + second * 1000;

function tick(lastPrice: number, lastTradeAt: number, extra: Partial<Tick> = {}): Tick {
  return { instrumentKey: RELIANCE, lastPrice, lastTradeAt, lastQuantity: 0, prevClose: 1400, receivedAt: 0, ...extra };
}

const bar = (ts: number, open: number, high: number, low: number, close: number, volume: number): MarketCandle => ({ ts, open, high, low, close, volume });

describe("MinuteBars", () => {
  it("builds open, high, low, close and summed quantity from the trades of a minute", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(0, 5), { lastQuantity: 10 }), at(0, 5));
    bars.onTick(tick(102, at(0, 20), { lastQuantity: 5 }), at(0, 20));
    bars.onTick(tick(99, at(0, 40), { lastQuantity: 7 }), at(0, 40));
    bars.onTick(tick(101, at(0, 59.9), { lastQuantity: 3 }), at(1, 0.1));
    bars.onTick(tick(103, at(1, 0.5), { lastQuantity: 4 }), at(1, 0.6)); // next minute's

    expect(bars.take(M0)).toEqual(new Map([[RELIANCE, bar(M0, 100, 102, 99, 101, 25)]]));
    expect(bars.take(M0 + MIN)).toEqual(new Map([[RELIANCE, bar(M0 + MIN, 103, 103, 103, 103, 4)]]));
    // Taken means gone.
    expect(bars.take(M0 + MIN).size).toBe(0);
  });

  it("keeps instruments apart, and gives no bar to an instrument without a trade in the minute", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(0, 1), { lastQuantity: 1 }), at(0, 1));
    bars.onTick(tick(3450, at(0, 2), { instrumentKey: TCS, lastQuantity: 2 }), at(0, 2));
    bars.onTick(tick(3455, at(1, 2), { instrumentKey: TCS, lastQuantity: 3 }), at(1, 2));

    expect(bars.take(M0)).toEqual(
      new Map([
        [RELIANCE, bar(M0, 100, 100, 100, 100, 1)],
        [TCS, bar(M0, 3450, 3450, 3450, 3450, 2)],
      ]),
    );
    const second = bars.take(M0 + MIN);
    expect([...second.keys()]).toEqual([TCS]);
    expect(second.get(TCS)).toEqual(bar(M0 + MIN, 3455, 3455, 3455, 3455, 3));
  });

  it("measures volume as the rise of volumeToday, the first trade of a session counting its own quantity", () => {
    const bars = new MinuteBars();
    // First trade seen: what traded today before it is not this minute's.
    bars.onTick(tick(100, at(0, 1), { lastQuantity: 10, volumeToday: 50_000 }), at(0, 1));
    // Trades the feed conflated: volumeToday rose by 75 though this print was 5.
    bars.onTick(tick(101, at(0, 2), { lastQuantity: 5, volumeToday: 50_075 }), at(0, 2));
    // The same print again (a full-mode frame for a depth change): nothing traded.
    bars.onTick(tick(101, at(0, 2), { lastQuantity: 5, volumeToday: 50_075 }), at(0, 3));
    bars.onTick(tick(100.5, at(0, 4), { lastQuantity: 20, volumeToday: 50_095 }), at(0, 4));
    expect(bars.take(M0).get(RELIANCE)).toEqual(bar(M0, 100, 101, 100, 100.5, 10 + 75 + 20));

    // volumeToday went down on a newer trade: a new session, which counts the print itself.
    bars.onTick(tick(104, at(1, 1), { lastQuantity: 8, volumeToday: 8 }), at(1, 1));
    bars.onTick(tick(105, at(1, 2), { lastQuantity: 2, volumeToday: 30 }), at(1, 2));
    expect(bars.take(M0 + MIN).get(RELIANCE)?.volume).toBe(8 + 22);
  });

  it("counts a repeated print once and ignores a trade older than the last one", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(0, 10), { lastQuantity: 10 }), at(0, 10));
    bars.onTick(tick(101, at(0, 20), { lastQuantity: 5 }), at(0, 20));
    // A reconnect's snapshot repeats the last print.
    bars.onTick(tick(101, at(0, 20), { lastQuantity: 5 }), at(0, 25));
    // An older trade arriving late must not become the close.
    bars.onTick(tick(90, at(0, 15), { lastQuantity: 1 }), at(0, 26));
    // Two prints in the same millisecond at different prices are two trades.
    bars.onTick(tick(101.5, at(0, 20), { lastQuantity: 2 }), at(0, 27));
    expect(bars.take(M0).get(RELIANCE)).toEqual(bar(M0, 100, 101.5, 100, 101.5, 17));
  });

  it("lets the feed's own bar replace what was aggregated for its minute, later trades still extending it", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(0, 10), { lastQuantity: 10, volumeToday: 1000 }), at(0, 10));
    bars.onTick(tick(101, at(0, 30), { lastQuantity: 10, volumeToday: 1010 }), at(0, 30));
    // The first full frame of the next minute carries the exchange's bars for both minutes.
    const exchangeM0 = bar(M0, 99.5, 101.2, 99.1, 100.8, 4321);
    bars.onTick(
      tick(100.9, at(1, 1), { lastQuantity: 7, volumeToday: 1017, minuteBars: [exchangeM0, bar(M0 + MIN, 100.9, 100.9, 100.9, 100.9, 7)] }),
      at(1, 1),
    );
    // Later trades in the feed bar's minute: ltpc ones extend it and add their volume.
    bars.onTick(tick(102, at(1, 20), { lastQuantity: 3, volumeToday: 1020 }), at(1, 20));
    bars.onTick(tick(100.1, at(1, 40), { lastQuantity: 5, volumeToday: 1025 }), at(1, 40));

    expect(bars.take(M0).get(RELIANCE)).toEqual(exchangeM0);
    // The carrying trade's 7 is in the exchange's bar already: 7 + 3 + 5, not 7 + 7 + 3 + 5.
    expect(bars.take(M0 + MIN).get(RELIANCE)).toEqual(bar(M0 + MIN, 100.9, 102, 100.1, 100.1, 15));
  });

  it("ignores a feed bar and a trade in a minute already taken, without their volume leaking into the next minute", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(0, 50), { lastQuantity: 10, volumeToday: 1000 }), at(0, 50));
    expect(bars.take(M0).get(RELIANCE)?.volume).toBe(10);

    // Late: a trade of the taken minute, and the exchange's final bar for it.
    bars.onTick(tick(99, at(0, 59), { lastQuantity: 40, volumeToday: 1040, minuteBars: [bar(M0, 1, 1, 1, 1, 1)] }), at(1, 2));
    expect(bars.take(M0).size).toBe(0);

    bars.onTick(tick(101, at(1, 5), { lastQuantity: 2, volumeToday: 1042 }), at(1, 5));
    expect(bars.take(M0 + MIN).get(RELIANCE)).toEqual(bar(M0 + MIN, 101, 101, 101, 101, 2));
  });

  it("opens no bar for a snapshot of an old trade, but keeps its volume as the base", () => {
    const bars = new MinuteBars();
    const now = at(10, 10);
    // Connected at 09:25:10; the instrument last traded at 09:15:30.
    bars.onTick(tick(100, at(0, 30), { lastQuantity: 50, volumeToday: 9000, minuteBars: [bar(M0, 100, 100, 100, 100, 50)] }), now);
    expect(bars.take(M0).size).toBe(0);
    expect(bars.size).toBe(1);

    bars.onTick(tick(100.5, at(10, 20), { lastQuantity: 5, volumeToday: 9006 }), at(10, 20));
    expect(bars.take(M0 + 10 * MIN).get(RELIANCE)).toEqual(bar(M0 + 10 * MIN, 100.5, 100.5, 100.5, 100.5, 6));
  });

  it("still takes a trade of the minute before now's (the minute that just ended)", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(4, 59), { lastQuantity: 3 }), at(5, 2));
    expect(bars.take(M0 + 4 * MIN).get(RELIANCE)).toEqual(bar(M0 + 4 * MIN, 100, 100, 100, 100, 3));
  });

  it("keeps at most two minutes per instrument, and take() drops older ones", () => {
    const bars = new MinuteBars();
    // A feed clock ahead of ours: minutes past `now`'s are accepted, but only the two newest kept.
    const now = at(0, 30);
    bars.onTick(tick(100, at(0, 31), { lastQuantity: 1 }), now);
    bars.onTick(tick(101, at(1, 1), { lastQuantity: 1 }), now);
    bars.onTick(tick(102, at(2, 1), { lastQuantity: 1 }), now);
    expect(bars.take(M0).size).toBe(0);
    expect(bars.take(M0 + MIN).get(RELIANCE)?.close).toBe(101);
    expect(bars.take(M0 + 2 * MIN).get(RELIANCE)?.close).toBe(102);

    const later = new MinuteBars();
    later.onTick(tick(100, at(0, 31), { lastQuantity: 1 }), at(0, 31));
    later.onTick(tick(101, at(1, 1), { lastQuantity: 1 }), at(1, 1));
    // Taking minute 1 first: minute 0's bar goes too, and cannot be taken afterwards.
    expect(later.take(M0 + MIN).get(RELIANCE)?.close).toBe(101);
    expect(later.take(M0).size).toBe(0);
  });

  it("forgets instruments no longer wanted", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(100, at(0, 1), { lastQuantity: 1 }), at(0, 1));
    bars.onTick(tick(3450, at(0, 2), { instrumentKey: TCS, lastQuantity: 2 }), at(0, 2));
    expect(bars.size).toBe(2);
    bars.forget(new Set([TCS]));
    expect(bars.size).toBe(1);
    expect([...bars.take(M0).keys()]).toEqual([TCS]);
  });

  it("ignores a tick without a usable price or trade time", () => {
    const bars = new MinuteBars();
    bars.onTick(tick(0, at(0, 1), { lastQuantity: 1 }), at(0, 1));
    bars.onTick(tick(Number.NaN, at(0, 2), { lastQuantity: 1 }), at(0, 2));
    bars.onTick(tick(100, 0, { lastQuantity: 1 }), at(0, 3));
    expect(bars.take(M0).size).toBe(0);
  });
});
