import type { MarketCandle, Tick } from "./types.js";

const MINUTE_MS = 60_000;
/** IST is UTC+05:30, so IST minute boundaries are epoch minute boundaries. */
const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

interface InstrumentBars {
  /** Bars being built, by minute start: at most two (the minute just ended and the current one). */
  bars: Map<number, MarketCandle>;
  /** The last trade applied, to tell a repeated print (a snapshot after a reconnect) or an older one from a new trade. */
  lastTradeAt: number;
  lastPrice: number;
  lastQuantity: number;
  /** volumeToday of the last trade, when it carried one: the base the next trade's volume is measured from. */
  volumeToday: number | undefined;
}

/** How many minutes of bars one instrument keeps at most. */
const OPEN_MINUTES = 2;

/**
 * One-minute OHLCV bars built from a feed's ticks, one instrument at a time; pure (the caller
 * passes the clock).
 *
 * A trade counts in the minute of its `lastTradeAt`. Its volume is the rise of `volumeToday`
 * since the instrument's previous trade when the feed gives one (full mode), else its
 * `lastQuantity`; the first trade seen (or the first after `volumeToday` went down: a new
 * session) counts its `lastQuantity`, since what traded before it is not this minute's.
 *
 * The feed's own bars (`minuteBars`, full mode) are the exchange's figures and replace what
 * was aggregated for their minute; the trade that carried them adds no volume to that minute
 * (the exchange's volume already counts it), later trades in the minute extend it as usual.
 *
 * Dropped: trades older than the minute before `now`'s (a snapshot of an old trade must not
 * open an old bar), trades in a minute already taken, trades older than the instrument's last
 * one, and a repeat of its last one. Their volume still moves the `volumeToday` base, so it is
 * not counted in a later minute.
 */
export class MinuteBars {
  private readonly instruments = new Map<string, InstrumentBars>();
  /** The latest minute handed out by take(): nothing at or before it is built again. */
  private takenThrough = -Infinity;

  onTick(tick: Tick, now: number): void {
    const earliest = Math.max(minuteOf(now) - MINUTE_MS, this.takenThrough + MINUTE_MS);
    let s = this.instruments.get(tick.instrumentKey);
    if (!s) {
      s = { bars: new Map(), lastTradeAt: -Infinity, lastPrice: NaN, lastQuantity: NaN, volumeToday: undefined };
      this.instruments.set(tick.instrumentKey, s);
    }

    const carried = new Set<number>();
    for (const bar of tick.minuteBars ?? []) {
      const ts = minuteOf(bar.ts);
      if (ts < earliest || !(bar.open > 0 && bar.high > 0 && bar.low > 0 && bar.close > 0)) continue;
      put(s, { ts, open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: Math.max(0, bar.volume) });
      carried.add(ts);
    }

    if (!(tick.lastPrice > 0) || !(tick.lastTradeAt > 0) || tick.lastTradeAt < s.lastTradeAt) return;
    if (isRepeat(s, tick)) return;
    const volume = tradeVolume(s, tick);
    s.lastTradeAt = tick.lastTradeAt;
    s.lastPrice = tick.lastPrice;
    s.lastQuantity = tick.lastQuantity;
    s.volumeToday = tick.volumeToday;

    const ts = minuteOf(tick.lastTradeAt);
    if (ts < earliest) return;
    const bar = s.bars.get(ts);
    if (!bar) {
      put(s, { ts, open: tick.lastPrice, high: tick.lastPrice, low: tick.lastPrice, close: tick.lastPrice, volume });
      return;
    }
    if (tick.lastPrice > bar.high) bar.high = tick.lastPrice;
    if (tick.lastPrice < bar.low) bar.low = tick.lastPrice;
    bar.close = tick.lastPrice;
    if (!carried.has(ts)) bar.volume += volume;
  }

  /**
   * The bars of the minute starting at `minuteTs`, by instrument key, removed from the
   * builder together with any older ones; ticks for that minute or earlier are ignored from
   * now on. An instrument without a trade in that minute has no bar.
   */
  take(minuteTs: number): Map<string, MarketCandle> {
    const ts = minuteOf(minuteTs);
    this.takenThrough = Math.max(this.takenThrough, ts);
    const out = new Map<string, MarketCandle>();
    for (const [key, s] of this.instruments) {
      const bar = s.bars.get(ts);
      if (bar) out.set(key, bar);
      for (const minute of s.bars.keys()) if (minute <= ts) s.bars.delete(minute);
    }
    return out;
  }

  /** Drops every instrument not in `keep` (bars being built and volume base alike). */
  forget(keep: ReadonlySet<string>): void {
    for (const key of this.instruments.keys()) if (!keep.has(key)) this.instruments.delete(key);
  }

  /** Instruments with state: a bar being built, or a volume base for the next trade. */
  get size(): number {
    return this.instruments.size;
  }
}

/** Sets the bar of `bar.ts`, keeping only the newest OPEN_MINUTES minutes. */
function put(s: InstrumentBars, bar: MarketCandle): void {
  if (!s.bars.has(bar.ts) && s.bars.size >= OPEN_MINUTES) {
    const oldest = Math.min(...s.bars.keys());
    if (bar.ts < oldest) return;
    s.bars.delete(oldest);
  }
  s.bars.set(bar.ts, bar);
}

/** The same print again (a snapshot after a reconnect, a full-mode frame sent for a depth change). */
function isRepeat(s: InstrumentBars, tick: Tick): boolean {
  if (tick.lastTradeAt !== s.lastTradeAt || tick.lastPrice !== s.lastPrice) return false;
  if (tick.volumeToday !== undefined && s.volumeToday !== undefined) return tick.volumeToday === s.volumeToday;
  return tick.lastQuantity === s.lastQuantity;
}

function tradeVolume(s: InstrumentBars, tick: Tick): number {
  const quantity = Math.max(0, tick.lastQuantity || 0);
  if (tick.volumeToday === undefined || s.volumeToday === undefined || tick.volumeToday < s.volumeToday) return quantity;
  return tick.volumeToday - s.volumeToday;
}
