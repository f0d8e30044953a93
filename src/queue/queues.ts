import { Queue, Worker, type Job, type Processor } from "bullmq";
import type { Redis } from "ioredis";

/** One queue per job name, one processor per queue (see jobs/). */
export const QUEUE_NAMES = [
  "poll-quotes",
  "fetch-candles",
  "warm-up-candles",
  "refresh-bar-history",
  "notify",
  "sweep-outbox",
  "backup",
  "refresh-instruments",
  "refresh-calendar",
  "prune-candles",
  "portfolio-digest",
  "holding-moves",
  "token-reminder",
  "order-sync",
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type Queues = Record<QueueName, Queue>;

export function createQueues(connection: Redis, prefix: string): Queues {
  const make = (name: QueueName) =>
    new Queue(name, {
      connection,
      prefix,
      defaultJobOptions: { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } },
    });
  return Object.fromEntries(QUEUE_NAMES.map((n) => [n, make(n)])) as Queues;
}

/** The job id of a notification's delivery: one queued job per outbox row at a time. */
export const notifyJobId = (notificationId: number) => `n-${notificationId}`;

/** How a notify job is retried: BullMQ attempts with exponential backoff starting at `backoffMs`. */
export interface DeliveryPolicy {
  attempts: number;
  backoffMs: number;
}

export const DEFAULT_DELIVERY: DeliveryPolicy = { attempts: 6, backoffMs: 2000 };

/** The delay BullMQ waits before the attempt after `attemptsMade` failed ones (exponential backoff). */
export const retryDelayMs = (policy: DeliveryPolicy, attemptsMade: number) => policy.backoffMs * 2 ** Math.max(0, attemptsMade - 1);

/**
 * The producer of notify jobs. Only the Notifier (src/notify/notifier.ts) calls it: the app
 * queues rows through Notifier.queue, which refuses to run before the rows are committed.
 */
export async function enqueueNotifications(
  queues: Pick<Queues, "notify">,
  ids: readonly number[],
  policy: DeliveryPolicy = DEFAULT_DELIVERY,
  delayMsOf?: (id: number) => number,
): Promise<void> {
  if (!ids.length) return;
  await queues.notify.addBulk(
    ids.map((id) => {
      const delay = delayMsOf?.(id) ?? 0;
      return {
        name: "notify",
        data: { notificationId: id },
        opts: {
          jobId: notifyJobId(id),
          ...(delay > 0 ? { delay } : {}),
          attempts: policy.attempts,
          backoff: { type: "exponential", delay: policy.backoffMs },
          // Completed ids must not linger, or a sweeper re-queue of the same row would be ignored.
          removeOnComplete: true,
          removeOnFail: true,
        },
      };
    }),
  );
}

export interface WorkerSpec<T = unknown> {
  queue: QueueName;
  processor: Processor<T>;
  concurrency?: number;
}

export function createWorker<T>(
  connection: Redis,
  prefix: string,
  spec: WorkerSpec<T>,
  onDone: (queue: QueueName, job: Job | undefined, err?: Error) => void,
): Worker<T> {
  const worker = new Worker<T>(spec.queue, spec.processor, {
    connection,
    prefix,
    concurrency: spec.concurrency ?? 1,
    autorun: true,
  });
  worker.on("completed", (job) => onDone(spec.queue, job));
  worker.on("failed", (job, err) => onDone(spec.queue, job, err));
  return worker;
}
