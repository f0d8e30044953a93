import { IST_OFFSET_MS, istInstant, istParts, MARKET_CLOSE_MINUTE, MARKET_OPEN_MINUTE } from "./calendar.js";
import { barSpan, type Bar, type SessionOf } from "./timeframes.js";
import type { MarketCandle } from "./types.js";

/**
 * Hourly and daily history fetched whole (Upstox v3 `hours/1` and `days/1`): the one-minute
 * store keeps about a month, so a rule on daily bars reading EMA 200, or a 52-week high, needs
 * bars of its own. Here: which date ranges to ask for, and how the answer becomes session bars
 * like the ones aggregated from minutes. Pure; the fetching is a BarHistorySource's.
 */

export type LongTimeframe = "1h" | "1d";
export const isLongTimeframe = (tf: string): tf is LongTimeframe => tf === "1h" || tf === "1d";

export interface BarHistorySource {
  /**
   * One instrument's bars from `fromDate` to `toDate` (IST `YYYY-MM-DD`, both inclusive, within
   * one request's span: MAX_SPAN_DAYS), in any order, each keyed by its start as Upstox sends it
   * (a day by its IST midnight).
   */
  bars(instrumentKey: string, tf: LongTimeframe, fromDate: string, toDate: string): Promise<MarketCandle[]>;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * The longest span one request may cover, in calendar days, a little inside Upstox's limits
 * (REFERENCE §3: days a decade, hours a quarter; a longer span is refused as invalid).
 */
export const MAX_SPAN_DAYS: Record<LongTimeframe, number> = { "1d": 3_600, "1h": 88 };

/**
 * How far back history goes at most, in calendar days: five years of daily bars (EMA 200
 * settles in about 900 of them) and one year of hourly ones (four or five requests). Asking
 * for more indicator history than this gets what this holds.
 */
export const MAX_HISTORY_DAYS: Record<LongTimeframe, number> = { "1d": 5 * 365 + 2, "1h": 365 };

/** NSE trades about 245 days a year; a normal session has 7 hourly bars (the last one 15 minutes). */
const TRADING_DAYS_PER_YEAR = 245;
const HOURLY_BARS_PER_DAY = 7;

/** Calendar days back that hold `bars` bars of `tf`, with a week to spare, capped at MAX_HISTORY_DAYS. */
export function calendarDaysFor(tf: LongTimeframe, bars: number): number {
  const tradingDays = tf === "1d" ? bars : Math.ceil(bars / HOURLY_BARS_PER_DAY);
  return Math.min(MAX_HISTORY_DAYS[tf], Math.ceil((tradingDays * 365) / TRADING_DAYS_PER_YEAR) + 7);
}

/** IST date of an instant. */
export const istDate = (ms: number) => istParts(new Date(ms)).date;
/** The instant an IST date starts. */
export const istDayStart = (date: string) => istInstant(date, 0).getTime();
const shift = (date: string, days: number) => istDate(istDayStart(date) + days * DAY_MS);

/**
 * The requests that cover `days` calendar days up to and including `today` (IST), newest
 * first, each within one request's span.
 */
export function historyRequests(tf: LongTimeframe, days: number, today: string): Array<{ from: string; to: string }> {
  const span = MAX_SPAN_DAYS[tf];
  const first = shift(today, -(Math.min(days, MAX_HISTORY_DAYS[tf]) - 1));
  const out: Array<{ from: string; to: string }> = [];
  for (let to = today; to >= first; to = shift(to, -span)) {
    const from = shift(to, -(span - 1));
    out.push({ from: from > first ? from : first, to });
  }
  return out;
}

/** A default NSE session of the IST day of `ts`, for a day the calendar does not know as open (Upstox traded it). */
function normalSession(ts: number): { start: number; end: number } {
  const date = istDate(ts);
  return { start: istInstant(date, MARKET_OPEN_MINUTE).getTime(), end: istInstant(date, MARKET_CLOSE_MINUTE).getTime() };
}

/**
 * The session bar a fetched bar stands for: a day from the session's start to its end (as
 * `aggregate` makes it), an hour from its start to an hour later or the session's end. A
 * day the calendar does not know as open gets 09:15–15:30 (Upstox traded it, so it was).
 */
export function toSessionBar(c: MarketCandle, tf: LongTimeframe, sessionOf: SessionOf): Bar {
  const session = sessionOf(c.ts) ?? normalSession(c.ts);
  if (tf === "1d") return { ...pick(c), ts: session.start, end: session.end };
  return { ...pick(c), end: barEnd(c.ts, tf, sessionOf) };
}

/** Where a stored bar (keyed by its session start) ends. */
export function barEnd(ts: number, tf: LongTimeframe, sessionOf: SessionOf): number {
  const session = sessionOf(ts) ?? normalSession(ts);
  if (tf === "1d") return session.end;
  return barSpan(ts, "1h", session) ? Math.min(ts + HOUR_MS, session.end) : ts + HOUR_MS;
}

const pick = (c: MarketCandle): MarketCandle => ({ ts: c.ts, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });

/**
 * Fetched bars as session bars, oldest first, one per start (a repeat keeps the later), only
 * those complete by `now` (today's daily bar while the market is open is not history yet),
 * and only sane ones (positive prices, high ≥ low).
 */
export function sessionBars(candles: readonly MarketCandle[], tf: LongTimeframe, sessionOf: SessionOf, now: number): Bar[] {
  const byStart = new Map<number, Bar>();
  for (const c of candles) {
    if (!(c.low > 0 && c.high >= c.low && Number.isFinite(c.ts))) continue;
    const bar = toSessionBar(c, tf, sessionOf);
    if (bar.end <= now) byStart.set(bar.ts, bar);
  }
  return [...byStart.values()].sort((a, b) => a.ts - b.ts);
}

/** IST midnight before `ts` (the start of its IST day). */
export const istMidnight = (ts: number) => Math.floor((ts + IST_OFFSET_MS) / DAY_MS) * DAY_MS - IST_OFFSET_MS;
