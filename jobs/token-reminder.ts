import type { Job } from "bullmq";
import { istParts } from "../src/market/calendar.js";
import type { Services } from "../src/services.js";

/** The reminder's login link lasts three hours: from 08:30 past the open, not the usual ten minutes. */
const REMINDER_LINK_TTL_S = 3 * 3600;

/**
 * 08:30 IST on trading days (a weekend special session too), before the 09:15 open: users whose Upstox login died at 03:30
 * get a reminder with a fresh one-time login link, once a day.
 */
export async function tokenReminder(_job: Job, s: Services): Promise<{ reminded: number } | { skipped: string }> {
  if (!s.upstox) return { skipped: "simulator mode: no Upstox logins" };
  const now = s.clock();
  await s.calendar.sync();
  if (!s.calendar.tradesOn(new Date(now))) return { skipped: "not a trading day" };
  const date = istParts(new Date(now)).date;
  const ids: number[] = [];
  let reminded = 0;
  for (const userId of s.users.activeIds()) {
    const user = s.users.get(userId);
    const state = s.upstox.tokens.state(userId);
    if (!user || state.state !== "expired") continue;
    if (!s.notifier.channels(user, "token_expiring", now).length) continue;
    const loginUrl = s.upstox.client.loginUrl(await s.oauth.create(userId, REMINDER_LINK_TTL_S));
    reminded++;
    ids.push(
      ...s.notifier.record({
        user,
        kind: "token_expiring",
        dedupKey: `login-reminder:${userId}:${date}`,
        payload: { loginUrl, expiresAt: state.expiredAt },
        now,
      }),
    );
  }
  await s.notifier.queue(ids);
  return { reminded };
}
