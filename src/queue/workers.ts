import type { Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { isShutdown } from "../lifecycle/abort.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics.js";
import type { RedisWatch } from "../redis/watch.js";
import { JobFailureLog } from "./job-failures.js";
import { createWorker, QUEUE_NAMES, type QueueName } from "./queues.js";

/** What a worker needs of a job definition (jobs/index.ts), with the services already bound. */
export interface RunnableJob {
  processor: (job: Job, token?: string) => Promise<unknown>;
  concurrency: number;
}

export interface RunningWorkers {
  /** Waits for active jobs (forced at once when Redis is gone: nothing could finish). */
  close: () => Promise<void>;
  /** Drops the workers' connections. */
  abandon: () => Promise<void>;
}

/**
 * One worker per queue, each running its job's processor; every outcome counted, failures
 * logged through one rate-limited log, and a job stopped by the shutdown told as such.
 */
export function startWorkers(deps: {
  connection: Redis;
  prefix: string;
  jobs: Record<QueueName, RunnableJob>;
  log: Logger;
  metrics: Metrics;
  redis: RedisWatch;
}): RunningWorkers {
  const { log, metrics } = deps;
  const failures = new JobFailureLog(log);
  const report = (queue: QueueName, job: Job | undefined, err?: Error) => {
    if (err && isShutdown(err)) {
      metrics.jobs.inc({ queue, outcome: "interrupted" });
      // Notifications go back to the queue (jobs/notify); scheduled work runs at its next time.
      return log.info({ queue, jobId: job?.id }, `job ${queue} stopped by the shutdown`);
    }
    metrics.jobs.inc({ queue, outcome: err ? "failed" : "completed" });
    if (!err) return failures.recovered(queue);
    metrics.errors.inc({ where: queue });
    failures.failed(queue, job, err);
  };
  const workers: Worker[] = QUEUE_NAMES.map((name) =>
    createWorker(deps.connection, deps.prefix, { queue: name, processor: deps.jobs[name].processor, concurrency: deps.jobs[name].concurrency }, report),
  );
  for (const w of workers) w.on("error", (err) => deps.redis.report(err, `worker ${w.name}`));
  return {
    close: () => Promise.all(workers.map((w) => w.close(!deps.redis.up()))).then(() => undefined),
    abandon: () => Promise.all(workers.map((w) => w.disconnect().catch(() => {}))).then(() => undefined),
  };
}
