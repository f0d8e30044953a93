import { Job, type Queue } from "bullmq";
import { waitUntil } from "./wait.js";

/** Adds a job, waits until a worker has finished it, and returns its result (throws if it failed). */
export async function runJob<T = unknown>(queue: Queue, data: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<{ job: Job; result: T }> {
  const added = await queue.add(queue.name, data);
  const done = await waitUntil(
    async () => {
      // The state first, then the job: a job read while still active has no return value yet.
      const state = await queue.getJobState(added.id!);
      if (state !== "completed" && state !== "failed") return undefined;
      const job = await Job.fromId(queue, added.id!);
      return job ? { job, state } : undefined;
    },
    { timeoutMs, what: `job ${queue.name}#${added.id} to finish` },
  );
  if (done.state === "failed") throw new Error(`job ${queue.name}#${added.id} failed: ${done.job.failedReason}`);
  return { job: done.job, result: done.job.returnvalue as T };
}

/** Stops a queue's scheduler and waits until nothing of it is queued or running, so the test alone drives it. */
export async function takeOverScheduler(queue: Queue, schedulerId = queue.name): Promise<void> {
  await queue.removeJobScheduler(schedulerId);
  await queue.drain(true);
  await waitUntil(
    async () => {
      const c = await queue.getJobCounts("waiting", "active", "delayed");
      return c.waiting === 0 && c.active === 0 && c.delayed === 0;
    },
    { what: `queue ${queue.name} to be idle` },
  );
}
