import { Composer, InlineKeyboard } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { alertCommand } from "../src/bot/alert-command.js";
import { parseAlert, type AlertRequest } from "../src/bot/parse-alert.js";
import { MAX_SYMBOL_RULES_PER_USER, WATCHLIST_MESSAGES_PER_MINUTE } from "../src/signals/engine.js";
import { readsYearRange, type AlertRule, type RuleKind } from "../src/signals/rules.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { editDistance, resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees } from "../src/format/money.js";
import { describeRule } from "../src/format/rules.js";
import { formatIstClock, formatIstMinute } from "../src/format/time.js";

/** /alert, /alerts (with delete, snooze and resume buttons), /delalert. */
export const alertHandlers = new Composer<BotContext>();
const pm = alertHandlers.chatType("private");

const MAX_RULES_PER_USER = 200;
const SNOOZE_MINUTES = [60, 24 * 60];

pm.command("alert", async (ctx) => {
  const s = ctx.services;
  const parsed = parseAlert(ctx.match);
  // A mistake in a known form gets that form's usage line; anything else, every form.
  if (!parsed.ok)
    return parsed.usage
      ? replyHtml(ctx, `⚠️ ${escapeHtml(parsed.error)}\nUsage: <code>${escapeHtml(parsed.usage)}</code>`)
      : replyUsage(ctx, "alert", parsed.error);
  const req = parsed.value;
  const yearly = req.kind !== "cross" && readsYearRange({ kind: req.kind, params: req.params });
  if (yearly && !s.upstox)
    return replyHtml(
      ctx,
      "52-week alerts compare with a year of daily prices from Upstox; the built-in market simulator has none, so they could never fire here.",
    );
  if (req.watchlist !== undefined) return createWatchlistRule(ctx, req as AlertRequest & { watchlist: string });
  const sym = resolveSymbol(s.instruments, req.symbol);
  if (!sym.ok) return replyHtml(ctx, escapeHtml(symbolMissMessage(sym)));
  const user = ctx.account!;
  if (s.rules.forUser(user.id).length >= MAX_RULES_PER_USER)
    return replyHtml(ctx, `You have ${MAX_RULES_PER_USER} alerts, the most allowed. Delete some with /alerts first.`);
  const key = sym.instrument.instrumentKey;
  let kind = req.kind;
  const last = (await s.pollState.latestQuotes([key])).get(key);
  if (kind === "cross") {
    if (!last) return replyUsage(ctx, "alert", `I have no price for ${sym.instrument.tradingSymbol} yet, so say "cross up" or "cross down".`);
    kind = (req.params.level ?? 0) > last.lastPrice ? "cross_up" : "cross_down";
  }
  const rule = s.rules.create({
    userId: user.id,
    instrumentKey: key,
    kind,
    params: req.params,
    frequency: req.frequency,
    cooldownSeconds: req.cooldownSeconds,
    expiresAt: req.expiresInMs ? s.clock() + req.expiresInMs : null,
  });
  // Alerted instruments are polled: keep them on the watchlist too, so /watchlist shows them.
  s.watchlists.add(user.id, key);
  const now = last ? ` Now ${rupees(last.lastPrice)}.` : "";
  const expiry = rule.expiresAt ? ` Expires ${formatIstMinute(rule.expiresAt)} IST.` : "";
  await replyHtml(
    ctx,
    `✅ Alert #${rule.id}: <b>${escapeHtml(sym.instrument.tradingSymbol)}</b> ${escapeHtml(describeRule(rule))}.${now}${expiry}${yearNote(yearly)}`,
  );
});

/** `/alert watchlist NAME ...`: one rule, a child per symbol of the list, each firing on its own. */
async function createWatchlistRule(ctx: BotContext, req: AlertRequest & { watchlist: string }): Promise<void> {
  const s = ctx.services;
  const user = ctx.account!;
  const size = s.watchlists.forUser(user.id, req.watchlist).length;
  if (!size) {
    const lists = s.watchlists.lists(user.id).map((l) => l.name);
    const near = lists.find((l) => editDistance(l, req.watchlist) <= 2);
    const hint = near ? ` Did you mean ${near}?` : lists.length ? ` Your lists: ${lists.join(", ")}.` : "";
    return replyHtml(ctx, escapeHtml(`You have no watchlist named ${req.watchlist}.${hint} Make one with /watch ${req.watchlist} SYMBOL SYMBOL…`));
  }
  if (s.rules.forUser(user.id).length >= MAX_RULES_PER_USER)
    return replyHtml(ctx, `You have ${MAX_RULES_PER_USER} alerts, the most allowed. Delete some with /alerts first.`);
  const watched = s.rules.symbolRuleCount(user.id);
  if (watched + size > MAX_SYMBOL_RULES_PER_USER)
    return replyHtml(
      ctx,
      escapeHtml(
        `Your alerts already watch ${watched} symbols (a rule on a list counts each of its symbols); ${MAX_SYMBOL_RULES_PER_USER} is the most. Delete some with /alerts first.`,
      ),
    );
  const rule = s.rules.createForWatchlist({
    userId: user.id,
    watchlist: req.watchlist,
    // parseAlert refuses a price level (and so "cross") on a watchlist.
    kind: req.kind as RuleKind,
    params: req.params,
    frequency: req.frequency,
    cooldownSeconds: req.cooldownSeconds,
    expiresAt: req.expiresInMs ? s.clock() + req.expiresInMs : null,
  });
  const expiry = rule.expiresAt ? ` Expires ${formatIstMinute(rule.expiresAt)} IST.` : "";
  await replyHtml(
    ctx,
    `✅ Alert #${rule.id}: watchlist <b>${escapeHtml(req.watchlist)}</b> (${size} symbol${size === 1 ? "" : "s"}) ${escapeHtml(describeRule(rule))}.` +
      ` Each symbol fires on its own, and symbols you add to the list later are watched too; at most ${WATCHLIST_MESSAGES_PER_MINUTE} messages a minute.${expiry}` +
      yearNote(readsYearRange(rule)),
  );
}

/** A 52-week rule waits for its year of daily prices (fetched within a minute of the rule); a listing younger than that never fires. */
const yearNote = (yearly: boolean) =>
  yearly ? " I fetch a year of daily prices to compare with first (within a minute); a stock listed less than a year ago has no 52-week range yet." : "";

/** A rule's subject on /alerts: the symbol, or the watchlist with how its symbols stand. */
function subjectOf(ctx: BotContext, r: AlertRule): { command: string; note: string; pausedSymbols: number } {
  const s = ctx.services;
  if (r.watchlist === null || r.watchlist === undefined) {
    const symbol = s.instruments.get(r.instrumentKey)?.tradingSymbol ?? r.instrumentKey;
    return { command: symbol, note: "", pausedSymbols: 0 };
  }
  const m = s.rules.members(r.id);
  const paused = m.paused ? `, ${m.paused} paused for firing too often (▶️ resumes them)` : "";
  return { command: `watchlist ${r.watchlist}`, note: ` (${m.symbols} symbol${m.symbols === 1 ? "" : "s"}${paused})`, pausedSymbols: m.paused };
}

async function showAlerts(ctx: BotContext): Promise<void> {
  const s = ctx.services;
  const rules = s.rules.forUser(ctx.account!.id);
  if (!rules.length) return replyHtml(ctx, "You have no alerts. Set one with <code>/alert RELIANCE above 1500</code>.");
  const kb = new InlineKeyboard();
  const lines = rules.map((r) => {
    const { command, note, pausedSymbols } = subjectOf(ctx, r);
    const state = r.status === "paused" ? " ⏸ paused" : r.snoozedUntil && r.snoozedUntil > s.clock() ? ` 😴 until ${formatIstClock(r.snoozedUntil)}` : "";
    kb.text(`🗑 #${r.id}`, `a:del:${r.id}`);
    if (r.status === "paused" || pausedSymbols > 0) kb.text(`▶️ #${r.id}`, `a:res:${r.id}`);
    else kb.text(`😴 #${r.id} 1h`, `a:snz:${r.id}:60`);
    kb.row();
    // The rule as /alert reads it (copy, edit, send again), then in words.
    return `#${r.id} <code>${escapeHtml(alertCommand(r, command))}</code>${state}${escapeHtml(note)}\n    ${escapeHtml(describeRule(r))}`;
  });
  // Telegram allows at most 100 buttons; beyond that, /delalert ID still works.
  await replyHtml(ctx, `<b>Your alerts</b>\n${lines.join("\n")}`, rules.length <= 50 ? kb : undefined);
}

pm.command("alerts", showAlerts);

pm.command("delalert", async (ctx) => {
  const arg = ctx.match.trim().replace(/^#/, "");
  if (!/^\d{1,9}$/.test(arg)) return replyUsage(ctx, "delalert", "Give the alert's number from /alerts.");
  const ok = ctx.services.rules.delete(Number(arg), ctx.account!.id);
  await replyHtml(ctx, ok ? `🗑 Alert #${arg} deleted.` : `You have no alert #${arg}. See /alerts.`);
});

// Callback data is untrusted: a strict shape, and every action scoped to the presser's own rules.
alertHandlers.callbackQuery(/^a:(del|snz|res):(\d{1,9})(?::(\d{1,5}))?$/, async (ctx) => {
  const [, action, idText, minutesText] = ctx.match;
  const user = ctx.account;
  if (!user) return ctx.answerCallbackQuery({ text: "Open a private chat with the bot to manage alerts." });
  const minutes = Number(minutesText ?? 60);
  if (action === "snz" && !SNOOZE_MINUTES.includes(minutes)) return ctx.answerCallbackQuery({ text: "That button is not valid." });
  return ctx.answerCallbackQuery({ text: actOnRule(ctx, user.id, Number(idText), action as RuleAction, minutes) });
});

// An alert message's own Snooze and Delete point at the signal that fired: its rule, if it still exists.
alertHandlers.callbackQuery(/^al:(snz|del):(\d{1,12})$/, async (ctx) => {
  const [, action, idText] = ctx.match;
  const user = ctx.account;
  if (!user) return ctx.answerCallbackQuery({ text: "Open a private chat with the bot to manage alerts." });
  const signal = ctx.services.outbox.signalOf(Number(idText), user.id);
  if (!signal) return ctx.answerCallbackQuery({ text: "That alert is too old or not yours. /alerts lists yours." });
  if (signal.ruleId === null) return ctx.answerCallbackQuery({ text: "That alert is not yours or no longer exists." });
  return ctx.answerCallbackQuery({ text: actOnRule(ctx, user.id, signal.ruleId, action as RuleAction, 60) });
});

type RuleAction = "del" | "snz" | "res";

/** Deletes, snoozes or resumes one of the user's rules; the answer for the button. */
function actOnRule(ctx: BotContext, userId: number, id: number, action: RuleAction, minutes: number): string {
  const s = ctx.services;
  const rule = s.rules.owned(id, userId);
  if (!rule) return "That alert is not yours or no longer exists.";
  // One symbol of a watchlist rule (an alert message's buttons): the rest of the list goes on.
  const name = rule.parentId ? `${s.instruments.get(rule.instrumentKey)?.tradingSymbol ?? "This symbol"} on alert #${rule.parentId}` : `Alert #${id}`;
  if (action === "del") {
    s.rules.delete(id, userId);
    return rule.parentId ? `${name} deleted; the rest of the list goes on.` : `${name} deleted.`;
  }
  if (action === "res") return s.rules.resume(id, userId) ? `${name} resumed.` : `${name} is not paused.`;
  s.rules.snooze(id, userId, s.clock() + minutes * 60_000);
  return `${name} snoozed for ${minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`}.`;
}
