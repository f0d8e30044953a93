import type { Job } from "bullmq";
import { istParts } from "../src/market/calendar.js";
import { buildDigest } from "../src/portfolio/digest.js";
import { isShutdown } from "../src/lifecycle/abort.js";
import type { Services } from "../src/services.js";

export interface DigestJobData {
  when: "open" | "close";
}

/** How long after a session's close its close digest goes: 15:45 after the normal 15:30 close. */
export const CLOSE_DIGEST_AFTER_MS = 15 * 60_000;

/** The job id of a close digest put off until a late session has closed: one per IST date. */
export const deferredCloseDigestId = (date: string) => `digest-close-${date}`;

export type DigestResult = { sent: number; skipped: number } | { skipped: string } | { deferredUntil: number };

/**
 * 08:45 and 15:45 IST on trading days (special sessions included): each linked user's holdings, positions and day P&L.
 * On a day whose session is still to close at 15:45 (an evening Muhurat session), the close digest is put off until
 * 15 minutes after that close instead, once a day. Users whose login expired get the morning login reminder instead
 * (jobs/token-reminder).
 */
export async function portfolioDigest(job: Job<DigestJobData>, s: Services): Promise<DigestResult> {
  if (!s.upstox) return { skipped: "simulator mode: no portfolios" };
  const now = s.clock();
  await s.calendar.sync();
  const session = s.calendar.session(new Date(now));
  if (!session) return { skipped: "not a trading day" };
  const date = istParts(new Date(now)).date;
  if (job.data.when === "close" && now < session.end) {
    const at = session.end + CLOSE_DIGEST_AFTER_MS;
    // Only a close later that same day (not SIMULATOR_ALWAYS_OPEN's day-long session).
    if (istParts(new Date(at)).date === date) {
      // A fixed id: a second run (a restart, a retry) finds it queued or done and adds nothing.
      await s.queues["portfolio-digest"].add("portfolio-digest", { when: "close" } satisfies DigestJobData, {
        jobId: deferredCloseDigestId(date),
        delay: at - now,
      });
      s.log.info({ date, at: new Date(at).toISOString() }, "close digest put off until the session has closed");
      return { deferredUntil: at };
    }
  }
  const ids: number[] = [];
  let skipped = 0;
  for (const userId of s.users.activeIds()) {
    const user = s.users.get(userId);
    const session = s.upstox.tokens.session(userId);
    if (!user || !session) {
      skipped++;
      continue;
    }
    if (!s.notifier.channels(user, "portfolio_digest", now).length) continue;
    try {
      const [holdings, positions] = await Promise.all([s.upstox.client.getHoldings(session), s.upstox.client.getPositions(session)]);
      if (!holdings.length && !positions.length) continue;
      const payload = buildDigest(job.data.when, date, holdings, positions);
      ids.push(...s.notifier.record({ user, kind: "portfolio_digest", dedupKey: `digest:${userId}:${date}:${job.data.when}`, payload: { ...payload }, now }));
    } catch (err) {
      // The shutdown is not this user's failure: stop the job, the rest is not skipped silently.
      if (isShutdown(err)) throw err;
      // One user's failure (expired token, Upstox hiccup) must not cost everyone else their digest.
      skipped++;
      s.log.warn({ userId, err: (err as Error).message }, "portfolio digest skipped for a user");
    }
  }
  await s.notifier.queue(ids);
  return { sent: ids.length, skipped };
}
