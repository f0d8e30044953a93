import type { Job } from "bullmq";
import { deliverSilently } from "../src/notify/preferences.js";
import { renderNotification } from "../src/notify/render.js";
import { retryDelayMs } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";

export interface NotifyJobData {
  notificationId: number;
}

export type NotifyResult = { sent: true; channel: string } | { skipped: "not pending" | "no recipient" };

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Delivers one outbox row. The row is marked sent only after the send succeeded; a failure
 * is recorded on the row and rethrown so BullMQ retries with backoff, and the last failed
 * attempt marks the row dead with its error kept.
 */
export async function deliverNotification(job: Job<NotifyJobData>, s: Services): Promise<NotifyResult> {
  const n = s.outbox.get(job.data.notificationId);
  if (!n || n.status !== "pending") return { skipped: "not pending" };
  const user = n.userId === null ? undefined : s.users.get(n.userId);
  const recipient = n.channel === "telegram" ? user?.telegramId : user?.email;
  if (!user || recipient === null || recipient === undefined || user.status !== "active") {
    s.outbox.markDead(n.id, user ? `user is ${user.status} or has no ${n.channel} address` : "user no longer exists");
    s.metrics.notifications.inc({ channel: n.channel, outcome: "dropped" });
    return { skipped: "no recipient" };
  }
  try {
    const msg = renderNotification(n.kind, n.payload);
    if (n.channel === "telegram") {
      await s.telegram.sendHtml(Number(recipient), msg.telegramHtml, { silent: deliverSilently(user, n.kind, s.clock()) });
    } else {
      const sent = await s.email.send({ to: String(recipient), ...msg.email });
      s.log.info({ notificationId: n.id, file: sent.file }, `📧 email → ${recipient}: ${msg.email.subject}`);
    }
  } catch (err) {
    const attempts = job.opts.attempts ?? 1;
    const last = job.attemptsMade + 1 >= attempts;
    if (last) s.outbox.markDead(n.id, errorText(err));
    // Due again when BullMQ's backoff brings the next attempt; the sweeper only acts a grace period later.
    else {
      const b = job.opts.backoff;
      const backoffMs = typeof b === "number" ? b : (b?.delay ?? 0);
      s.outbox.markFailed(n.id, errorText(err), s.clock() + retryDelayMs({ attempts, backoffMs }, job.attemptsMade + 1));
    }
    s.metrics.notifications.inc({ channel: n.channel, outcome: last ? "dead" : "retry" });
    throw err;
  }
  s.outbox.markSent(n.id);
  s.metrics.notifications.inc({ channel: n.channel, outcome: "sent" });
  return { sent: true, channel: n.channel };
}
