import { DelayedError, type Job } from "bullmq";
import { GrammyError } from "grammy";
import type { User } from "../src/db/repositories/users.js";
import type { Notification } from "../src/notify/outbox.js";
import { deliverSilently } from "../src/notify/preferences.js";
import { renderNotification } from "../src/notify/render.js";
import { retryDelayMs } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";
import { TELEGRAM_LIMIT } from "../src/format/telegram.js";
import { isShutdown } from "../src/lifecycle/abort.js";

export interface NotifyJobData {
  notificationId: number;
}

export type NotifyResult =
  { sent: true; channel: string; grouped: number } | { skipped: "not pending" | "no recipient" | "blocked" } | { delayed: "chat busy" | "rate limited" };

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const SEPARATOR = "\n\n";
/** While another worker holds the chat, check back this soon: it will probably have sent our row. */
const CHAT_BUSY_RETRY_MS = 400;

/**
 * Delivers one outbox row (and, on Telegram, every other pending row of the same chat as
 * one message). A row is marked sent only after the send succeeded. Failures are recorded
 * and retried with backoff; the last one marks the row dead and falls back to email. A
 * 429 waits exactly as long as Telegram asks, without using up an attempt; a 403 (bot
 * blocked) marks the user inactive.
 */
export async function deliverNotification(job: Job<NotifyJobData>, s: Services, token?: string): Promise<NotifyResult> {
  const n = s.outbox.get(job.data.notificationId);
  if (!n || n.status !== "pending") return { skipped: "not pending" };
  const user = n.userId === null ? undefined : s.users.get(n.userId);
  const recipient = n.channel === "telegram" ? user?.telegramId : user?.email;
  // Inactive means Telegram refused us (bot blocked): email still reaches them, and carries
  // the very alert Telegram refused. Banned users get nothing.
  const reachable = user?.status === "active" || (user?.status === "inactive" && n.channel === "email");
  if (!user || recipient === null || recipient === undefined || !reachable) {
    s.outbox.markDead(n.id, user ? `user is ${user.status} or has no ${n.channel} address` : "user no longer exists");
    s.metrics.notifications.inc({ channel: n.channel, outcome: "dropped" });
    return { skipped: "no recipient" };
  }
  if (n.channel === "email") return deliverEmail(job, s, n, user, String(recipient), token);
  return deliverTelegram(job, s, n, user, Number(recipient), token);
}

async function deliverEmail(job: Job<NotifyJobData>, s: Services, n: Notification, user: User, to: string, token?: string): Promise<NotifyResult> {
  try {
    const msg = renderNotification(n.kind, n.payload, s.unsubscribe ? { unsubscribeUrl: s.unsubscribe.url(user.id) } : undefined);
    const headers = s.unsubscribe ? s.unsubscribe.headers(user.id) : undefined;
    const sent = await s.email.send({ to, ...msg.email, ...(headers ? { headers } : {}) });
    s.log.info({ notificationId: n.id, file: sent.file }, `📧 email → ${to}: ${msg.email.subject}`);
  } catch (err) {
    // Stopped by the shutdown, not a failure: the row stays pending and goes after the restart.
    if (isShutdown(err)) return putBackForRestart(job, s, token, err);
    failed(job, s, [n], err);
    throw err;
  }
  s.outbox.markSent(n.id);
  s.metrics.notifications.inc({ channel: "email", outcome: "sent" });
  return { sent: true, channel: "email", grouped: 1 };
}

async function deliverTelegram(job: Job<NotifyJobData>, s: Services, n: Notification, user: User, chatId: number, token?: string): Promise<NotifyResult> {
  const release = await s.chatLocks.acquire(chatId);
  if (!release) return delay(job, token, CHAT_BUSY_RETRY_MS, "chat busy");
  const batch: Notification[] = [];
  try {
    // This row first, then whatever else is waiting for the chat, as long as it fits one message.
    const rendered: string[] = [];
    let length = 0;
    for (const row of [n, ...s.outbox.pendingFor(user.id, "telegram", 20).filter((r) => r.id !== n.id)]) {
      let html: string;
      try {
        html = renderNotification(row.kind, row.payload).telegramHtml;
      } catch (err) {
        if (row.id === n.id) throw err;
        continue;
      }
      if (batch.length && length + SEPARATOR.length + html.length > TELEGRAM_LIMIT) break;
      batch.push(row);
      rendered.push(html);
      length += html.length + (batch.length > 1 ? SEPARATOR.length : 0);
    }
    // ~30 messages a second overall and one a second into this chat, shared by all processes.
    // The chat slot first: its wait can be a second, and a global slot taken before it would
    // be counted that long before the send, letting sends bunch up past 30/s at Telegram.
    const wait = { signal: s.lifecycle.stopping };
    await s.telegramLimiter.acquire(String(chatId), "chat", wait);
    await s.telegramLimiter.acquire("all", "global", wait);
    await s.telegram.sendHtml(chatId, rendered.join(SEPARATOR), { silent: batch.every((r) => deliverSilently(user, r.kind, s.clock())) });
  } catch (err) {
    if (isShutdown(err)) {
      // Not a failed attempt: the rows stay pending as they were, for the restart (or the sweeper).
      // Not awaited: with Redis gone the release would wait forever; the lock expires by itself.
      void release().catch(() => {});
      return putBackForRestart(job, s, token, err);
    }
    if (err instanceof GrammyError && err.error_code === 429) {
      const retryAfter = (err.parameters.retry_after ?? 1) * 1000;
      s.metrics.notifications.inc({ channel: "telegram", outcome: "throttled" });
      s.log.warn({ chatId, retryAfterMs: retryAfter }, "Telegram asked us to slow down");
      await release();
      return delay(job, token, retryAfter, "rate limited");
    }
    if (err instanceof GrammyError && err.error_code === 403) {
      await release();
      s.users.update(user.id, { status: "inactive" });
      const rows = batch.length ? batch : [n];
      for (const row of rows) s.outbox.markDead(row.id, `Telegram refused: ${err.description}`);
      s.metrics.notifications.inc({ channel: "telegram", outcome: "blocked" }, rows.length);
      s.log.warn({ userId: user.id }, "user blocked the bot: marked inactive, Telegram delivery stopped");
      await fallBackToEmail(s, user, rows);
      return { skipped: "blocked" };
    }
    await release();
    const rows = batch.length ? batch : [n];
    if (failed(job, s, rows, err)) await fallBackToEmail(s, user, rows);
    throw err;
  }
  for (const row of batch) s.outbox.markSent(row.id);
  await release();
  s.metrics.notifications.inc({ channel: "telegram", outcome: "sent" }, batch.length);
  return { sent: true, channel: "telegram", grouped: batch.length };
}

/** Records a failed attempt on the rows. Returns true when it was the last one (rows now dead). */
function failed(job: Job<NotifyJobData>, s: Services, rows: readonly Notification[], err: unknown): boolean {
  const attempts = job.opts.attempts ?? 1;
  const last = job.attemptsMade + 1 >= attempts;
  for (const row of rows) {
    if (last) s.outbox.markDead(row.id, errorText(err));
    // Due when BullMQ will retry; the sweeper's grace period keeps it from re-queuing meanwhile.
    else s.outbox.markFailed(row.id, errorText(err), s.clock() + retryDelayMs(s.delivery, job.attemptsMade + 1));
  }
  s.metrics.notifications.inc({ channel: rows[0]?.channel ?? "telegram", outcome: last ? "dead" : "retry" }, rows.length);
  return last;
}

/** Telegram gave up on these rows: the same messages go by email if the user has a verified address. */
async function fallBackToEmail(s: Services, user: User, rows: readonly Notification[]): Promise<void> {
  const ids = s.notifier.recordEmailFallback(user, rows);
  if (!ids.length) return;
  await s.notifier.queue(ids);
  s.log.info({ userId: user.id, count: ids.length }, "Telegram delivery failed: sent by email instead");
}

/**
 * A send the shutdown cut off: the job goes back to the queue without using an attempt, to
 * run a second from now in whichever process is up then. With Redis gone that cannot be
 * done; the job is then recovered as stalled, or the row by the start-up sweep.
 */
async function putBackForRestart(job: Job<NotifyJobData>, s: Services, token: string | undefined, err: unknown): Promise<never> {
  if (!token || s.redis.status !== "ready") throw err;
  const moved = await Promise.race([
    job.moveToDelayed(Date.now() + 1000, token).then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 500).unref()),
  ]).catch(() => false);
  if (!moved) throw err;
  throw new DelayedError();
}

/** Puts the job back for later without counting an attempt (the row stays pending). */
async function delay(job: Job<NotifyJobData>, token: string | undefined, ms: number, why: "chat busy" | "rate limited"): Promise<NotifyResult> {
  if (!token) throw new Error(`notify job needs its worker token to wait (${why})`);
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}
