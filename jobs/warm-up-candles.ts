import type { Job } from "bullmq";
import type { Services } from "../src/services.js";
import { isLongTimeframe } from "../src/market/bar-history.js";
import { historyNeeded } from "../src/signals/indicator-engine.js";
import { SESSION_CANDLES } from "../src/signals/indicators/index.js";
import { longHistoryNeeds, type LongHistoryNeed } from "../src/signals/long-bars.js";
import { isCandleRule, keysByTimeframe, type AlertRule } from "../src/signals/rules.js";
import { queueBarHistory } from "./refresh-bar-history.js";

/** How far back a warm-up reaches: enough one-minute candles for every indicator to settle. */
export const WARM_UP_DAYS = 5;

export interface WarmUpData {
  instrumentKey: string;
}

/**
 * Loads recent one-minute history of one instrument into SQLite, so its candle rules start
 * from settled indicators instead of waiting hours for enough closes. One job per instrument
 * per day (job id). History is background work: its Upstox calls only use the budget that
 * quote polls leave (see src/upstox/limits.ts), and the source stops at one call when that
 * call already holds enough candles.
 */
export async function warmUpCandles(job: Job<WarmUpData>, s: Services): Promise<{ stored: number } | { skipped: string }> {
  const key = job.data.instrumentKey;
  s.ruleBook.refresh();
  const needed = minuteHistoryNeeded(s, s.ruleBook.forInstrument(key));
  if (!needed) return { skipped: "no candle rules any more" };
  const now = s.clock();
  const to = Math.floor(now / 60_000) * 60_000;
  const from = to - WARM_UP_DAYS * 86_400_000;
  await s.calendar.sync();
  const session = s.calendar.session(new Date(now));
  const history = await s.candleSource.getCandleHistory(key, from, to, { atLeast: needed, tradedToday: session !== undefined && now >= session.start });
  const stored = s.candles.upsert(
    "1m",
    history.map((c) => [key, c] as const),
  );
  // Rebuilt from the stored history on the next candle.
  s.indicators.forget(key);
  s.timeframes.forget(key);
  s.metrics.historyLoaded.inc();
  s.metrics.historyCandles.inc(stored);
  s.log.debug({ instrumentKey: key, stored }, "candle history loaded");
  return { stored };
}

export const warmUpJobId = (instrumentKey: string, day: string) => `warm-${instrumentKey.replace(/[^A-Za-z0-9]/g, "_")}-${day}`;

const DAY_MS = 86_400_000;
/** Stored hourly/daily bars whose last one is older than this are refreshed (a weekend and two holidays). */
const BARS_STALE_MS = 5 * DAY_MS;
/** An instrument whose bar history was checked is not checked again for this long (a failed fetch is retried after it). */
const BARS_RECHECK_MS = 15 * 60_000;

/** What one rule list needs, worked out once per rule set (the book hands out the same array until it changes). */
const needsByRules = new WeakMap<readonly AlertRule[], { length: number; minutes: number; bars: LongHistoryNeed[] }>();
/** Per process (per Services): when each instrument's bar history was last checked. */
const barsCheckedAt = new WeakMap<Services, Map<string, number>>();

function needsOf(s: Services, rules: readonly AlertRule[]): { minutes: number; bars: LongHistoryNeed[] } {
  const cached = needsByRules.get(rules);
  if (cached && cached.length === rules.length) return cached;
  const bars = s.upstox ? longHistoryNeeds(rules) : [];
  // Rules on hourly and daily bars are seeded from the fetched bars: of minutes they need only
  // today's (the bar still open). Without Upstox there are no fetched bars: minutes are all there is.
  const long = (r: AlertRule) => isCandleRule(r.kind) && [...keysByTimeframe(r).keys()].some(isLongTimeframe);
  const minutes = s.upstox ? Math.max(historyNeeded(rules, isLongTimeframe), rules.some(long) ? SESSION_CANDLES : 0) : s.indicators.profile(rules).history;
  const entry = { length: rules.length, minutes, bars };
  needsByRules.set(rules, entry);
  return entry;
}

/** One-minute candles the rules need stored (see needsOf). */
const minuteHistoryNeeded = (s: Services, rules: readonly AlertRule[]) => needsOf(s, rules).minutes;

/**
 * Queues the hourly/daily history of an instrument whose rules read it (on 1h or 1d bars, or a
 * 52-week range) when the stored bars are too few or stale: at most one check per instrument
 * every BARS_RECHECK_MS, and one job per instrument per day (job id).
 */
async function queueBarHistoryIfNeeded(s: Services, instrumentKey: string, needs: readonly LongHistoryNeed[]): Promise<boolean> {
  if (!needs.length) return false;
  const now = s.clock();
  let checked = barsCheckedAt.get(s);
  if (!checked) barsCheckedAt.set(s, (checked = new Map<string, number>()));
  const last = checked.get(instrumentKey);
  if (last !== undefined && now - last < BARS_RECHECK_MS) return false;
  checked.set(instrumentKey, now);
  const fresh = needs.every((n) => {
    const st = s.candles.barStats(instrumentKey, n.tf);
    return st.count >= n.bars && st.lastTs !== null && now - st.lastTs < BARS_STALE_MS;
  });
  if (fresh) return false;
  await queueBarHistory(s, instrumentKey, new Date(now + 330 * 60_000).toISOString().slice(0, 10));
  return true;
}

/**
 * Queues a warm-up for an instrument whose candle rules need more history than is stored:
 * one-minute candles, and hourly/daily bars for rules on those or on a 52-week range.
 * Instruments that are only watched, or only have price rules, need none. The job id carries
 * the IST date, so an instrument is warmed up at most once a day.
 */
export async function queueWarmUpIfNeeded(s: Services, instrumentKey: string): Promise<boolean> {
  const rules = s.ruleBook.forInstrument(instrumentKey);
  const { minutes: needed, bars } = needsOf(s, rules);
  const queuedBars = await queueBarHistoryIfNeeded(s, instrumentKey, bars);
  if (!needed) return queuedBars;
  // The in-memory state already holds enough candles: no need to count rows in SQLite every minute.
  if ((s.indicators.candlesSeen(instrumentKey) ?? 0) >= needed) return queuedBars;
  if (s.candles.stats(instrumentKey, "1m").count >= needed) return queuedBars;
  const day = new Date(s.clock() + 330 * 60_000).toISOString().slice(0, 10);
  await s.queues["warm-up-candles"].add(
    "warm-up-candles",
    { instrumentKey },
    {
      jobId: warmUpJobId(instrumentKey, day),
      // Kept for the day, so a short history (a new listing) is not fetched again every minute.
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 600 },
      attempts: 3,
      backoff: { type: "exponential", delay: 5_000 },
    },
  );
  return true;
}
