import type { Job } from "bullmq";
import type { Logger } from "../log/logger.js";
import { RateLimitWaitTooLongError } from "../redis/rate-limit.js";
import { UpstoxError } from "../upstox/errors.js";
import { NoMarketDataSessionError } from "../upstox/quote-source.js";

/** The same failure of the same queue is logged again at most this often. */
export const REPEAT_EVERY_MS = 60_000;

/** Failures that are conditions of the world (Upstox, limits, no login), not bugs: no stack. */
export const isExpectedFailure = (err: Error): boolean =>
  err instanceof UpstoxError || err instanceof NoMarketDataSessionError || err instanceof RateLimitWaitTooLongError;

/**
 * How failed jobs reach the log: a poll failing every 15 s for the same reason is one line
 * and then a reminder a minute with the count, not a wall of stacks; an expected condition
 * (Upstox down, no linked login, a rate limit) is a warning without a stack; when the queue
 * works again that is said once.
 */
export class JobFailureLog {
  private readonly last = new Map<string, { message: string; at: number; repeats: number; failures: number }>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  failed(queue: string, job: Job | undefined, err: Error): void {
    const prev = this.last.get(queue);
    const at = this.now();
    const ctx = { queue, jobId: job?.id, attempt: job?.attemptsMade };
    if (prev && prev.message === err.message && at - prev.at < REPEAT_EVERY_MS) {
      prev.repeats++;
      prev.failures++;
      return void this.log.debug({ ...ctx, err: err.message }, `job ${queue} failed again`);
    }
    const repeats = prev && prev.message === err.message ? prev.repeats : 0;
    this.last.set(queue, { message: err.message, at, repeats: 0, failures: (prev?.failures ?? 0) + 1 });
    const extra = repeats ? { repeatsSinceLastLine: repeats } : {};
    if (isExpectedFailure(err)) this.log.warn({ ...ctx, ...extra, err: err.message, kind: err.name }, `job ${queue} failed: ${err.message}`);
    else this.log.error({ ...ctx, ...extra, err }, `job ${queue} failed`);
  }

  recovered(queue: string): void {
    const prev = this.last.get(queue);
    if (!prev) return;
    this.last.delete(queue);
    this.log.info({ queue, failures: prev.failures }, `job ${queue} works again`);
  }
}
