import { Composer } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { chatMessage } from "../src/bot/errors.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees } from "../src/format/money.js";
import { formatCount, signedPct } from "../src/format/numbers.js";
import { formatIstClock, formatIstMinute, formatIstTime } from "../src/format/time.js";

/** /quote and /signals. */
export const marketHandlers = new Composer<BotContext>();
const pm = marketHandlers.chatType("private");

const fmt = (v: unknown, digits = 2) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : undefined);

pm.command("quote", async (ctx) => {
  const s = ctx.services;
  const arg = ctx.match.trim();
  if (!arg || /\s/.test(arg)) return replyUsage(ctx, "quote", arg ? "One symbol at a time." : "Which symbol?");
  const sym = resolveSymbol(s.instruments, arg);
  if (!sym.ok) return replyHtml(ctx, escapeHtml(symbolMissMessage(sym)));
  const key = sym.instrument.instrumentKey;
  let q = (await s.pollState.latestQuotes([key])).get(key);
  let unavailable: string | undefined;
  if (!q || s.clock() - q.lastTradeAt > 5 * 60_000) {
    try {
      q = (await s.quotes.getQuotes([key])).get(key) ?? q;
    } catch (err) {
      // Nothing to show: the error boundary says why. An older price is shown with the reason.
      if (!q) throw err;
      s.log.warn({ err: (err as Error).message, instrumentKey: key }, "live quote for /quote failed: showing the last known price");
      unavailable = chatMessage(err) ?? "Live prices are unavailable right now.";
    }
  }
  if (!q) return replyHtml(ctx, `No price for ${escapeHtml(sym.instrument.tradingSymbol)} right now.`);
  const pct = q.prevClose > 0 ? ((q.lastPrice - q.prevClose) / q.prevClose) * 100 : 0;
  const lines = [
    `<b>${escapeHtml(sym.instrument.tradingSymbol)}</b> ${escapeHtml(sym.instrument.name)}`,
    `${rupees(q.lastPrice)} (${signedPct(pct)})`,
    `Open ${rupees(q.open)} · High ${rupees(q.high)} · Low ${rupees(q.low)} · Prev close ${rupees(q.prevClose)}`,
    `Volume ${formatCount(q.volume)}`,
  ];
  const ind = await s.pollState.latestIndicators(key);
  if (ind) {
    const v = ind.values;
    const macd = v["macd:12:26:9"] as { macd?: number; signal?: number } | undefined;
    const bb = v["bb:20:2"] as { upper?: number; lower?: number } | undefined;
    const st = v["supertrend:10:3"] as { value?: number; direction?: number } | undefined;
    const parts = [
      fmt(v["rsi:14"]) && `RSI ${fmt(v["rsi:14"])}`,
      fmt(v["ema:20"]) && `EMA20 ${fmt(v["ema:20"])}`,
      fmt(v["sma:50"]) && `SMA50 ${fmt(v["sma:50"])}`,
      macd && fmt(macd.macd, 3) && `MACD ${fmt(macd.macd, 3)}/${fmt(macd.signal, 3)}`,
      bb && fmt(bb.upper) && `BB ${fmt(bb.lower)}–${fmt(bb.upper)}`,
      st && fmt(st.value) && `Supertrend ${fmt(st.value)} ${st.direction === 1 ? "▲" : "▼"}`,
      fmt(v.vwap) && `VWAP ${fmt(v.vwap)}`,
    ].filter(Boolean);
    if (parts.length) lines.push(`<i>1-min ${formatIstClock(ind.ts)}:</i> ${parts.join(" · ")}`);
  }
  lines.push(`<i>as of ${formatIstMinute(q.lastTradeAt || s.clock())} IST</i>`);
  if (unavailable) lines.push(`⚠️ ${escapeHtml(unavailable)}`);
  await replyHtml(ctx, lines.join("\n"));
});

pm.command("signals", async (ctx) => {
  const s = ctx.services;
  const arg = ctx.match.trim();
  let key: string | undefined;
  if (arg) {
    const sym = resolveSymbol(s.instruments, arg);
    if (!sym.ok) return replyHtml(ctx, escapeHtml(symbolMissMessage(sym)));
    key = sym.instrument.instrumentKey;
  }
  const rows = s.outbox.recentSignals(ctx.account!.id, key, 10);
  if (!rows.length) return replyHtml(ctx, arg ? `No signals for ${escapeHtml(arg.toUpperCase())} yet.` : "No signals yet. Set alerts with /alert.");
  const lines = rows.map((r) => {
    const sym = escapeHtml(String(r.payload.symbol ?? r.instrumentKey));
    return `${formatIstTime(r.createdAt).slice(5, 16)} <b>${sym}</b> ${escapeHtml(r.kind.replace(/_/g, " "))}${r.price !== null ? ` at ${rupees(r.price)}` : ""}`;
  });
  await replyHtml(ctx, `<b>Latest signals</b>\n${lines.join("\n")}`);
});
