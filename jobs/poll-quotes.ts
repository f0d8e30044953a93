import type { Job } from "bullmq";
import { enqueueNotifications } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";
import { evaluateQuotes } from "../src/signals/engine.js";

export type PollQuotesResult =
  | { skipped: "paused" | "market closed" | "nothing to poll" }
  | { instruments: number; quotes: number; fired: number };

/**
 * One market poll: the distinct instruments any active user watches or alerts on, fetched
 * together, cached, and run through the alert rules.
 */
export async function pollQuotes(_job: Job, s: Services): Promise<PollQuotesResult> {
  const now = s.clock();
  if (await s.pollState.isPaused()) {
    s.metrics.polls.inc({ outcome: "paused" });
    return { skipped: "paused" };
  }
  if (!s.marketOpen(new Date(now))) {
    s.metrics.polls.inc({ outcome: "market_closed" });
    return { skipped: "market closed" };
  }
  const keys = s.watchlists.instrumentKeysInUse();
  if (!keys.length) {
    await s.pollState.recordPoll(now, new Map());
    s.metrics.polls.inc({ outcome: "empty" });
    return { skipped: "nothing to poll" };
  }
  const quotes = await s.quotes.getQuotes(keys);
  await s.pollState.recordPoll(now, quotes);
  s.metrics.polls.inc({ outcome: "ok" });
  s.metrics.quotes.inc(quotes.size);

  const { fired, notificationIds } = evaluateQuotes(quotes, { rules: s.rules, users: s.users, outbox: s.outbox, now });
  for (const f of fired) {
    s.metrics.alerts.inc({ kind: f.kind });
    s.log.info({ ruleId: f.ruleId, userId: f.userId, signalId: f.signalId }, `🔔 signal: ${f.symbol} ${f.kind.replace("_", " ")} at ₹${f.price}`);
  }
  await enqueueNotifications(s.queues, notificationIds, s.delivery);
  return { instruments: keys.length, quotes: quotes.size, fired: fired.length };
}
