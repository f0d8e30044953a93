import type { Job } from "bullmq";
import type { MarketCandle } from "../src/market/types.js";
import type { Services } from "../src/services.js";
import { closeMinute } from "../src/signals/candle-close.js";
import { queueWarmUpIfNeeded } from "./warm-up-candles.js";

const MINUTE = 60_000;

export type FetchCandlesResult =
  { skipped: "paused" | "market closed" | "nothing to fetch" } | { candles: number; evaluated: number; fired: number; warmUps: number; streamed?: number };

/**
 * At each one-minute close: the just-closed candle of every instrument in use (batched,
 * 500 a call), stored, fed to the streaming indicators and run through the candle rules
 * (closeMinute). When the market stream already closed this minute from its own bars, only
 * the instruments it does not cover are fetched; the minute's claim in Redis makes the
 * stream and this job never both evaluate it. Instruments without enough history get a
 * warm-up job either way.
 */
export async function fetchCandles(_job: Job, s: Services): Promise<FetchCandlesResult> {
  const now = s.clock();
  if (await s.pollState.isPaused()) return { skipped: "paused" };
  await s.calendar.sync();
  // The candle that just closed started a minute ago: it counts if the market was open then.
  const closedMinute = Math.floor(now / MINUTE) * MINUTE - MINUTE;
  if (!s.marketOpen(new Date(closedMinute))) return { skipped: "market closed" };
  const keys = s.watchlists.instrumentKeysInUse();
  const inUse = new Set(keys);
  s.indicators.retain(inUse);
  s.timeframes.retain(inUse);
  if (!keys.length) return { skipped: "nothing to fetch" };

  let wanted: readonly string[] = keys;
  let streamed: number | undefined;
  if (s.config.marketData.mode === "stream" && !(await s.feedStatus.claimMinute(closedMinute, "rest"))) {
    // The stream closed this minute: what it covered is done; the rest is ours.
    const claim = await s.feedStatus.minuteClaim(closedMinute);
    const covered = claim?.by === "stream" ? claim.keys : new Set<string>();
    wanted = keys.filter((k) => !covered.has(k));
    streamed = keys.length - wanted.length;
  }

  const candles: Map<string, MarketCandle> = wanted.length ? await s.candleSource.getLastClosedCandles(wanted) : new Map<string, MarketCandle>();
  let warmUps = 0;
  s.ruleBook.refresh();
  for (const key of keys) if (await queueWarmUpIfNeeded(s, key)) warmUps++;
  const { evaluated, fired } = await closeMinute(s, candles, now);
  return { candles: candles.size, evaluated, fired, warmUps, ...(streamed !== undefined ? { streamed } : {}) };
}
