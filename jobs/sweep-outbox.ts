import type { Job } from "bullmq";
import { enqueueNotifications } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";

/** Rows still pending a minute after they were due were orphaned (crash, lost job): queue them again. */
export const SWEEP_GRACE_MS = 60_000;

export interface SweepData {
  /** Shorter grace after Redis lost its jobs (the schedule keeper asks for it). */
  graceMs?: number;
}

export async function sweepOutbox(job: Job<SweepData>, s: Services): Promise<{ requeued: number }> {
  const ids = s.outbox.duePending(s.clock() - (job.data?.graceMs ?? SWEEP_GRACE_MS));
  await enqueueNotifications(s.queues, ids, s.delivery);
  if (ids.length) s.log.warn({ count: ids.length }, "re-queued pending notifications left behind");
  return { requeued: ids.length };
}
