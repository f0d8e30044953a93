import { DelayedError, type Job } from "bullmq";
import { GrammyError } from "grammy";
import type { User } from "../src/db/repositories/users.js";
import { alertButtons } from "../src/notify/alert-buttons.js";
import { alertChartCid, htmlWithChart, makeAlertChart, wantsAlertChart } from "../src/notify/alert-chart.js";
import type { InlineImage } from "../src/notify/email.js";
import type { Notification } from "../src/notify/outbox.js";
import { deliverSilently } from "../src/notify/preferences.js";
import { groupedAlertEmail, watchlistRuleOf } from "../src/notify/grouped-email.js";
import { renderNotification, type RenderedMessage } from "../src/notify/render.js";
import { captionFits, type SendOptions } from "../src/notify/telegram.js";
import { notifyJobId, retryDelayMs } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";
import { TELEGRAM_LIMIT } from "../src/format/telegram.js";
import { abortableSleep, isShutdown } from "../src/lifecycle/abort.js";

export interface NotifyJobData {
  notificationId: number;
}

export type NotifyResult =
  | { sent: true; channel: string; grouped: number }
  | { skipped: "not pending" | "no recipient" | "blocked" | "chat taken over" | "sent with another" }
  | { delayed: "chat busy" | "rate limited" };

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const SEPARATOR = "\n\n";
/** Telegram's pace into one chat: how long each row ahead of ours in the chat's queue takes, at most. */
const CHAT_SLOT_MS = 1000;
/** How many of the chat's pending rows a waiting job counts to know when to check back. */
const CHECK_BACK_ROWS = 50;
/** Added to a waiting job's check-back, so the holder's turn has come and gone when it looks. */
const CHECK_BACK_GRACE_MS = 2000;
/**
 * A chat slot this close is waited for in place; a later one is waited for in the queue, and
 * the job comes back this much before it (a delayed job's way back through the queue takes
 * tens of ms, so it then waits the rest in place and the chat keeps its pace of one a second).
 */
const CHAT_WAIT_IN_PLACE_MS = 120;
const CHAT_BACK_EARLY_MS = 80;

/**
 * Delivers one outbox row. On Telegram the job first takes the row's chat (ChatLocks): the
 * holder sends the chat's pending rows oldest first, as few messages as they fit in, one per
 * chat slot; a job that finds the chat held waits in the queue for its row to go. A row is
 * marked sent only after the send succeeded. Failures are recorded and retried with backoff;
 * the last one marks the row dead and falls back to email. A 429 waits exactly as long as
 * Telegram asks, without using up an attempt; a 403 (bot blocked) marks the user inactive.
 */
export async function deliverNotification(job: Job<NotifyJobData>, s: Services, token?: string): Promise<NotifyResult> {
  const n = s.outbox.get(job.data.notificationId);
  if (!n) return { skipped: "not pending" };
  if (n.status !== "pending") return carryOnHolding(job, s, n, token);
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

/**
 * A row already sent: nothing to do, unless this job holds the row's chat. A holder keeps the
 * chat across its turns (it steps aside until the chat's next slot), and its own row may have
 * gone in an earlier one: it carries on with the chat's other rows.
 */
async function carryOnHolding(job: Job<NotifyJobData>, s: Services, n: Notification, token?: string): Promise<NotifyResult> {
  const user = n.channel === "telegram" && n.userId !== null ? s.users.get(n.userId) : undefined;
  const chatId = user?.status === "active" ? user.telegramId : null;
  if (!user || chatId === null || chatId === undefined || !(await s.chatLocks.holds(chatId, job.id ?? `n-${n.id}`))) return { skipped: "not pending" };
  return deliverTelegram(job, s, n, user, chatId, token);
}

async function deliverEmail(job: Job<NotifyJobData>, s: Services, n: Notification, user: User, to: string, token?: string): Promise<NotifyResult> {
  const rows = emailRows(s, user, n);
  if (!rows) return { skipped: "sent with another" };
  try {
    const extras = s.unsubscribe ? { unsubscribeUrl: s.unsubscribe.url(user.id) } : undefined;
    const headers = s.unsubscribe ? s.unsubscribe.headers(user.id) : undefined;
    let email: RenderedMessage["email"];
    let chart: Awaited<ReturnType<typeof emailChart>> = undefined;
    if (rows.length === 1) {
      email = renderNotification(n.kind, n.payload, extras).email;
      chart = await emailChart(s, user, n, email.html);
    } else {
      const list = String(n.payload.watchlist ?? "");
      email = groupedAlertEmail(
        list,
        rows.map((r) => String(r.payload.symbol)),
        rows.map((r) => renderNotification(r.kind, r.payload, extras).email),
      );
    }
    const sent = await s.email.send({ to, ...email, ...(headers ? { headers } : {}), ...chart });
    s.log.info({ notificationId: n.id, grouped: rows.length, file: sent.file }, `📧 email → ${to}: ${email.subject}`);
  } catch (err) {
    // Stopped by the shutdown, not a failure: the row stays pending and goes after the restart.
    if (isShutdown(err)) return putBackForRestart(job, s, token, err);
    failed(job, s, rows, err);
    throw err;
  }
  for (const r of rows) s.outbox.markSent(r.id);
  s.metrics.notifications.inc({ channel: "email", outcome: "sent" }, rows.length);
  return { sent: true, channel: "email", grouped: rows.length };
}

/**
 * The rows one email carries: this one alone, or, for a symbol of a watchlist rule, every due
 * row of that rule waiting for this user (its symbols that fired together, or were held to the
 * minute's end), sent by the job of the oldest of them. Undefined when that is another job's
 * row: it sends this one too (a row written after it read them is left to its own job, or the
 * sweeper).
 */
function emailRows(s: Services, user: User, n: Notification): Notification[] | undefined {
  const parent = watchlistRuleOf(n);
  if (parent === undefined) return [n];
  const rows = s.outbox.pendingFor(user.id, "email", 50).filter((r) => watchlistRuleOf(r) === parent);
  if (!rows.some((r) => r.id === n.id)) return [n];
  return rows[0]!.id === n.id ? rows : undefined;
}

async function deliverTelegram(job: Job<NotifyJobData>, s: Services, n: Notification, user: User, chatId: number, token?: string): Promise<NotifyResult> {
  const holder = job.id ?? `n-${n.id}`;
  if (!(await s.chatLocks.claim(chatId, holder))) {
    if (n.status !== "pending") return { skipped: "not pending" };
    // The holder sends this row in its turn (it looks again before letting go) and then takes
    // this job off the queue. Check back after that turn should have come, in case the holder
    // died: this job then takes the chat over.
    const ahead = s.outbox.pendingFor(user.id, "telegram", CHECK_BACK_ROWS).findIndex((r) => r.id === n.id);
    return delay(job, token, ((ahead < 0 ? CHECK_BACK_ROWS : ahead) + 1) * CHAT_SLOT_MS + CHECK_BACK_GRACE_MS, "chat busy");
  }
  let grouped = 0;
  for (;;) {
    let batch: Notification[] = [];
    try {
      const next = nextMessage(s, user, n);
      batch = next.rows;
      if (!batch.length) {
        if (await s.chatLocks.releaseIfDone(chatId, holder)) break;
        continue;
      }
      // Drawn before the chat's slot is taken, so the picture's time is not spent out of it.
      const photo = await telegramChart(s, user, batch, next.html);
      // One Redis call takes a global slot (~30 a second overall) and this chat's slot (one a
      // second) for the same moment, shared by all processes, evenly spaced. When the chat's
      // slot is further off, the job steps aside until then (still holding the chat) rather
      // than keep a worker waiting.
      const slot = await s.telegramLimiter.reservePaced([
        { subject: "all", category: "global" },
        { subject: String(chatId), category: "chat", maxWaitMs: CHAT_WAIT_IN_PLACE_MS },
      ]);
      if (!slot.taken) {
        await s.chatLocks.claim(chatId, holder, slot.freeInMs + s.chatLocks.ttlMs);
        return await delay(job, token, slot.freeInMs - CHAT_BACK_EARLY_MS, "chat busy");
      }
      if (slot.inMs > 0) await abortableSleep(slot.inMs, s.lifecycle.stopping);
      // The hold may have run out while this job waited (a slow Redis, a long pause) and another
      // job taken the chat over: then that one sends these rows, and sending them here too
      // would deliver them twice. Claiming again also renews the hold for the send itself,
      // which the Telegram client cuts off well within it.
      if (!(await s.chatLocks.claim(chatId, holder))) return { skipped: "chat taken over" };
      // The buttons follow from the rows already chosen: they never change what goes together.
      const replyMarkup = alertButtons(batch, { trading: s.config.trading.enabled && s.upstox !== undefined });
      const sendOpts = { silent: batch.every((r) => deliverSilently(user, r.kind, s.clock())), ...(replyMarkup ? { replyMarkup } : {}) };
      if (photo) await sendPhotoOrText(s, chatId, photo, next.html, sendOpts);
      else await s.telegram.sendHtml(chatId, next.html, sendOpts);
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      if (isShutdown(err)) {
        // Not a failed attempt: the rows stay pending as they were, for the restart (or the sweeper).
        // Not awaited: with Redis gone the release would wait forever; the hold expires by itself.
        void s.chatLocks.release(chatId, holder).catch(() => {});
        return putBackForRestart(job, s, token, err);
      }
      if (err instanceof GrammyError && err.error_code === 429) {
        // Still this job's turn: it keeps the chat and goes again when Telegram says, other chats go on meanwhile.
        const retryAfter = (err.parameters.retry_after ?? 1) * 1000;
        s.metrics.notifications.inc({ channel: "telegram", outcome: "throttled" });
        s.log.warn({ chatId, retryAfterMs: retryAfter }, "Telegram asked us to slow down");
        await s.chatLocks.claim(chatId, holder, retryAfter + s.chatLocks.ttlMs);
        return delay(job, token, retryAfter, "rate limited");
      }
      // Refused or failed: the chat is let go; rows not in this message have jobs of their own.
      await s.chatLocks.release(chatId, holder);
      const rows = batch.length ? batch : [n];
      if (err instanceof GrammyError && err.error_code === 403) {
        s.users.update(user.id, { status: "inactive" });
        for (const row of rows) s.outbox.markDead(row.id, `Telegram refused: ${err.description}`);
        s.metrics.notifications.inc({ channel: "telegram", outcome: "blocked" }, rows.length);
        s.log.warn({ userId: user.id }, "user blocked the bot: marked inactive, Telegram delivery stopped");
        await fallBackToEmail(s, user, rows);
        return { skipped: "blocked" };
      }
      if (failed(job, s, rows, err)) await fallBackToEmail(s, user, rows);
      throw err;
    }
    for (const row of batch) s.outbox.markSent(row.id);
    s.metrics.notifications.inc({ channel: "telegram", outcome: "sent" }, batch.length);
    grouped += batch.length;
    await dropJobsOf(s, batch, job.id);
  }
  return grouped ? { sent: true, channel: "telegram", grouped } : { skipped: "not pending" };
}

/**
 * The picture a Telegram message carries: only a message that is one price or indicator alert
 * of a user with alert charts on, and only when its text fits a caption. Without it the
 * message goes as text, as it would have anyway.
 */
async function telegramChart(s: Services, user: User, batch: readonly Notification[], html: string): Promise<{ png: Buffer; filename: string } | undefined> {
  const row = batch[0];
  if (batch.length !== 1 || !row || !wantsAlertChart(user, row)) return undefined;
  if (!captionFits(html)) {
    s.log.warn({ notificationId: row.id }, "alert sent without its chart: the text is too long for a photo caption");
    return undefined;
  }
  const chart = await makeAlertChart(s, row);
  if (chart.ok) return chart;
  s.log.warn({ notificationId: row.id }, `alert sent without its chart: ${chart.reason}`);
  return undefined;
}

/**
 * The photo; when Telegram refuses the photo itself (400: a picture or caption it will not
 * take), the same message as text at once, so the alert is never lost to its chart. A
 * refused call delivered nothing and took no slot. Any other failure is the send's, as for text.
 */
async function sendPhotoOrText(s: Services, chatId: number, photo: { png: Buffer; filename: string }, html: string, opts: SendOptions): Promise<void> {
  try {
    await s.telegram.sendPhoto(chatId, photo, html, opts);
  } catch (err) {
    if (!(err instanceof GrammyError && err.error_code === 400)) throw err;
    s.log.warn({ chatId, error: err.description }, "Telegram refused the alert's chart: sent as text");
    await s.telegram.sendHtml(chatId, html, opts);
  }
}

/** The alert email's chart, inline in its HTML, for a user with alert charts on; nothing when it cannot be made. */
async function emailChart(s: Services, user: User, n: Notification, html: string): Promise<{ html: string; inlineImages: InlineImage[] } | undefined> {
  if (!wantsAlertChart(user, n)) return undefined;
  const chart = await makeAlertChart(s, n);
  if (!chart.ok) {
    s.log.warn({ notificationId: n.id }, `alert emailed without its chart: ${chart.reason}`);
    return undefined;
  }
  const cid = alertChartCid(n.id);
  return {
    html: htmlWithChart(html, cid, `${String(n.payload.symbol)} ${chart.timeframe} chart`),
    inlineImages: [{ cid, filename: chart.filename, contentType: "image/png", content: chart.png }],
  };
}

/**
 * The jobs of rows this job just sent for them are waiting to check back: take them off the
 * queue now, so it holds only work still to do. One that is running right now cannot be
 * removed; it finds its row sent and stops.
 */
async function dropJobsOf(s: Services, rows: readonly Notification[], self: string | undefined): Promise<void> {
  const ids = rows.map((r) => notifyJobId(r.id)).filter((id) => id !== self);
  if (ids.length) await Promise.all(ids.map((id) => s.queues.notify.remove(id).catch(() => 0)));
}

/**
 * The chat's next message: its oldest pending rows, as many as fit one message, so rows go
 * in the order they were written. A row that cannot be rendered is left to its own job (which
 * fails on it and retries), unless it is this job's row.
 */
function nextMessage(s: Services, user: User, n: Notification): { rows: Notification[]; html: string } {
  const rows: Notification[] = [];
  const rendered: string[] = [];
  let length = 0;
  for (const row of s.outbox.pendingFor(user.id, "telegram", 20)) {
    let html: string;
    try {
      html = renderNotification(row.kind, row.payload).telegramHtml;
    } catch (err) {
      if (row.id === n.id) throw err;
      continue;
    }
    if (rows.length && length + SEPARATOR.length + html.length > TELEGRAM_LIMIT) break;
    rows.push(row);
    rendered.push(html);
    length += html.length + (rows.length > 1 ? SEPARATOR.length : 0);
  }
  return { rows, html: rendered.join(SEPARATOR) };
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
