import type { Job } from "bullmq";
import type { Services } from "../src/services.js";

/**
 * Daily: one-minute candles older than CANDLE_RETENTION_DAYS go, so the database stops growing.
 * In short transactions with pauses between them: the poller and workers keep writing meanwhile.
 */
export async function pruneCandles(_job: Job, s: Services): Promise<{ removed: number }> {
  const removed = await s.candles.prune("1m", s.clock() - s.config.candleRetentionDays * 86_400_000);
  if (removed) s.log.info({ removed }, "old candles pruned");
  return { removed };
}
