import { Job, type Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { createQueues, type Queues } from "../../src/queue/queues.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "./env.js";
import { waitUntil } from "./wait.js";

/**
 * The bot's queues on a prefix of this test file's own, opened before its tests and removed
 * after (a Notifier needs them even where a test only records rows). Call at file level.
 */
export function fileQueues(): () => Queues {
  let redis: Redis;
  let queues: Queues;
  const prefix = uniquePrefix();
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queues = createQueues(redis, prefix);
  });
  afterAll(async () => {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    redis.disconnect();
    await deletePrefix(prefix);
  });
  return () => queues;
}

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
