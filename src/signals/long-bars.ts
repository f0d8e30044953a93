import { calendarDaysFor, MAX_HISTORY_DAYS, type LongTimeframe } from "../market/bar-history.js";
import { candlesNeeded, parseSpecKey, type IndicatorSpec } from "./indicators/index.js";
import { isCandleRule, keysByTimeframe, readsYearRange, type AlertRule } from "./rules.js";
import { MIN_YEAR_BARS, YEAR_WINDOW_MS } from "./year-range.js";

/** What one instrument's rules need of fetched hourly or daily history. */
export interface LongHistoryNeed {
  tf: LongTimeframe;
  /** Stored bars that count as enough (what the fetch can give at most, for indicators longer than that). */
  bars: number;
  /** Calendar days back to fetch. */
  days: number;
}

/** Bars MAX_HISTORY_DAYS can hold, with holidays to spare: asking for more than this would never be "enough". */
const reachable = (tf: LongTimeframe) => Math.floor((((MAX_HISTORY_DAYS[tf] - 7) * 240) / 365) * (tf === "1h" ? 7 : 1));

/**
 * The hourly and daily history an instrument's rules need: a rule (or an AND alert's part) on 1h or 1d bars needs its
 * indicators' warm-up in bars of its timeframe; a 52-week rule needs 52 weeks of daily bars
 * (and a week more, so the window is full on the first day). None for other rules.
 */
export function longHistoryNeeds(rules: readonly AlertRule[]): LongHistoryNeed[] {
  const bars = new Map<LongTimeframe, number>();
  const days = new Map<LongTimeframe, number>();
  for (const r of rules) {
    if (!isCandleRule(r.kind)) continue;
    if (readsYearRange(r)) {
      bars.set("1d", Math.max(bars.get("1d") ?? 0, MIN_YEAR_BARS));
      days.set("1d", Math.max(days.get("1d") ?? 0, YEAR_WINDOW_MS / 86_400_000 + 7));
    }
    for (const [tf, keys] of keysByTimeframe(r)) {
      if (tf !== "1h" && tf !== "1d") continue;
      const specs = keys.map(parseSpecKey).filter((s): s is IndicatorSpec => s !== undefined);
      if (!specs.length) continue;
      const n = Math.min(candlesNeeded(specs) + 2, reachable(tf));
      bars.set(tf, Math.max(bars.get(tf) ?? 0, n));
      days.set(tf, Math.max(days.get(tf) ?? 0, calendarDaysFor(tf, n)));
    }
  }
  return [...bars].map(([tf, n]) => ({ tf, bars: n, days: days.get(tf)! }));
}
