import type { Redis } from "ioredis";
import cron, { type ScheduledTask } from "node-cron";
import type { Logger } from "../log/logger.js";
import type { QueueName, Queues } from "./queues.js";

export const MARKET_TZ = "Asia/Kolkata";

type Repeat = { pattern: string; tz: string } | { every: number };

/** One BullMQ job scheduler: runs once per cluster, whichever process holds the scheduler role. The list is jobs/index.ts. */
export interface JobSchedule {
  queue: QueueName;
  id: string;
  repeat: Repeat;
  data?: Record<string, unknown>;
}

/**
 * When to poll: every N seconds, at any hour of any day. The job itself asks the calendar
 * (normal hours, holidays, and Upstox's special sessions: a Sunday budget day, an evening
 * Muhurat session), so a session is polled whenever it happens, and a closed market costs
 * one cheap check. Aligned to the minute when N divides 60.
 */
export function pollSchedule(seconds: number): Repeat {
  if (seconds < 60 && 60 % seconds === 0) return { pattern: `*/${seconds} * * * * *`, tz: MARKET_TZ };
  return { every: seconds * 1000 };
}

/** How often each scheduler process checks that Redis still holds its schedules. */
export const SCHEDULE_CHECK_PATTERN = "*/2 * * * * *";

/**
 * Keeps the cluster's job schedulers registered. They live in Redis, so a Redis restarted
 * empty (or flushed) loses them, and with them every poll and the outbox sweeper. Every
 * process with the scheduler role checks a marker key every 2 s (one EXISTS) and on every
 * reconnect; when it is gone, it registers every schedule again (upserts are idempotent, so
 * two processes doing it at once is harmless) and runs the work a loss may have skipped:
 * a poll now, a sweep of the outbox rows whose jobs went with Redis, and the calendar.
 */
export class ScheduleKeeper {
  private readonly marker: string;
  private task: ScheduledTask | undefined;
  private checking: Promise<boolean> | undefined;
  private closed = false;

  constructor(
    private readonly deps: {
      queues: Queues;
      redis: Redis;
      prefix: string;
      schedules: readonly JobSchedule[];
      log: Logger;
      /** Work to queue after the schedules were found missing (not at the first registration). */
      onRestored?: () => Promise<void>;
    },
  ) {
    this.marker = `${deps.prefix}:schedules:registered`;
  }

  /** Registers every schedule and sets the marker. */
  async register(): Promise<void> {
    for (const s of this.deps.schedules)
      await this.deps.queues[s.queue].upsertJobScheduler(s.id, s.repeat, { name: s.queue, ...(s.data ? { data: s.data } : {}) });
    await this.deps.redis.set(this.marker, String(Date.now()));
  }

  /** Registers again when the marker is gone. Returns whether it had to. Never runs twice at once. */
  check(): Promise<boolean> {
    return (this.checking ??= this.checkOnce().finally(() => (this.checking = undefined)));
  }

  private async checkOnce(): Promise<boolean> {
    if (this.closed || this.deps.redis.status !== "ready") return false;
    // One process wins the marker and does the catching up; the others see it set.
    const won = (await this.deps.redis.set(this.marker, String(Date.now()), "NX")) === "OK";
    if (!won || this.closed) return false;
    this.deps.log.warn({ schedules: this.deps.schedules.length }, "job schedules were missing from Redis (restarted or flushed): registered them again");
    try {
      await this.register();
    } catch (err) {
      // Half registered: give the marker back, so the next check (here or elsewhere) does it again.
      await this.deps.redis.del(this.marker).catch(() => {});
      throw err;
    }
    if (!this.closed) await this.deps.onRestored?.();
    return true;
  }

  /** Starts the per-process check (node-cron: it is this process's own timer, not cluster work). */
  watch(): void {
    const run = () => void this.check().catch((err: unknown) => this.deps.log.debug({ err: (err as Error).message }, "schedule check failed; will retry"));
    this.task = cron.schedule(SCHEDULE_CHECK_PATTERN, run, { name: "schedule-check", noOverlap: true });
    this.deps.redis.on("ready", run);
    this.stopWatching = () => {
      this.deps.redis.off("ready", run);
      return this.task?.destroy();
    };
  }

  private stopWatching: () => void | Promise<void> = () => {};

  /** Stops checking. A check in progress is not waited for: with Redis gone it could wait forever. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopWatching();
  }
}
