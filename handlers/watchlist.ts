import { Composer } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { chatMessage } from "../src/bot/errors.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { LIST_NAME_RE } from "../src/bot/parse-alert.js";
import { editDistance, resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import { MAIN_LIST } from "../src/db/repositories/watchlists.js";
import { MAX_SYMBOL_RULES_PER_USER } from "../src/signals/engine.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees } from "../src/format/money.js";
import { signedPct } from "../src/format/numbers.js";
import type { InstrumentInfo } from "../src/market/types.js";

/** /watch, /unwatch, /watchlist: the main list and named ones. */
export const watchlistHandlers = new Composer<BotContext>();
const pm = watchlistHandlers.chatType("private");

const MAX_WATCHLIST = 100;

/** Resolves every symbol; returns the instruments and a line per unknown one. */
export function resolveAll(ctx: BotContext, words: string[]): { found: InstrumentInfo[]; problems: string[] } {
  const found: InstrumentInfo[] = [];
  const problems: string[] = [];
  for (const w of words) {
    const r = resolveSymbol(ctx.services.instruments, w);
    if (r.ok) found.push(r.instrument);
    else problems.push(symbolMissMessage(r));
  }
  return { found, problems };
}

const MAX_LISTS = 10;

const wordsOf = (text: string) =>
  text
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);

const listLabel = (list: string) => (list === MAIN_LIST ? "your watchlist" : `list ${list}`);

/**
 * `/watch banks HDFCBANK ICICIBANK`: the first word names a list when the trader has that list,
 * or when it is no symbol and a symbol follows it. Otherwise every word is a symbol of the
 * main list, as before lists had names.
 */
function splitList(ctx: BotContext, words: string[], create: boolean): { list: string; symbols: string[] } {
  const first = words[0]?.toLowerCase();
  if (words.length < 2 || first === undefined || !LIST_NAME_RE.test(first)) return { list: MAIN_LIST, symbols: words };
  const s = ctx.services;
  const user = ctx.account!.id;
  if (s.watchlists.lists(user).some((l) => l.name === first)) return { list: first, symbols: words.slice(1) };
  if (create && !resolveSymbol(s.instruments, first).ok && words.slice(1).some((w) => resolveSymbol(s.instruments, w).ok))
    return { list: first, symbols: words.slice(1) };
  return { list: MAIN_LIST, symbols: words };
}

pm.command("watch", async (ctx) => {
  const words = wordsOf(ctx.match);
  if (!words.length) return replyUsage(ctx, "watch", "Which symbols?");
  const { list, symbols } = splitList(ctx, words, true);
  if (symbols.length > 20) return replyUsage(ctx, "watch", "At most 20 symbols at a time.");
  const s = ctx.services;
  const userId = ctx.account!.id;
  const lists = s.watchlists.lists(userId);
  const isNew = list !== MAIN_LIST && !lists.some((l) => l.name === list);
  if (isNew && lists.length >= MAX_LISTS) return replyHtml(ctx, escapeHtml(`You have ${MAX_LISTS} lists, the most allowed. Empty one with /unwatch LIST all.`));
  const { found, problems } = resolveAll(ctx, symbols);
  const have = s.watchlists.forUser(userId, list).length;
  // Each symbol added to a list gains a rule per alert on the list: bounded like the rules themselves.
  const perSymbol = list === MAIN_LIST ? 0 : s.rules.rulesOnList(userId, list);
  let room = perSymbol ? Math.floor((MAX_SYMBOL_RULES_PER_USER - s.rules.symbolRuleCount(userId)) / perSymbol) : Infinity;
  const added: string[] = [];
  let full = false;
  for (const i of found) {
    if (have + added.length >= MAX_WATCHLIST) {
      full = true;
      problems.push(`${list === MAIN_LIST ? "Your watchlist" : `List ${list}`} is full (${MAX_WATCHLIST} symbols).`);
      break;
    }
    if (room <= 0) {
      full = true;
      problems.push(
        `Your alerts watch ${MAX_SYMBOL_RULES_PER_USER} symbols, the most: the alerts on list ${list} can't take more. Delete some with /alerts first.`,
      );
      break;
    }
    if (s.watchlists.add(userId, i.instrumentKey, list)) {
      added.push(i.tradingSymbol);
      room--;
    }
  }
  const lines = [];
  if (added.length && isNew)
    lines.push(`📋 New list <b>${escapeHtml(list)}</b>: watching ${added.map(escapeHtml).join(", ")}. See it with /watchlist ${escapeHtml(list)}.`);
  else if (added.length) lines.push(`👀 Watching ${added.map(escapeHtml).join(", ")}${list === MAIN_LIST ? "" : ` on list <b>${escapeHtml(list)}</b>`}.`);
  else if (found.length && !full) lines.push(`Already on ${escapeHtml(listLabel(list))}.`);
  if (added.length && isNew) {
    // A mistyped symbol first reads as a new list's name: say so while it is one command to undo.
    const miss = resolveSymbol(s.instruments, list);
    if (!miss.ok && miss.suggestions.length)
      problems.push(
        `If "${list}" was meant as the symbol ${miss.suggestions[0]}: /unwatch ${list} all, then /watch ${[miss.suggestions[0], ...added].join(" ")}.`,
      );
  }
  lines.push(...problems.map(escapeHtml));
  await replyHtml(ctx, lines.join("\n"));
});

pm.command("unwatch", async (ctx) => {
  const words = wordsOf(ctx.match);
  if (!words.length) return replyUsage(ctx, "unwatch", "Which symbols?");
  const { list, symbols } = splitList(ctx, words, false);
  const s = ctx.services;
  const userId = ctx.account!.id;
  if (list !== MAIN_LIST && symbols.length === 1 && symbols[0]!.toLowerCase() === "all") {
    const n = s.watchlists.clear(userId, list);
    return replyHtml(
      ctx,
      `🗑 List <b>${escapeHtml(list)}</b> emptied (${n} symbol${n === 1 ? "" : "s"}); alerts on it stay and watch what you add to it again.`,
    );
  }
  const { found, problems } = resolveAll(ctx, symbols);
  const removed = found.filter((i) => s.watchlists.remove(userId, i.instrumentKey, list)).map((i) => i.tradingSymbol);
  const notThere = found.filter((i) => !removed.includes(i.tradingSymbol)).map((i) => i.tradingSymbol);
  const lines = [];
  if (removed.length) lines.push(`Removed ${removed.map(escapeHtml).join(", ")}${list === MAIN_LIST ? "" : ` from list <b>${escapeHtml(list)}</b>`}.`);
  if (notThere.length) lines.push(`${notThere.map(escapeHtml).join(", ")} ${notThere.length > 1 ? "were" : "was"} not on ${escapeHtml(listLabel(list))}.`);
  lines.push(...problems.map(escapeHtml));
  await replyHtml(ctx, lines.join("\n"));
});

pm.command("watchlist", async (ctx) => {
  const s = ctx.services;
  const userId = ctx.account!.id;
  const asked = ctx.match.trim().toLowerCase();
  const lists = s.watchlists.lists(userId);
  if (asked && !lists.some((l) => l.name === asked)) {
    const near = lists.find((l) => editDistance(l.name, asked) <= 2);
    const problem = near
      ? `You have no list named ${asked.slice(0, 30)}. Did you mean ${near.name}?`
      : lists.length
        ? `You have no list named ${asked.slice(0, 30)}. Your lists: ${lists.map((l) => l.name).join(", ")}.`
        : `You have no list named ${asked.slice(0, 30)}. Make one with /watch ${LIST_NAME_RE.test(asked) ? asked : "banks"} SYMBOL SYMBOL…`;
    return replyUsage(ctx, "watchlist", problem);
  }
  const list = asked || MAIN_LIST;
  const others = lists.filter((l) => l.name !== list).map((l) => `${l.name} (${l.size})`);
  const footer = others.length ? `\n\n📋 ${list === MAIN_LIST ? "Your lists" : "Other lists"}: ${escapeHtml(others.join(" · "))} — /watchlist NAME` : "";
  const keys = s.watchlists.forUser(userId, list);
  if (!keys.length) return replyHtml(ctx, `Your watchlist is empty. Add symbols with <code>/watch RELIANCE TCS</code>.${footer}`);
  // Live prices from the last poll; outside market hours, the last known ones. Symbols with no
  // price yet (or, while the market is open, a price older than 5 minutes) are asked for in one call.
  const quotes = await s.pollState.latestQuotes(keys);
  const now = s.clock();
  const open = s.marketOpen(new Date(now));
  const ask = keys.filter((k) => {
    const q = quotes.get(k);
    return !q || (open && now - q.lastTradeAt > 5 * 60_000);
  });
  let unavailable: string | undefined;
  if (ask.length) {
    try {
      for (const [k, q] of await s.quotes.getQuotes(ask)) quotes.set(k, q);
    } catch (err) {
      // The list is still worth showing: every symbol, with the prices we have and why the rest are missing.
      const why = chatMessage(err);
      s.log[why === undefined ? "error" : "warn"]({ err: (err as Error).message, userId: ctx.account!.id }, "prices for /watchlist failed");
      unavailable = why ?? "Live prices are unavailable right now. Please try again in a minute.";
    }
  }
  const lines = keys.map((key) => {
    const q = quotes.get(key);
    const sym = escapeHtml(s.instruments.get(key)?.tradingSymbol ?? q?.symbol ?? key);
    if (!q) return `<b>${sym}</b> — ${unavailable ? "price unavailable" : "no price yet"}`;
    const pct = q.prevClose > 0 ? ((q.lastPrice - q.prevClose) / q.prevClose) * 100 : 0;
    return `<b>${sym}</b> ${rupees(q.lastPrice)} (${signedPct(pct)})`;
  });
  if (unavailable) lines.push("", `⚠️ ${escapeHtml(unavailable)}`);
  await replyHtml(ctx, `<b>${list === MAIN_LIST ? "Your watchlist" : `List ${escapeHtml(list)}`}</b>\n${lines.join("\n")}${footer}`);
});
