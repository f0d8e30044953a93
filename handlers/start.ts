import { Composer } from "grammy";
import { PREF_KINDS, type AlertKindSetting, type Channels, type PrefKind } from "../src/db/repositories/users.js";
import { adminCommands, traderCommands, usageParts, type CommandSpec } from "../src/bot/commands.js";
import type { BotContext } from "../src/bot/context.js";
import { parseDuration } from "../src/bot/parse-alert.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { escapeHtml } from "../src/format/html.js";
import { formatIstMinute } from "../src/format/time.js";
import { tokenExpiry } from "../src/upstox/token-crypto.js";

/** /start, /help, /id, /login, /settings, /verify, /mute, /unmute. */
export const startHandlers = new Composer<BotContext>();
const pm = startHandlers.chatType("private");

const EMAIL_RE = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,190}\.[A-Za-z]{2,}$/;
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

pm.command("start", async (ctx) => {
  const s = ctx.services;
  const source = s.upstox ? "Upstox" : "the built-in market simulator (no Upstox account needed)";
  await replyHtml(
    ctx,
    [
      `👋 <b>Welcome${ctx.account?.displayName ? `, ${escapeHtml(ctx.account.displayName)}` : ""}!</b>`,
      "",
      `I watch NSE prices from ${source} and tell you when something you care about happens:`,
      "• price levels and crossings, % moves",
      "• RSI, MACD, EMA/SMA crossovers, Bollinger breakouts, volume spikes",
      "• your portfolio and order fills (after /login)",
      "",
      "Try: <code>/watch RELIANCE TCS</code>, then <code>/alert RELIANCE above 1500</code>.",
      "Send /help for every command.",
    ].join("\n"),
  );
});

/** A command in /help: its usage and description; a command with several forms gets a line for each. */
function helpLines(c: CommandSpec): string[] {
  const { forms, note } = usageParts(c.command);
  if (forms.length === 1) return [`<code>${escapeHtml(c.usage)}</code> — ${escapeHtml(c.description)}`];
  return [
    `<code>${escapeHtml(forms[0]!)}</code> — ${escapeHtml(c.description)}`,
    ...forms.slice(1).map((f) => `    <code>${escapeHtml(f)}</code>`),
    ...(note ? [`    <i>${escapeHtml(note)}</i>`] : []),
  ];
}

pm.command("help", async (ctx) => {
  const lines = traderCommands().flatMap(helpLines);
  if (ctx.isAdmin) lines.push("", "<b>Admin</b>", ...adminCommands().flatMap(helpLines));
  await replyHtml(ctx, `<b>Commands</b>\n${lines.join("\n")}`);
});

/** Anyone, in any chat, registered or not: admins need their user id for ADMIN_TELEGRAM_IDS. */
startHandlers.command("id", async (ctx) => {
  const lines: string[] = [];
  // Anonymous group admins and channels post as a chat: Telegram hides the person behind it.
  if (ctx.from && !ctx.senderChat) lines.push(`Your Telegram user id: <code>${ctx.from.id}</code>`);
  else lines.push("You are posting as a channel or as an anonymous admin, so Telegram doesn't tell me your user id. Send /id to me in a private chat.");
  if (ctx.chat) {
    lines.push(
      ctx.chat.type === "private"
        ? `This chat's id: <code>${ctx.chat.id}</code> (in a private chat it is your user id)`
        : `This ${ctx.chat.type === "channel" ? "channel" : "group"}'s chat id: <code>${ctx.chat.id}</code>`,
    );
  }
  lines.push("<i>Admins are listed by user id in ADMIN_TELEGRAM_IDS.</i>");
  await replyHtml(ctx, lines.join("\n"));
});

pm.command("login", async (ctx) => {
  const s = ctx.services;
  if (!s.upstox) return replyHtml(ctx, "This bot runs on the built-in market simulator, so there is no Upstox account to link.");
  const state = await ctx.oauth.create(ctx.account!.id);
  const url = s.upstox.client.loginUrl(state);
  const tokenState = s.upstox.tokens.state(ctx.account!.id);
  const now = tokenState.state === "valid" ? `Your current login is valid until ${formatIstMinute(tokenState.expiresAt)} IST.\n` : "";
  await replyHtml(
    ctx,
    `${now}🔐 <a href="${escapeHtml(url)}">Log in to Upstox</a> to link your account. The link works once, for 10 minutes.\n` +
      `Upstox ends every login at 3:30 AM IST, so you will need to do this each trading day (next expiry: ${formatIstMinute(tokenExpiry(new Date(s.clock())).getTime())} IST).`,
  );
});

function settingsText(ctx: BotContext): string {
  const u = ctx.account!;
  const prefs = PREF_KINDS.map((k) => `${k}: ${u.prefs[k] ?? "on"}`).join(", ");
  const email = u.email ? `${escapeHtml(u.email)}${u.emailVerified ? " ✅" : " (not verified)"}` : "not set";
  const pending = u.emailPending ? `\nWaiting for the code sent to ${escapeHtml(u.emailPending)} (/verify CODE).` : "";
  const quiet = u.quietStart && u.quietEnd ? `${u.quietStart}–${u.quietEnd} IST` : "off";
  const muted = u.mutedUntil && u.mutedUntil > ctx.services.clock() ? `until ${formatIstMinute(u.mutedUntil)} IST` : "no";
  return [
    "<b>Your settings</b>",
    `Alerts go to: <b>${u.channels}</b>`,
    `Email: ${email}${pending}`,
    `Quiet hours: ${quiet}`,
    `Muted: ${muted}`,
    `Alert kinds: ${prefs}`,
    `Holding moves: ${u.prefs.holdingMovePct ? `${u.prefs.holdingMovePct}% or more` : "off"}`,
    `Charts with alerts: ${u.prefs.alertCharts ? "on" : "off"}`,
  ].join("\n");
}

pm.command("settings", async (ctx) => {
  const s = ctx.services;
  const user = ctx.account!;
  const [what, ...rest] = ctx.match.trim().split(/\s+/).filter(Boolean);
  const value = rest.join(" ");
  if (!what) return replyHtml(ctx, settingsText(ctx));
  const key = what.toLowerCase();
  if (key === "channels" || key === "channel") {
    const ch = value.toLowerCase() as Channels;
    if (!["telegram", "email", "both"].includes(ch)) return replyUsage(ctx, "settings", `Channels can be telegram, email or both (got "${value}").`);
    if (ch !== "telegram" && !user.emailVerified) return replyUsage(ctx, "settings", "Set and verify an email first: /settings email you@example.com");
    ctx.account = s.users.update(user.id, { channels: ch });
    return replyHtml(ctx, `Alerts now go to <b>${ch}</b>.`);
  }
  if (key === "email") {
    if (!EMAIL_RE.test(value)) return replyUsage(ctx, "settings", `"${value.slice(0, 80)}" doesn't look like an email address.`);
    const code = s.users.startEmailVerification(user.id, value);
    await s.email.send({
      to: value,
      subject: "Your verification code for the Upstox alert bot",
      text: `Your code is ${code}. Send /verify ${code} to the bot within 30 minutes.\n\nIf you did not ask for this, ignore this email.`,
      html: `<p>Your code is <b>${code}</b>.</p><p>Send <code>/verify ${code}</code> to the bot within 30 minutes.</p><p style="color:#666">If you did not ask for this, ignore this email.</p>`,
    });
    return replyHtml(ctx, `📧 I sent a 6-digit code to ${escapeHtml(value)}. Send <code>/verify CODE</code> here to confirm it.`);
  }
  if (key === "quiet") {
    if (value.toLowerCase() === "off") {
      ctx.account = s.users.update(user.id, { quiet: null });
      return replyHtml(ctx, "Quiet hours are off.");
    }
    const [start, end] = value.split("-").map((x) => x.trim());
    if (!start || !end || !HHMM.test(start) || !HHMM.test(end) || start === end)
      return replyUsage(ctx, "settings", `Quiet hours are two IST times like 22:00-07:00 (got "${value.slice(0, 40)}").`);
    ctx.account = s.users.update(user.id, { quiet: { start, end } });
    return replyHtml(ctx, `Quiet hours set: ${start}–${end} IST. Alerts in that window arrive without sound.`);
  }
  if (key === "holdings") {
    if (value.toLowerCase() === "off") {
      ctx.account = s.users.update(user.id, { prefs: { ...user.prefs, holdingMovePct: undefined } });
      return replyHtml(ctx, "Holding-move alerts are off.");
    }
    const pct = /^(\d{1,2}(\.\d{1,2})?)%?$/.exec(value);
    const n = pct ? Number(pct[1]) : NaN;
    if (!(n >= 0.5 && n <= 50))
      return replyUsage(ctx, "settings", `Holding moves are a percent between 0.5 and 50, e.g. /settings holdings 3% (got "${value.slice(0, 20)}").`);
    ctx.account = s.users.update(user.id, { prefs: { ...user.prefs, holdingMovePct: n } });
    return replyHtml(ctx, `You'll hear when a holding moves ${n}% or more in a day (needs /login).`);
  }
  if (key === "charts" || key === "chart") {
    const onOff = value.toLowerCase();
    if (onOff !== "on" && onOff !== "off") return replyUsage(ctx, "settings", `Charts with alerts can be on or off (got "${value.slice(0, 20)}").`);
    ctx.account = s.users.update(user.id, { prefs: { ...user.prefs, alertCharts: onOff === "on" } });
    return replyHtml(
      ctx,
      onOff === "on"
        ? "📈 Price and indicator alerts now come with their chart (a picture in Telegram, inline in emails)."
        : "Alerts come as text again, without a chart.",
    );
  }
  if ((PREF_KINDS as readonly string[]).includes(key)) {
    const setting = value.toLowerCase() as AlertKindSetting;
    if (!["on", "silent", "off"].includes(setting)) return replyUsage(ctx, "settings", `${key} alerts can be on, silent or off (got "${value.slice(0, 20)}").`);
    ctx.account = s.users.update(user.id, { prefs: { ...user.prefs, [key as PrefKind]: setting } });
    return replyHtml(ctx, `${key} alerts: <b>${setting}</b>.`);
  }
  return replyUsage(ctx, "settings", `There is no setting called "${what.slice(0, 30)}".`);
});

pm.command("verify", async (ctx) => {
  const code = ctx.match.trim();
  if (!/^\d{6}$/.test(code)) return replyUsage(ctx, "verify", "The code is the 6 digits from the email.");
  const result = ctx.services.users.verifyEmail(ctx.account!.id, code);
  const answers: Record<typeof result, string> = {
    verified: "✅ Email confirmed. Use /settings channels both to get alerts there too.",
    wrong: "That code is not right. Check the email and try again.",
    expired: "That code has expired. Send /settings email you@example.com again for a new one.",
    none: "There is no email waiting for confirmation. Start with /settings email you@example.com.",
    "too many attempts": "Too many wrong codes. Send /settings email you@example.com again for a new one.",
  };
  await replyHtml(ctx, answers[result]);
});

pm.command("mute", async (ctx) => {
  const arg = ctx.match.trim();
  const ms = arg ? parseDuration(arg) : 3_600_000;
  if (ms === undefined) return replyUsage(ctx, "mute", `"${arg.slice(0, 20)}" is not a duration.`);
  const until = ctx.services.clock() + ms;
  ctx.account = ctx.services.users.update(ctx.account!.id, { mutedUntil: until });
  await replyHtml(ctx, `🔕 Alerts muted until ${formatIstMinute(until)} IST. /unmute to resume earlier.`);
});

pm.command("unmute", async (ctx) => {
  ctx.account = ctx.services.users.update(ctx.account!.id, { mutedUntil: null });
  await replyHtml(ctx, "🔔 Alerts are back on.");
});
