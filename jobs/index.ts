import type { Job } from "bullmq";
import type { Config } from "../src/config/load.js";
import type { QueueName } from "../src/queue/queues.js";
import { MARKET_TZ, pollSchedule, type JobSchedule } from "../src/queue/schedules.js";
import type { Services } from "../src/services.js";
import { backupJob } from "./backup.js";
import { fetchCandles } from "./fetch-candles.js";
import { checkHoldingMoves } from "./holding-moves.js";
import { deliverNotification, type NotifyJobData } from "./notify.js";
import { syncOrders } from "./order-sync.js";
import { pollQuotes } from "./poll-quotes.js";
import { portfolioDigest, type DigestJobData } from "./portfolio-digest.js";
import { pruneCandles } from "./prune-candles.js";
import { refreshBarHistory, type BarHistoryData } from "./refresh-bar-history.js";
import { refreshCalendarJob } from "./refresh-calendar.js";
import { refreshInstrumentsJob } from "./refresh-instruments.js";
import { sweepOutbox, type SweepData } from "./sweep-outbox.js";
import { tokenReminder } from "./token-reminder.js";
import { warmUpCandles, type WarmUpData } from "./warm-up-candles.js";

/** What a schedule may depend on: the settings, and whether an Upstox app is configured. */
export interface ScheduleContext {
  pollIntervalSeconds: number;
  backupCron: string;
  upstox: boolean;
}

type Schedule = Omit<JobSchedule, "queue">;

/** One job: its processor, how many run at once in a process, and when the cluster runs it. */
export interface JobDefinition {
  // The job's data is whatever its producer queued; each processor declares its own shape.
  processor: (job: Job<never>, s: Services, token?: string) => Promise<unknown>;
  concurrency?: (config: Config) => number;
  /** BullMQ job schedulers (once per cluster). Market-hours jobs run around the clock and ask the calendar. */
  schedules?: (ctx: ScheduleContext) => Schedule[];
}

const ist = (pattern: string) => ({ pattern, tz: MARKET_TZ });
const withUpstox = (ctx: ScheduleContext, list: Schedule[]) => (ctx.upstox ? list : []);

/**
 * The registry: every queue has exactly one entry (the compiler checks it against
 * QUEUE_NAMES), and the root runs what is listed here. A new job is a processor file, its
 * name in src/queue/queues.ts, and an entry here.
 */
export const JOBS = {
  "poll-quotes": { processor: pollQuotes, schedules: (c) => [{ id: "poll-quotes", repeat: pollSchedule(c.pollIntervalSeconds) }] },
  // Second 5 of every minute: the minute that just closed has its candle by then.
  "fetch-candles": { processor: fetchCandles, schedules: () => [{ id: "fetch-candles", repeat: ist("5 * * * * *") }] },
  // History is background work; two at a time keep the budget busy without hogging a process.
  "warm-up-candles": { processor: (job: Job<WarmUpData>, s) => warmUpCandles(job, s), concurrency: () => 2 },
  // Hourly and daily bars for rules on them and 52-week ranges: per instrument on demand, and
  // each evening after the day's sessions (a Muhurat one ends by 19:15) for every one in use.
  "refresh-bar-history": {
    processor: (job: Job<BarHistoryData>, s) => refreshBarHistory(job, s),
    concurrency: () => 2,
    schedules: (c) => withUpstox(c, [{ id: "refresh-bar-history", repeat: ist("45 19 * * *") }]),
  },
  notify: { processor: (job: Job<NotifyJobData>, s, token) => deliverNotification(job, s, token), concurrency: (config) => config.workerConcurrency },
  "sweep-outbox": { processor: (job: Job<SweepData>, s) => sweepOutbox(job, s), schedules: () => [{ id: "sweep-outbox", repeat: { every: 60_000 } }] },
  backup: { processor: backupJob, schedules: (c) => [{ id: "backup", repeat: ist(c.backupCron) }] },
  "prune-candles": { processor: pruneCandles, schedules: () => [{ id: "prune-candles", repeat: ist("0 17 * * *") }] },
  "refresh-calendar": { processor: refreshCalendarJob, schedules: (c) => withUpstox(c, [{ id: "refresh-calendar", repeat: ist("0 6 * * *") }]) },
  // Upstox publishes the day's instruments around 06:00 IST.
  "refresh-instruments": { processor: refreshInstrumentsJob, schedules: (c) => withUpstox(c, [{ id: "refresh-instruments", repeat: ist("30 6 * * *") }]) },
  "portfolio-digest": {
    processor: (job: Job<DigestJobData>, s) => portfolioDigest(job, s),
    schedules: (c) =>
      withUpstox(c, [
        { id: "digest-open", repeat: ist("45 8 * * *"), data: { when: "open" } },
        { id: "digest-close", repeat: ist("45 15 * * *"), data: { when: "close" } },
      ]),
  },
  "token-reminder": { processor: tokenReminder, schedules: (c) => withUpstox(c, [{ id: "token-reminder", repeat: ist("30 8 * * *") }]) },
  "order-sync": { processor: syncOrders, schedules: (c) => withUpstox(c, [{ id: "order-sync", repeat: ist("*/30 * * * * *") }]) },
  "holding-moves": { processor: checkHoldingMoves, schedules: (c) => withUpstox(c, [{ id: "holding-moves", repeat: ist("0 */5 * * * *") }]) },
} satisfies Record<QueueName, JobDefinition>;

/**
 * Every schedule the cluster runs, from the registry. Market-hours work (polls, candles,
 * order book, holding moves) runs around the clock and the jobs skip when the calendar says
 * closed; daily work runs every day and skips days that are not trading days (special
 * sessions included).
 */
export function jobSchedules(ctx: ScheduleContext): JobSchedule[] {
  return (Object.entries(JOBS) as Array<[QueueName, JobDefinition]>).flatMap(([queue, def]) => (def.schedules?.(ctx) ?? []).map((s) => ({ queue, ...s })));
}
