import type { Job } from "bullmq";
import { recordOrderSnapshot } from "../src/orders/track.js";
import { snapshotFromOrder } from "../src/orders/snapshot.js";
import { isShutdown } from "../src/lifecycle/abort.js";
import type { Services } from "../src/services.js";

/**
 * Every 30 s while the market is open: each linked user's order book, so fills and
 * rejections are told even when the Upstox postback is not configured or a post was lost.
 * Webhook and poll may report the same transition: the outbox dedup key makes it one message.
 */
export async function syncOrders(_job: Job, s: Services): Promise<{ users: number; notified: number } | { skipped: string }> {
  if (!s.upstox) return { skipped: "simulator mode: no orders" };
  const now = s.clock();
  await s.calendar.sync();
  if (!s.marketOpen(new Date(now))) return { skipped: "market closed" };
  const ids: number[] = [];
  let users = 0;
  for (const userId of s.users.activeIds()) {
    const session = s.upstox.tokens.session(userId);
    if (!session) continue;
    users++;
    try {
      for (const order of await s.upstox.client.getOrderBook(session))
        ids.push(...recordOrderSnapshot({ db: s.db, orders: s.orders, notifier: s.notifier, users: s.users, now }, userId, snapshotFromOrder(order)));
    } catch (err) {
      // The shutdown is not this user's failure: stop the job, the rest is not skipped silently.
      if (isShutdown(err)) throw err;
      s.log.warn({ userId, err: (err as Error).message }, "order book sync skipped for a user");
    }
  }
  await s.notifier.queue(ids);
  return { users, notified: ids.length };
}
