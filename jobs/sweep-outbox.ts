import type { Job } from "bullmq";
import { notifyJobId } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";

/** Rows still pending a minute after they were due were orphaned (crash, lost job): queue them again. */
export const SWEEP_GRACE_MS = 60_000;

export interface SweepData {
  /** Shorter grace at start and after Redis lost its jobs (re-queuing is by job id, so safe). */
  graceMs?: number;
}

/**
 * Queues again the pending rows whose job is gone (a crash between the row and its job, a
 * Redis restarted empty). A row whose job still exists is left to it: only orphans are
 * queued and counted, so the warning says what was really recovered.
 */
export async function sweepOutbox(job: Job<SweepData>, s: Services): Promise<{ requeued: number }> {
  const due = s.outbox.duePending(s.clock() - (job.data?.graceMs ?? SWEEP_GRACE_MS));
  if (!due.length) return { requeued: 0 };
  const pipeline = s.redis.pipeline();
  for (const id of due) pipeline.exists(s.queues.notify.toKey(notifyJobId(id)));
  const exists = (await pipeline.exec()) ?? [];
  const orphans = due.filter((_, i) => exists[i]?.[1] !== 1);
  await s.notifier.queue(orphans);
  if (orphans.length) s.log.warn({ count: orphans.length }, "re-queued pending notifications whose jobs were lost");
  return { requeued: orphans.length };
}
