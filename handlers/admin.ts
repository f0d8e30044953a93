import { Composer, InlineKeyboard, InputFile } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { escapeHtml } from "../src/format/html.js";
import { istInstant, istParts } from "../src/market/calendar.js";
import { describeFeeds } from "../src/format/feeds.js";
import { formatIstTime } from "../src/format/time.js";
import { QUEUE_NAMES } from "../src/queue/queues.js";

/**
 * Admin commands. Only senders whose user id is in ADMIN_TELEGRAM_IDS get here (the chat
 * does not matter); everyone else falls through to "for admins only". Every action,
 * including a refused one, is written to the audit log.
 */
export const adminHandlers = new Composer<BotContext>();
const ADMIN_COMMANDS = ["stats", "health", "pause", "resume", "broadcast", "users", "ban", "unban", "backup", "loglevel", "audit", "halt", "resume_trading"];

adminHandlers.command(ADMIN_COMMANDS, async (ctx, next) => {
  if (ctx.isAdmin) return next();
  ctx.services.audit.record(ctx.from?.id ?? null, "denied", ctx.message?.text?.split(/\s/)[0] ?? null);
  await replyHtml(ctx, "That command is for admins only.");
});
adminHandlers.callbackQuery(/^b:/, async (ctx, next) => {
  if (ctx.isAdmin) return next();
  ctx.services.audit.record(ctx.from.id, "denied", "broadcast button");
  await ctx.answerCallbackQuery({ text: "Only admins can do that." });
});

const admin = adminHandlers.filter((ctx) => ctx.isAdmin);
const audit = (ctx: BotContext, action: string, target?: string | null, details?: unknown) => ctx.services.audit.record(ctx.from!.id, action, target, details);
const BROADCAST_MAX = 3500;

// Trading's brake: takes effect at the very next card or Confirm, in every process (SQLite).
admin.command("halt", async (ctx) => {
  const changed = ctx.services.trading.halt(ctx.from!.id);
  await replyHtml(
    ctx,
    changed
      ? "⛔ Trading from chat is halted: every new order and GTT is refused until /resume_trading."
      : "Trading from chat was already halted. /resume_trading lets orders go out again.",
  );
});

admin.command("resume_trading", async (ctx) => {
  const changed = ctx.services.trading.resume(ctx.from!.id);
  const off = ctx.services.config.trading.enabled ? "" : " (TRADING_ENABLED is still false, so no orders go out until the operator turns it on)";
  await replyHtml(ctx, changed ? `▶️ Trading from chat resumed${off}.` : `Trading from chat was not halted${off}.`);
});

admin.command("stats", async (ctx) => {
  const s = ctx.services;
  audit(ctx, "stats");
  const users = s.users.counts();
  const todayStart = istInstant(istParts(new Date(s.clock())).date, 0).getTime();
  const depths = await Promise.all(QUEUE_NAMES.map(async (q) => [q, await s.queues[q].getJobCounts("waiting", "active", "delayed", "failed")] as const));
  const last = await s.pollState.lastPollAt();
  const lines = [
    "<b>Stats</b>",
    `Users: ${users.total} (${users.active} active, ${users.linked} linked to Upstox, ${users.expired} expired logins)`,
    `Active alert rules: ${s.rules.activeCount()}`,
    `Signals today: ${s.outbox.signalsSince(todayStart)}`,
    `Last poll: ${last === null ? "never" : `${formatIstTime(last)} IST (${Math.round((s.clock() - last) / 1000)} s ago)`}`,
    `Polling: ${(await s.pollState.isPaused()) ? "paused" : "running"} · market ${s.marketOpen(new Date(s.clock())) ? "open" : "closed"} · data from ${s.quotes.name}`,
    "<b>Queues</b> (waiting/active/delayed/failed)",
    ...depths.filter(([, c]) => Object.values(c).some((n) => n > 0)).map(([q, c]) => `${q}: ${c.waiting}/${c.active}/${c.delayed}/${c.failed}`),
  ];
  await replyHtml(ctx, lines.join("\n"));
});

admin.command("health", async (ctx) => {
  audit(ctx, "health");
  const h = await ctx.services.health();
  const c = h.checks;
  await replyHtml(
    ctx,
    [
      `<b>Health: ${h.status === "ok" ? "✅ ok" : "❌ unhealthy"}</b>`,
      `Redis: ${c.redis.ok ? `ok (${c.redis.latencyMs} ms)` : `down — ${escapeHtml(c.redis.error ?? "")}`}`,
      `SQLite: ${c.sqlite.ok ? "ok" : `down — ${escapeHtml(c.sqlite.error ?? "")}`}`,
      `Market poll: ${c.marketPoll.state}${c.marketPoll.ageSeconds !== null ? `, last ${c.marketPoll.ageSeconds} s ago` : ""}`,
      `Upstox logins: ${c.upstoxToken.state} (${c.upstoxToken.linkedUsers} linked, ${c.upstoxToken.expired} expired)`,
      ...describeFeeds(c.feeds),
      tradingLine(ctx),
    ].join("\n"),
  );
});

function tradingLine(ctx: BotContext): string {
  const s = ctx.services;
  if (!s.upstox) return "Trading: none (simulator)";
  if (!s.config.trading.enabled) return "Trading: off (TRADING_ENABLED=false)";
  const halted = s.trading.haltedSince();
  return halted !== undefined ? `Trading: ⛔ halted since ${formatIstTime(halted)} IST (/resume_trading)` : "Trading: on";
}

admin.command("pause", async (ctx) => {
  await ctx.services.pollState.setPaused(true);
  audit(ctx, "pause polling");
  await replyHtml(ctx, "⏸ Market polling paused. No quotes are fetched and no alerts fire until /resume.");
});

admin.command("resume", async (ctx) => {
  await ctx.services.pollState.setPaused(false);
  audit(ctx, "resume polling");
  await replyHtml(ctx, "▶️ Market polling resumed.");
});

admin.command("broadcast", async (ctx) => {
  const text = ctx.match.trim();
  if (!text) return replyUsage(ctx, "broadcast", "Write the message after the command.");
  if (text.length > BROADCAST_MAX) return replyUsage(ctx, "broadcast", `Keep it under ${BROADCAST_MAX} characters (this is ${text.length}).`);
  const s = ctx.services;
  const id = await s.broadcastDrafts.save({ text, by: ctx.from!.id });
  const n = s.users.activeIds().length;
  audit(ctx, "broadcast drafted", id, { length: text.length });
  const kb = new InlineKeyboard().text(`📣 Send to ${n} users`, `b:send:${id}`).text("Cancel", `b:cancel:${id}`);
  await replyHtml(ctx, `<b>Preview</b>\n${escapeHtml(text)}\n\nSend this to ${n} users?`, kb);
});

admin.callbackQuery(/^b:(send|cancel):([0-9a-f]{12})$/, async (ctx) => {
  const s = ctx.services;
  const [, action, id] = ctx.match;
  const draft = await s.broadcastDrafts.take(id!);
  if (!draft) return ctx.answerCallbackQuery({ text: "That broadcast was already sent, cancelled or has expired." });
  if (action === "cancel") {
    audit(ctx, "broadcast cancelled", id);
    await ctx.answerCallbackQuery({ text: "Cancelled." });
    return ctx.editMessageText("Broadcast cancelled.");
  }
  // At most one broadcast a minute: a second admin (or a double tap) cannot flood everyone.
  if (!(await s.broadcastDrafts.lockSending(id!))) {
    await s.broadcastDrafts.putBack(id!, draft);
    return ctx.answerCallbackQuery({
      text: `A broadcast went out less than ${s.broadcastDrafts.everySeconds} s ago. Try again in a minute.`,
      show_alert: true,
    });
  }
  const ids: number[] = [];
  for (const userId of s.users.activeIds()) {
    const user = s.users.get(userId);
    if (!user) continue;
    ids.push(
      ...s.notifier.record({
        user,
        kind: "broadcast",
        dedupKey: `broadcast:${id}:${userId}`,
        payload: { text: draft.text },
        only: ["telegram"],
        now: s.clock(),
      }),
    );
  }
  await s.notifier.queue(ids);
  audit(ctx, "broadcast sent", id, { recipients: ids.length });
  await ctx.answerCallbackQuery({ text: `Queued for ${ids.length} users.` });
  await ctx.editMessageText(`📣 Broadcast queued for ${ids.length} users. Delivery follows Telegram's rate limits.`);
});

admin.command("users", async (ctx) => {
  const arg = ctx.match.trim();
  if (arg && !/^\d{1,4}$/.test(arg)) return replyUsage(ctx, "users", "The page is a number.");
  const page = Math.max(1, Number(arg || 1));
  const list = ctx.services.users.list(20, (page - 1) * 20);
  audit(ctx, "list users", String(page));
  if (!list.length) return replyHtml(ctx, page === 1 ? "No users yet." : `No users on page ${page}.`);
  const lines = list.map(
    (u) =>
      `<code>${u.telegramId ?? "-"}</code> ${u.telegramUsername ? `@${escapeHtml(u.telegramUsername)}` : escapeHtml(u.displayName ?? "")} · ${u.status}${u.upstoxTokenExpiresAt ? " · Upstox" : ""} · since ${formatIstTime(u.createdAt).slice(0, 10)}`,
  );
  await replyHtml(ctx, `<b>Users, page ${page}</b>\n${lines.join("\n")}`);
});

async function setBanned(ctx: BotContext, banned: boolean): Promise<void> {
  const command = banned ? "ban" : "unban";
  const arg = ctx.match?.toString().trim() ?? "";
  if (!/^\d{1,15}$/.test(arg)) return replyUsage(ctx, command, "Give the user's numeric Telegram id (see /users).");
  const s = ctx.services;
  const target = s.users.findByTelegramId(Number(arg));
  if (!target) return replyHtml(ctx, `No user with Telegram id ${arg}.`);
  if (banned && s.config.telegram.adminIds.includes(Number(arg))) return replyHtml(ctx, "Admins can't be banned from chat.");
  s.users.update(target.id, { status: banned ? "banned" : "active" });
  audit(ctx, command, arg);
  await replyHtml(ctx, banned ? `🚫 ${arg} is banned: their alerts stop and the bot ignores them.` : `✅ ${arg} is unbanned.`);
}
admin.command("ban", (ctx) => setBanned(ctx, true));
admin.command("unban", (ctx) => setBanned(ctx, false));

admin.command("backup", async (ctx) => {
  const result = await ctx.services.backups.take();
  audit(ctx, "backup", result.file, { bytes: result.bytes });
  await ctx.replyWithDocument(new InputFile(result.file), {
    caption: `Database backup, ${(result.bytes / 1024).toFixed(0)} KiB. Keep it private: it holds users' settings.`,
  });
});

admin.command("loglevel", async (ctx) => {
  const level = ctx.match.trim().toLowerCase();
  if (!["fatal", "error", "warn", "info", "debug", "trace"].includes(level)) return replyUsage(ctx, "loglevel", `"${level.slice(0, 20)}" is not a log level.`);
  const before = ctx.services.log.level;
  ctx.services.log.level = level;
  audit(ctx, "loglevel", level, { before });
  await replyHtml(ctx, `Log level: ${before} → <b>${level}</b> (this process).`);
});

admin.command("audit", async (ctx) => {
  const arg = ctx.match.trim();
  if (arg && !/^\d{1,3}$/.test(arg)) return replyUsage(ctx, "audit", "N is how many entries, up to 100.");
  const n = Math.min(100, Math.max(1, Number(arg || 20)));
  const entries = ctx.services.audit.recent(n);
  audit(ctx, "audit", String(n));
  const lines = entries.map(
    (e) =>
      `${formatIstTime(e.createdAt).slice(5, 16)} <code>${e.actorTelegramId ?? "-"}</code> ${escapeHtml(e.action)}${e.target ? ` ${escapeHtml(e.target)}` : ""}`,
  );
  await replyHtml(ctx, `<b>Audit log</b>\n${lines.join("\n") || "empty"}`);
});
