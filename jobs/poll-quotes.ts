import type { Job } from "bullmq";
import { formatRupees } from "../src/format/money.js";
import type { Services } from "../src/services.js";
import { evaluateQuotes } from "../src/signals/engine.js";
import { queueWarmUpIfNeeded } from "./warm-up-candles.js";

export type PollQuotesResult =
  | { skipped: "paused" | "market closed" | "nothing to poll" | "streaming" }
  | { instruments: number; quotes: number; fired: number; stale: number; warmUps?: number; streamed?: number };

/**
 * One market poll, only while NSE is open: the distinct instruments any active user
 * watches or alerts on, fetched together (500 a call), cached in Redis, and run through
 * the price rules. Quotes older than two poll intervals are not acted on. Instruments
 * quoted for the first time (newly watched) get their candle rules' history queued at once,
 * not a minute later at the next candle fetch.
 *
 * With MARKET_DATA_MODE=stream the poll is the fallback: instruments a live market feed
 * delivers are left to it, and only the rest (over the feed's limits) are polled; when no
 * feed is live (down, stalled, or its holder gone), everything is polled again, so REST
 * takes over within one interval and hands back as soon as the feed is live. Instruments the
 * stream delivers get their first history from the next candle fetch (within a minute).
 */
export async function pollQuotes(_job: Job, s: Services): Promise<PollQuotesResult> {
  const now = s.clock();
  if (await s.pollState.isPaused()) {
    s.metrics.polls.inc({ outcome: "paused" });
    return { skipped: "paused" };
  }
  await s.calendar.sync();
  if (!s.marketOpen(new Date(now))) {
    s.metrics.polls.inc({ outcome: "market_closed" });
    return { skipped: "market closed" };
  }
  let keys = s.watchlists.instrumentKeysInUse();
  let streamed: number | undefined;
  if (s.config.marketData.mode === "stream" && keys.length) {
    const covered = await s.feedStatus.liveCoverage(now, s.config.marketData.stallSeconds * 1000);
    if (covered) {
      const rest = keys.filter((k) => !covered.has(k));
      streamed = keys.length - rest.length;
      if (!rest.length) {
        await s.pollState.recordPoll(now, new Map());
        s.metrics.polls.inc({ outcome: "streaming" });
        // The stream's commits grow the WAL too: folded back here, in whichever process runs
        // the poll, rather than by SQLite inside one of the stream's commits.
        if (checkpointDue(now, s.config.pollIntervalSeconds * 1000)) s.db.pragma("wal_checkpoint(PASSIVE)");
        return { skipped: "streaming" };
      }
      keys = rest;
    } else {
      // The stream should be delivering and is not: this poll covers for it.
      s.metrics.feedFallbackSeconds.inc(s.config.pollIntervalSeconds);
      s.metrics.polls.inc({ outcome: "fallback" });
    }
  }
  if (!keys.length) {
    await s.pollState.recordPoll(now, new Map());
    s.metrics.polls.inc({ outcome: "empty" });
    return { skipped: "nothing to poll" };
  }
  // The last poll's prices, whichever process made it: crossings are measured from them.
  const previous = await s.pollState.latestQuotes(keys);
  const quotes = await s.quotes.getQuotes(keys);
  await s.pollState.recordPoll(now, quotes);
  s.metrics.polls.inc({ outcome: "ok" });
  s.metrics.quotes.inc(quotes.size);

  const previousPrices = new Map<string, number>();
  for (const [k, q] of previous) previousPrices.set(k, q.lastPrice);
  const result = evaluateQuotes(quotes, previousPrices, {
    db: s.db,
    book: s.ruleBook,
    rules: s.rules,
    users: s.users,
    notifier: s.notifier,
    now,
    staleAfterMs: 2 * s.config.pollIntervalSeconds * 1000,
  });
  for (const f of result.fired) {
    s.metrics.alerts.inc({ kind: f.kind });
    s.log.info(
      { ruleId: f.ruleId, userId: f.userId, signalId: f.signalId, autoPaused: f.autoPaused || undefined },
      `🔔 signal: ${f.symbol} ${f.kind.replace(/_/g, " ")} at ${formatRupees(f.price)}`,
    );
  }
  if (result.stale) s.metrics.polls.inc({ outcome: "stale_quotes" }, result.stale);
  await s.notifier.queue(result.notificationIds);
  if (checkpointDue(now, s.config.pollIntervalSeconds * 1000)) s.db.pragma("wal_checkpoint(PASSIVE)");
  const warmUps = await queueFirstWarmUps(
    s,
    [...quotes.keys()].filter((k) => !previous.has(k)),
  );
  return {
    instruments: keys.length,
    quotes: quotes.size,
    fired: result.fired.length,
    stale: result.stale,
    ...(warmUps ? { warmUps } : {}),
    ...(streamed ? { streamed } : {}),
  };
}

/** How often the poll folds the WAL back into the database. */
export const CHECKPOINT_EVERY_MS = 20_000;

/**
 * Whether this poll (at `now`, the previous one `intervalMs` before) is the one that folds the
 * WAL back into the database, once its alerts are queued: the first poll past each 20 s mark.
 * Left to SQLite, the checkpoint (two fsyncs, 10-20 ms on a VM disk) runs inside whichever
 * commit takes the WAL past 1,000 pages, every dozen busy polls the evaluation's own, on the
 * alerts' path. Not after every poll: the first commit after a checkpoint rewrites the WAL
 * header with an fsync of its own (~4 ms).
 */
export function checkpointDue(now: number, intervalMs: number): boolean {
  return Math.floor(now / CHECKPOINT_EVERY_MS) !== Math.floor((now - intervalMs) / CHECKPOINT_EVERY_MS);
}

/** History for instruments quoted for the first time; a failure here is the candle fetch's to retry, not the poll's. */
async function queueFirstWarmUps(s: Services, fresh: readonly string[]): Promise<number> {
  if (!fresh.length) return 0;
  let queued = 0;
  try {
    s.ruleBook.refresh();
    for (const key of fresh) if (await queueWarmUpIfNeeded(s, key)) queued++;
  } catch (err) {
    s.log.warn({ err: (err as Error).message }, "could not queue history for newly watched instruments; the next candle fetch will");
  }
  return queued;
}
