import type { CandleRepository } from "../db/repositories/candles.js";
import { historyRequests, istDate, istDayStart, sessionBars, type BarHistorySource, type LongTimeframe } from "./bar-history.js";
import type { SessionOf } from "./timeframes.js";

const DAY_MS = 86_400_000;
/** A stored history starting this close to the wanted start counts as reaching it (weekends, holidays). */
const START_SLACK_MS = 10 * DAY_MS;

export interface BarHistoryDeps {
  source: BarHistorySource;
  candles: CandleRepository;
  sessionOf: SessionOf;
  now: number;
}

export interface BarHistoryLoad {
  /** Bars written (new or replaced). */
  stored: number;
  /** Requests made. */
  requests: number;
  /** Stored bars of this timeframe afterwards. */
  count: number;
}

/**
 * Brings one instrument's stored `tf` bars up to date for `days` calendar days back: the whole
 * range when the store does not reach that far (a new rule), else only from the last stored
 * bar's day on (the evening refresh: one request). Bars not complete yet are left out.
 */
export async function loadBarHistory(deps: BarHistoryDeps, instrumentKey: string, tf: LongTimeframe, days: number): Promise<BarHistoryLoad> {
  const today = istDate(deps.now);
  const wanted = historyRequests(tf, days, today);
  const wantedFrom = wanted.at(-1)?.from ?? today;
  const before = deps.candles.barStats(instrumentKey, tf);
  const reaches = before.firstTs !== null && before.lastTs !== null && before.firstTs <= istDayStart(wantedFrom) + START_SLACK_MS;
  const requests = reaches ? historyRequests(tf, Math.floor((istDayStart(today) - istDayStart(istDate(before.lastTs!))) / DAY_MS) + 1, today) : wanted;
  let stored = 0;
  for (const { from, to } of requests) {
    const bars = sessionBars(await deps.source.bars(instrumentKey, tf, from, to), tf, deps.sessionOf, deps.now);
    // Written as each answer arrives: a later request failing keeps what came.
    stored += deps.candles.upsertBars(tf, instrumentKey, bars);
  }
  return { stored, requests: requests.length, count: deps.candles.barStats(instrumentKey, tf).count };
}
