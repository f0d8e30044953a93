import type { MarketCandle } from "./types.js";

/**
 * Bars longer than a minute, built from closed one-minute candles and aligned to the NSE
 * session: a session's bars start at its open (09:15 IST, or a special session's own start)
 * and step by the timeframe, so the last bar of the day is short when the session's length is
 * not a multiple of it (the 1h bars of a normal day end 15:15–15:30; a 75-minute Muhurat
 * session has one full 1h bar and a 15-minute one). A day bar is the whole session. Pure.
 */

export const TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "1d"] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

const MINUTE_MS = 60_000;
const LENGTH_MS: Record<Exclude<Timeframe, "1d">, number> = {
  "1m": MINUTE_MS,
  "5m": 5 * MINUTE_MS,
  "15m": 15 * MINUTE_MS,
  "30m": 30 * MINUTE_MS,
  "1h": 60 * MINUTE_MS,
};

/** Minutes of one bar; a day counts as a normal session (for reading enough one-minute history). */
export const BAR_MINUTES: Record<Timeframe, number> = { "1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "1d": 375 };

export const isTimeframe = (v: string): v is Timeframe => (TIMEFRAMES as readonly string[]).includes(v);

/** Timeframes shortest first: the smallest one of a set decides when a rule over them is evaluated. */
export const byLength = (a: Timeframe, b: Timeframe) => TIMEFRAMES.indexOf(a) - TIMEFRAMES.indexOf(b);

/** A trading session as instants: [start, end). */
export interface Session {
  start: number;
  end: number;
}

/** The session of the IST day containing an instant, or undefined when the market does not open that day. */
export type SessionOf = (ts: number) => Session | undefined;

/** A bar of a timeframe: OHLCV over [ts, end); `ts` is its start, as for one-minute candles. */
export interface Bar extends MarketCandle {
  end: number;
}

export interface ClosedBar {
  timeframe: Timeframe;
  bar: Bar;
}

/** The [start, end) of the `tf` bar holding the minute that starts at `ts`; undefined outside the session. */
export function barSpan(ts: number, tf: Timeframe, session: Session): Session | undefined {
  if (ts < session.start || ts >= session.end) return undefined;
  if (tf === "1d") return session;
  const len = LENGTH_MS[tf];
  const start = session.start + Math.floor((ts - session.start) / len) * len;
  return { start, end: Math.min(start + len, session.end) };
}

/**
 * Closed one-minute candles (oldest first) as `tf` bars, oldest first. Minutes outside every
 * session are left out (a holiday has no bars, not empty ones); a bar without any minute (no
 * trade) is not made up. The newest bar may still be open: `end` says when it closes.
 */
export function aggregate(minutes: readonly MarketCandle[], tf: Timeframe, sessionOf: SessionOf): Bar[] {
  const bars: Bar[] = [];
  let current: Bar | undefined;
  for (const m of minutes) {
    const session = sessionOf(m.ts);
    const span = session && barSpan(m.ts, tf, session);
    if (!span) continue;
    if (current && current.ts === span.start) extend(current, m);
    else {
      current = open(m, span);
      bars.push(current);
    }
  }
  return bars;
}

const open = (m: MarketCandle, span: Session): Bar => ({
  ts: span.start,
  end: span.end,
  open: m.open,
  high: m.high,
  low: m.low,
  close: m.close,
  volume: m.volume,
});

function extend(bar: Bar, m: MarketCandle): void {
  if (m.high > bar.high) bar.high = m.high;
  if (m.low < bar.low) bar.low = m.low;
  bar.close = m.close;
  bar.volume += m.volume;
}

/**
 * The live form of `aggregate` for one instrument: one-minute candles go in as they close, and
 * the bars they close come out. It holds one open bar per timeframe and nothing else, however
 * long it runs. A bar closes with its last minute, or, when that minute had no trade, with the
 * first minute past it or `closeDue` (the session ended, a timer).
 */
export class BarAggregator {
  private readonly open = new Map<Timeframe, Bar>();
  /** Where each timeframe's last closed bar ended: a minute before it is late, and changes nothing. */
  private readonly closedUntil = new Map<Timeframe, number>();
  private readonly timeframes: readonly Timeframe[];

  constructor(
    timeframes: readonly Timeframe[],
    private readonly sessionOf: SessionOf,
  ) {
    this.timeframes = [...new Set(timeframes)].sort(byLength);
  }

  /** Adds a closed one-minute candle; returns the bars it closed, shortest timeframe first. */
  push(m: MarketCandle): ClosedBar[] {
    const closed: ClosedBar[] = [];
    const session = this.sessionOf(m.ts);
    for (const tf of this.timeframes) {
      const current = this.open.get(tf);
      if (m.ts < (current?.ts ?? this.closedUntil.get(tf) ?? -Infinity)) continue;
      const span = session && barSpan(m.ts, tf, session);
      if (current && (!span || span.start !== current.ts)) this.close(tf, current, closed);
      if (!span) continue;
      const bar = this.open.get(tf);
      if (bar) extend(bar, m);
      else this.open.set(tf, open(m, span));
      const now = this.open.get(tf)!;
      if (m.ts + MINUTE_MS >= now.end) this.close(tf, now, closed);
    }
    return closed;
  }

  /** Closes the bars whose end has passed by `now` without their last minute. */
  closeDue(now: number): ClosedBar[] {
    const closed: ClosedBar[] = [];
    for (const tf of this.timeframes) {
      const bar = this.open.get(tf);
      if (bar && bar.end <= now) this.close(tf, bar, closed);
    }
    return closed;
  }

  private close(tf: Timeframe, bar: Bar, into: ClosedBar[]): void {
    into.push({ timeframe: tf, bar });
    this.open.delete(tf);
    this.closedUntil.set(tf, bar.end);
  }

  /** The bar of `tf` still being built (for a chart's last candle), if any. */
  current(tf: Timeframe): Bar | undefined {
    return this.open.get(tf);
  }
}
