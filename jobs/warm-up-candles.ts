import type { Job } from "bullmq";
import type { Services } from "../src/services.js";
import { specsFor } from "../src/signals/indicator-engine.js";
import { candlesNeeded } from "../src/signals/indicators/index.js";

/** How far back a warm-up reaches: enough one-minute candles for every indicator to settle. */
export const WARM_UP_DAYS = 5;

export interface WarmUpData {
  instrumentKey: string;
}

/**
 * Loads recent one-minute history of one instrument into SQLite, so its indicators start
 * from real candles instead of waiting hours for enough closes. One job per instrument
 * per day (job id), paced by the Upstox rate limiter like every other call.
 */
export async function warmUpCandles(job: Job<WarmUpData>, s: Services): Promise<{ stored: number }> {
  const now = s.clock();
  const to = Math.floor(now / 60_000) * 60_000;
  const from = to - WARM_UP_DAYS * 86_400_000;
  const history = await s.candleSource.getCandleHistory(job.data.instrumentKey, from, to);
  const stored = s.candles.upsert("1m", history.map((c) => [job.data.instrumentKey, c] as const));
  // Rebuilt from the stored history on the next candle.
  s.indicators.forget(job.data.instrumentKey);
  s.log.debug({ instrumentKey: job.data.instrumentKey, stored }, "candle history loaded");
  return { stored };
}

export const warmUpJobId = (instrumentKey: string, day: string) => `warm-${instrumentKey.replace(/[^A-Za-z0-9]/g, "_")}-${day}`;

/**
 * Queues a warm-up for an instrument whose stored history is too short for its indicators.
 * The job id carries the IST date, so an instrument is warmed up at most once a day.
 */
export async function queueWarmUpIfNeeded(s: Services, instrumentKey: string, specs = specsFor(s.ruleBook.forInstrument(instrumentKey))): Promise<boolean> {
  const needed = candlesNeeded(specs);
  // The in-memory state already holds enough candles: no need to count rows in SQLite every minute.
  if ((s.indicators.candlesSeen(instrumentKey) ?? 0) >= needed) return false;
  if (s.candles.stats(instrumentKey, "1m").count >= needed) return false;
  const day = new Date(s.clock() + 330 * 60_000).toISOString().slice(0, 10);
  await s.queues["warm-up-candles"].add("warm-up-candles", { instrumentKey }, { jobId: warmUpJobId(instrumentKey, day), removeOnComplete: true, removeOnFail: true });
  return true;
}
