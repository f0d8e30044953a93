import { Composer, InputFile } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import { chartInput } from "../src/charts/chart-spec.js";
import { parseChart } from "../src/charts/parse-chart.js";
import { escapeHtml } from "../src/format/html.js";
import { aggregate, BAR_MINUTES } from "../src/market/timeframes.js";

/** /chart: the candles the bot stored, as a picture, with the trader's overlays and alert levels. */
export const chartHandlers = new Composer<BotContext>();
const pm = chartHandlers.chatType("private");

/** Bars of history before the first one drawn, so the overlays have settled where the chart starts. */
const WARM_UP_BARS = 60;
/** The most one-minute candles one chart reads. */
const MAX_MINUTES = 60_000;

pm.command("chart", async (ctx) => {
  const s = ctx.services;
  const parsed = parseChart(ctx.match);
  if (!parsed.ok) return replyUsage(ctx, "chart", parsed.error);
  const req = parsed.value;
  const sym = resolveSymbol(s.instruments, req.symbol);
  if (!sym.ok) return replyHtml(ctx, escapeHtml(symbolMissMessage(sym)));
  const key = sym.instrument.instrumentKey;
  const symbol = sym.instrument.tradingSymbol;
  const minutes = s.candles.recent(key, "1m", Math.min(MAX_MINUTES, (req.count + WARM_UP_BARS) * BAR_MINUTES[req.timeframe]));
  const bars = req.timeframe === "1m" ? minutes : aggregate(minutes, req.timeframe, (t) => s.calendar.session(new Date(t)));
  if (!bars.length)
    return replyHtml(
      ctx,
      `I have no candles of ${escapeHtml(symbol)} yet: the bot keeps one-minute candles of the symbols someone watches. /watch ${escapeHtml(symbol)}, and ask again after a few minutes of trading.`,
    );
  const rules = s.rules.forUser(ctx.account!.id).filter((r) => r.instrumentKey === key);
  const input = chartInput({ symbol, timeframe: req.timeframe, bars, count: req.count, asked: req.overlays, rules });
  // The renderer (Skia, a native library of some 35 MB) loads on the first chart, not at start-up.
  const { renderChartPng } = await import("../src/charts/render-chart.js");
  const png = await renderChartPng(input);
  const last = input.bars.at(-1)!;
  await ctx.replyWithPhoto(new InputFile(png, `${symbol}-${req.timeframe}.png`), {
    caption: `${symbol} ${req.timeframe}: ${input.bars.length} candles, last ₹${last.close.toFixed(2)}`,
  });
});
