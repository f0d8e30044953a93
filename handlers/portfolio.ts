import { Composer, InlineKeyboard } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { accountSession } from "../src/bot/account-session.js";
import { replyHtml } from "../src/bot/reply.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees, signedRupees } from "../src/format/money.js";
import { signedPct } from "../src/format/numbers.js";
import { summarisePortfolio } from "../src/portfolio/digest.js";
import type { UpstoxSession } from "../src/upstox/token-store.js";
import type { Order } from "../src/upstox/types.js";
import { isTerminalStage, stageOf } from "../src/orders/transitions.js";

/** /portfolio, /funds, /orders (with Modify and Cancel buttons while trading is on): the trader's own Upstox account, through their own token. */
export const portfolioHandlers = new Composer<BotContext>();
const pm = portfolioHandlers.chatType("private");

/**
 * Runs `work` with the user's session and sends what it returns. Upstox errors (a login that
 * ended mid-way, rate limits, Upstox down) go to the bot's error boundary, which answers them.
 */
async function withUpstox(ctx: BotContext, work: (session: UpstoxSession) => Promise<string>): Promise<void> {
  const session = await accountSession(ctx);
  if (!session) return;
  await replyHtml(ctx, await work(session));
}

pm.command("portfolio", (ctx) =>
  withUpstox(ctx, async (session) => {
    const { client } = ctx.services.upstox!;
    const [holdings, positions] = await Promise.all([client.getHoldings(session), client.getPositions(session)]);
    const p = summarisePortfolio(holdings, positions);
    const lines = ["<b>Holdings</b>"];
    if (!p.holdings.length) lines.push("none");
    for (const h of p.holdings) {
      lines.push(
        `${escapeHtml(h.symbol)} ×${h.quantity} @ ${rupees(h.averagePrice)} → ${rupees(h.lastPrice)} · P&amp;L ${signedRupees(h.pnl)} · today ${signedRupees(h.dayChange)}`,
      );
    }
    lines.push("", "<b>Positions</b>");
    if (!p.positions.length) lines.push("none");
    for (const x of p.positions) {
      lines.push(`${escapeHtml(x.symbol)} ${x.quantity > 0 ? "+" : ""}${x.quantity} (${escapeHtml(x.product)}) · P&amp;L ${signedRupees(x.pnl)}`);
    }
    const pct = p.holdingsDayChangePct;
    lines.push("", `<b>Day P&amp;L: ${signedRupees(p.dayPnl)}</b>${pct !== null ? ` (holdings ${signedPct(pct)})` : ""}`);
    return lines.join("\n");
  }),
);

pm.command("funds", (ctx) =>
  withUpstox(ctx, async (session) => {
    const f = await ctx.services.upstox!.client.getFunds(session);
    const seg = (name: string, x: typeof f.equity) => (x ? `<b>${name}</b>: available ${rupees(x.availableMargin)}, used ${rupees(x.usedMargin)}` : undefined);
    return [seg("Equity", f.equity), seg("Commodity", f.commodity)].filter(Boolean).join("\n") || "Upstox reported no funds.";
  }),
);

/** Complete, rejected or cancelled (REFERENCE §5.4): such an order can no longer be changed or cancelled. */
const finished = (o: Order) => isTerminalStage(stageOf(o));

pm.command("orders", async (ctx) => {
  const session = await accountSession(ctx);
  if (!session) return;
  const s = ctx.services;
  const orders = await s.upstox!.client.getOrderBook(session);
  if (!orders.length) return replyHtml(ctx, "No orders today.");
  const open = orders.slice(-30).filter((o) => !finished(o));
  const gate = s.trading.gate();
  const kb = new InlineKeyboard();
  if (!gate)
    for (const o of open.slice(-20))
      kb.text(`✏️ ${o.symbol.replace(/-EQ$/i, "")} ×${o.quantity}`, `om:${o.orderId}`)
        .text("🚫 Cancel", `ox:${o.orderId}`)
        .row();
  const note = open.length && gate ? `\n<i>${escapeHtml(gate)}</i>` : "";
  await replyHtml(ctx, `${ordersText(orders)}${note}`, !gate && open.length ? kb : undefined);
});

/** One line an order; open ones show their id, for /modify and /cancel. */
function ordersText(orders: Order[]): string {
  const lines = orders.slice(-30).map((o) => {
    const price = o.averagePrice ? rupees(o.averagePrice) : o.price ? rupees(o.price) : o.orderType;
    const why = o.status === "rejected" && o.statusMessage ? ` — ${escapeHtml(o.statusMessage)}` : "";
    const id = finished(o) ? "" : ` · <code>${escapeHtml(o.orderId)}</code>`;
    return `${escapeHtml(o.transactionType)} ${escapeHtml(o.symbol)} ×${o.quantity} ${price} · <b>${escapeHtml(o.status)}</b>${o.filledQuantity && o.filledQuantity < o.quantity ? ` (${o.filledQuantity} filled)` : ""}${why}${id}`;
  });
  return `<b>Today's orders</b>\n${lines.join("\n")}`;
}
