import type { Job } from "bullmq";
import { istParts } from "../src/market/calendar.js";
import { channelsFor } from "../src/notify/preferences.js";
import { buildDigest } from "../src/portfolio/digest.js";
import { enqueueNotifications } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";

export interface DigestJobData {
  when: "open" | "close";
}

/**
 * 08:45 and 15:45 IST on trading days (special sessions included): each linked user's holdings, positions and day P&L.
 * Users whose login expired get the morning login reminder instead (jobs/token-reminder).
 */
export async function portfolioDigest(job: Job<DigestJobData>, s: Services): Promise<{ sent: number; skipped: number } | { skipped: string }> {
  if (!s.upstox) return { skipped: "simulator mode: no portfolios" };
  const now = s.clock();
  await s.calendar.sync();
  if (!s.calendar.isTradingDay(new Date(now))) return { skipped: "not a trading day" };
  const date = istParts(new Date(now)).date;
  const ids: number[] = [];
  let skipped = 0;
  for (const userId of s.users.activeIds()) {
    const user = s.users.get(userId);
    const session = s.upstox.tokens.session(userId);
    if (!user || !session) {
      skipped++;
      continue;
    }
    const channels = channelsFor(user, "portfolio_digest", now);
    if (!channels.length) continue;
    try {
      const [holdings, positions] = await Promise.all([s.upstox.client.getHoldings(session), s.upstox.client.getPositions(session)]);
      if (!holdings.length && !positions.length) continue;
      const payload = buildDigest(job.data.when, date, holdings, positions);
      for (const channel of channels)
        ids.push(s.outbox.enqueueRow({ userId, channel, kind: "portfolio_digest", dedupKey: `digest:${userId}:${date}:${job.data.when}:${channel}`, payload: { ...payload } }));
    } catch (err) {
      // One user's failure (expired token, Upstox hiccup) must not cost everyone else their digest.
      skipped++;
      s.log.warn({ userId, err: (err as Error).message }, "portfolio digest skipped for a user");
    }
  }
  await enqueueNotifications(s.queues, ids, s.delivery);
  return { sent: ids.length, skipped };
}
