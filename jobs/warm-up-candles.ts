import type { Job } from "bullmq";
import type { Services } from "../src/services.js";
import { historyNeeded } from "../src/signals/indicator-engine.js";

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
  const needed = historyNeeded(s.ruleBook.forInstrument(key));
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

/**
 * Queues a warm-up for an instrument whose candle rules need more history than is stored.
 * Instruments that are only watched, or only have price rules, need none. The job id carries
 * the IST date, so an instrument is warmed up at most once a day.
 */
export async function queueWarmUpIfNeeded(s: Services, instrumentKey: string): Promise<boolean> {
  // Worked out once per rule set (the engine caches it), not once per instrument per minute.
  const needed = s.indicators.profile(s.ruleBook.forInstrument(instrumentKey)).history;
  if (!needed) return false;
  // The in-memory state already holds enough candles: no need to count rows in SQLite every minute.
  if ((s.indicators.candlesSeen(instrumentKey) ?? 0) >= needed) return false;
  if (s.candles.stats(instrumentKey, "1m").count >= needed) return false;
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
