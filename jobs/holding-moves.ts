import type { Job } from "bullmq";
import { istParts } from "../src/market/calendar.js";
import { holdingMoves } from "../src/portfolio/digest.js";
import { isShutdown } from "../src/lifecycle/abort.js";
import type { Services } from "../src/services.js";

/**
 * Every few minutes while the market is open: users who asked (/settings holdings 3%) hear
 * when a holding has moved that much today, once per holding, direction and day.
 */
export async function checkHoldingMoves(_job: Job, s: Services): Promise<{ alerts: number } | { skipped: string }> {
  if (!s.upstox) return { skipped: "simulator mode: no holdings" };
  const now = s.clock();
  await s.calendar.sync();
  if (!s.marketOpen(new Date(now))) return { skipped: "market closed" };
  const date = istParts(new Date(now)).date;
  const ids: number[] = [];
  for (const userId of s.users.activeIds()) {
    const user = s.users.get(userId);
    const threshold = user?.prefs.holdingMovePct;
    const session = s.upstox.tokens.session(userId);
    if (!user || !threshold || !session) continue;
    if (!s.notifier.channels(user, "holding_move", now).length) continue;
    try {
      for (const move of holdingMoves(await s.upstox.client.getHoldings(session), threshold))
        ids.push(
          ...s.notifier.record({
            user,
            kind: "holding_move",
            dedupKey: `holding:${userId}:${move.instrumentKey}:${date}:${move.direction}`,
            payload: { ...move.payload },
            now,
          }),
        );
    } catch (err) {
      // The shutdown is not this user's failure: stop the job, the rest is not skipped silently.
      if (isShutdown(err)) throw err;
      s.log.warn({ userId, err: (err as Error).message }, "holding check skipped for a user");
    }
  }
  await s.notifier.queue(ids);
  return { alerts: ids.length };
}
