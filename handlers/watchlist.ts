import { Composer } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { chatMessage } from "../src/bot/errors.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees } from "../src/format/money.js";
import { signedPct } from "../src/format/numbers.js";
import type { InstrumentInfo } from "../src/market/types.js";

/** /watch, /unwatch, /watchlist. */
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

pm.command("watch", async (ctx) => {
  const words = ctx.match
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (!words.length) return replyUsage(ctx, "watch", "Which symbols?");
  if (words.length > 20) return replyUsage(ctx, "watch", "At most 20 symbols at a time.");
  const { found, problems } = resolveAll(ctx, words);
  const s = ctx.services;
  const have = s.watchlists.forUser(ctx.account!.id).length;
  const added: string[] = [];
  for (const i of found) {
    if (have + added.length >= MAX_WATCHLIST) {
      problems.push(`Your watchlist is full (${MAX_WATCHLIST} symbols).`);
      break;
    }
    if (s.watchlists.add(ctx.account!.id, i.instrumentKey)) added.push(i.tradingSymbol);
  }
  const lines = [];
  if (added.length) lines.push(`👀 Watching ${added.map(escapeHtml).join(", ")}.`);
  else if (found.length) lines.push("Already on your watchlist.");
  lines.push(...problems.map(escapeHtml));
  await replyHtml(ctx, lines.join("\n"));
});

pm.command("unwatch", async (ctx) => {
  const words = ctx.match
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (!words.length) return replyUsage(ctx, "unwatch", "Which symbols?");
  const { found, problems } = resolveAll(ctx, words);
  const removed = found.filter((i) => ctx.services.watchlists.remove(ctx.account!.id, i.instrumentKey)).map((i) => i.tradingSymbol);
  const notThere = found.filter((i) => !removed.includes(i.tradingSymbol)).map((i) => i.tradingSymbol);
  const lines = [];
  if (removed.length) lines.push(`Removed ${removed.map(escapeHtml).join(", ")}.`);
  if (notThere.length) lines.push(`${notThere.map(escapeHtml).join(", ")} ${notThere.length > 1 ? "were" : "was"} not on your watchlist.`);
  lines.push(...problems.map(escapeHtml));
  await replyHtml(ctx, lines.join("\n"));
});

pm.command("watchlist", async (ctx) => {
  const s = ctx.services;
  const keys = s.watchlists.forUser(ctx.account!.id);
  if (!keys.length) return replyHtml(ctx, "Your watchlist is empty. Add symbols with <code>/watch RELIANCE TCS</code>.");
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
  await replyHtml(ctx, `<b>Your watchlist</b>\n${lines.join("\n")}`);
});
