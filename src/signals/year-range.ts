import type { CandleRepository } from "../db/repositories/candles.js";
import { barEnd, istMidnight } from "../market/bar-history.js";
import { aggregate, type SessionOf } from "../market/timeframes.js";
import type { MarketCandle } from "../market/types.js";

const DAY_MS = 86_400_000;
/** 52 weeks back from the start of today. */
export const YEAR_WINDOW_MS = 364 * DAY_MS;
/**
 * Fewer daily bars than this in the 52 weeks before today is not a 52-week range (NSE trades
 * about 245 days a year): a recent listing, or history not fetched yet. The rule does not fire.
 */
export const MIN_YEAR_BARS = 200;
/** One normal session of one-minute candles. */
const SESSION_MINUTES = 375;
/** Days between the last stored daily bar and today that are made up from stored minutes, at most. */
const MAX_GAP_DAYS = 7;
/** A range too short to use is looked at again after this long (another process may have fetched the history). */
const RECHECK_SHORT_MS = 5 * 60_000;

/** The highest high and lowest low of the daily bars in the 52 weeks before today (today excluded). */
export interface YearRange {
  high: number;
  /** The start of the day that made the high. */
  highTs: number;
  low: number;
  lowTs: number;
  /** Daily bars the range is over. */
  bars: number;
}

/** The range of the daily bars starting in [dayStart − 52 weeks, dayStart); undefined without any. Pure. */
export function yearRangeOf(daily: readonly MarketCandle[], dayStart: number): YearRange | undefined {
  let range: YearRange | undefined;
  for (const d of daily) {
    if (d.ts < dayStart - YEAR_WINDOW_MS || d.ts >= dayStart) continue;
    if (!range) range = { high: d.high, highTs: d.ts, low: d.low, lowTs: d.ts, bars: 0 };
    // Ties keep the later day: "the 52-week high of 12 Mar" names the latest time it was made.
    if (d.high >= range.high) Object.assign(range, { high: d.high, highTs: d.ts });
    if (d.low <= range.low) Object.assign(range, { low: d.low, lowTs: d.ts });
    range.bars++;
  }
  return range;
}

/**
 * Each instrument's 52-week range for today, worked out once a day from the stored daily bars
 * (plus, for days after the last stored one, its stored minutes, so a missed evening refresh
 * does not leave a stale high behind) and kept until the IST day changes. Only instruments
 * with a 52-week rule ask; memory is one small object each.
 */
export class YearRanges {
  private readonly ranges = new Map<string, { dayStart: number; checkedAt: number; range: YearRange | undefined }>();

  constructor(
    private readonly candles: CandleRepository,
    private readonly sessionOf: SessionOf,
  ) {}

  /** The range for the IST day of `ts`. */
  get(instrumentKey: string, ts: number): YearRange | undefined {
    const dayStart = istMidnight(ts);
    const cached = this.ranges.get(instrumentKey);
    if (cached && cached.dayStart === dayStart && (usable(cached.range) || ts - cached.checkedAt < RECHECK_SHORT_MS)) return cached.range;
    const range = yearRangeOf(this.dailyBars(instrumentKey, dayStart), dayStart);
    this.ranges.set(instrumentKey, { dayStart, checkedAt: ts, range });
    return range;
  }

  forget(instrumentKey: string): void {
    this.ranges.delete(instrumentKey);
  }

  retain(inUse: ReadonlySet<string>): void {
    for (const key of this.ranges.keys()) if (!inUse.has(key)) this.ranges.delete(key);
  }

  private dailyBars(key: string, dayStart: number): MarketCandle[] {
    // 52 weeks hold at most 262 weekdays.
    const stored = this.candles.bars(key, "1d", dayStart, 270);
    const last = stored.at(-1);
    const coveredUntil = last ? barEnd(last.ts, "1d", this.sessionOf) : dayStart - MAX_GAP_DAYS * DAY_MS;
    const gapDays = Math.min(MAX_GAP_DAYS, Math.ceil((dayStart - coveredUntil) / DAY_MS));
    if (gapDays <= 0) return stored;
    // Today's minutes come first in `recent` (newest first): read past them into the gap.
    const minutes = this.candles.recent(key, "1m", (gapDays + 1) * SESSION_MINUTES).filter((m) => m.ts >= coveredUntil && m.ts < dayStart);
    return [...stored, ...aggregate(minutes, "1d", this.sessionOf)];
  }
}

export const usable = (r: YearRange | undefined): r is YearRange => r !== undefined && r.bars >= MIN_YEAR_BARS;
