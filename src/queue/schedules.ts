import type { Redis } from "ioredis";
import cron, { type ScheduledTask } from "node-cron";
import type { Logger } from "../log/logger.js";
import type { QueueName, Queues } from "./queues.js";

export const MARKET_TZ = "Asia/Kolkata";

type Repeat = { pattern: string; tz: string } | { every: number };

/** One BullMQ job scheduler: runs once per cluster, whichever process holds the scheduler role. */
export interface JobSchedule {
  queue: QueueName;
  id: string;
  repeat: Repeat;
  data?: Record<string, unknown>;
}

const ist = (pattern: string): Repeat => ({ pattern, tz: MARKET_TZ });

/**
 * When to poll: every N seconds, at any hour of any day. The job itself asks the calendar
 * (normal hours, holidays, and Upstox's special sessions: a Sunday budget day, an evening
 * Muhurat session), so a session is polled whenever it happens, and a closed market costs
 * one cheap check. Aligned to the minute when N divides 60.
 */
export function pollSchedule(seconds: number): Repeat {
  if (seconds < 60 && 60 % seconds === 0) return ist(`*/${seconds} * * * * *`);
  return { every: seconds * 1000 };
}

/**
 * Every schedule the cluster runs. Market-hours work (polls, candles, order book, holding
 * moves) runs around the clock and the jobs skip when the calendar says closed; daily work
 * runs every day and skips days that are not trading days (special sessions included).
 */
export function jobSchedules(opts: { pollIntervalSeconds: number; backupCron: string; upstox: boolean }): JobSchedule[] {
  const all: JobSchedule[] = [
    { queue: "poll-quotes", id: "poll-quotes", repeat: pollSchedule(opts.pollIntervalSeconds) },
    { queue: "sweep-outbox", id: "sweep-outbox", repeat: { every: 60_000 } },
    { queue: "backup", id: "backup", repeat: ist(opts.backupCron) },
    // Second 5 of every minute: the minute that just closed has its candle by then.
    { queue: "fetch-candles", id: "fetch-candles", repeat: ist("5 * * * * *") },
    { queue: "prune-candles", id: "prune-candles", repeat: ist("0 17 * * *") },
  ];
  if (!opts.upstox) return all;
  return [
    ...all,
    { queue: "refresh-calendar", id: "refresh-calendar", repeat: ist("0 6 * * *") },
    { queue: "portfolio-digest", id: "digest-open", repeat: ist("45 8 * * *"), data: { when: "open" } },
    { queue: "portfolio-digest", id: "digest-close", repeat: ist("45 15 * * *"), data: { when: "close" } },
    { queue: "token-reminder", id: "token-reminder", repeat: ist("30 8 * * *") },
    { queue: "order-sync", id: "order-sync", repeat: ist("*/30 * * * * *") },
    { queue: "holding-moves", id: "holding-moves", repeat: ist("0 */5 * * * *") },
    // Upstox publishes the day's instruments around 06:00 IST.
    { queue: "refresh-instruments", id: "refresh-instruments", repeat: ist("30 6 * * *") },
  ];
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
    for (const s of this.deps.schedules) await this.deps.queues[s.queue].upsertJobScheduler(s.id, s.repeat, { name: s.queue, ...(s.data ? { data: s.data } : {}) });
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
    const run = () =>
      void this.check().catch((err: unknown) => this.deps.log.debug({ err: (err as Error).message }, "schedule check failed; will retry"));
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
