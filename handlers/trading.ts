import { Composer, InlineKeyboard } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { LOGIN_ENDED, NOT_LINKED } from "../src/bot/errors.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import type { User } from "../src/db/repositories/users.js";
import { ruleOutcome } from "../src/orders/gtt-transitions.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees } from "../src/format/money.js";
import { formatIstMinute } from "../src/format/time.js";
import type { CardRequest, GttPlaceRequest, PlaceRequest } from "../src/trading/card-request.js";
import { renderCard, renderDismissed, renderExpired, renderOutcome } from "../src/trading/card-view.js";
import type { OrderCard } from "../src/trading/order-cards.js";
import { GTT_ID_RE, ORDER_ID_RE, parseGtt, parseModify, parseOrder, type OrderIntent, type Side } from "../src/trading/parse-order.js";
import { modifiedOrderType, type PreTrade } from "../src/trading/trading-desk.js";
import type { UpstoxSession } from "../src/upstox/token-store.js";

/**
 * Trading from chat: /buy, /sell, /gtt, /modify, /cancel, /gtts, /limits, the card's Confirm
 * and Cancel, the Modify/Cancel buttons of /orders and /gtts, and the Buy/Sell/GTT/Snooze/
 * Delete buttons on alerts. Every write goes through a confirmation card (TradingDesk); this
 * file only parses and formats. Private chats only: a group gets the catch-all's pointer.
 */
export const tradingHandlers = new Composer<BotContext>();
const pm = tradingHandlers.chatType("private");

/** The user's Upstox session once trading is offered to them, or a reply saying why not. */
async function tradingSession(ctx: BotContext): Promise<UpstoxSession | undefined> {
  const s = ctx.services;
  const gate = s.trading.gate();
  if (gate) {
    await replyHtml(ctx, escapeHtml(gate));
    return undefined;
  }
  const session = s.upstox!.tokens.session(ctx.account!.id);
  if (!session) await replyHtml(ctx, escapeHtml(s.upstox!.tokens.state(ctx.account!.id).state === "none" ? NOT_LINKED : LOGIN_ENDED));
  return session;
}

const cardKeyboard = (card: OrderCard) => new InlineKeyboard().text("✅ Confirm", `oc:ok:${card.id}`).text("✖️ Cancel", `oc:no:${card.id}`);

/** Opens the card (audited) and sends it with its buttons; the message is remembered on the card. */
async function sendCard(ctx: BotContext, request: CardRequest, preTrade: PreTrade | undefined, note?: string): Promise<void> {
  const s = ctx.services;
  const card = s.trading.open(ctx.account!, request);
  const html = renderCard(card, preTrade, Math.round(s.config.trading.cardTtlMs / 1000)) + (note ? `\n<i>${escapeHtml(note)}</i>` : "");
  const sent = await ctx.reply(html, { parse_mode: "HTML", reply_markup: cardKeyboard(card), link_preview_options: { is_disabled: true } });
  s.trading.attachMessage(card, sent.chat.id, sent.message_id);
}

/** The limits a new order or GTT must pass before a card is even shown (they are checked again at Confirm). */
async function refusedByLimits(ctx: BotContext, value: number): Promise<boolean> {
  const over = ctx.services.trading.limitRefusal(ctx.account!, value);
  if (over) await replyHtml(ctx, `❌ ${escapeHtml(over)}`);
  return over !== undefined;
}

/** A card for a new order: the resolved instrument, Upstox's numbers and the value checked against the limits. */
async function orderCard(ctx: BotContext, intent: OrderIntent, note?: string): Promise<void> {
  const s = ctx.services;
  const sym = resolveSymbol(s.instruments, intent.symbol);
  if (!sym.ok) return replyHtml(ctx, escapeHtml(symbolMissMessage(sym)));
  const session = await tradingSession(ctx);
  if (!session) return;
  const key = sym.instrument.instrumentKey;
  const preTrade = await s.trading.preTrade(session, {
    instrumentKey: key,
    side: intent.side,
    quantity: intent.quantity,
    product: intent.product,
    price: intent.price,
  });
  const unitPrice = intent.price ?? intent.triggerPrice ?? preTrade.lastPrice;
  if (unitPrice === undefined)
    return replyHtml(
      ctx,
      `I have no price for ${escapeHtml(sym.instrument.tradingSymbol)} right now, so I can't check the order against your limits: give a limit price with <code>at PRICE</code>.`,
    );
  const value = Math.round(unitPrice * intent.quantity * 100) / 100;
  if (await refusedByLimits(ctx, value)) return;
  const request: PlaceRequest = {
    action: "place",
    instrumentKey: key,
    symbol: sym.instrument.tradingSymbol,
    side: intent.side,
    quantity: intent.quantity,
    orderType: intent.orderType,
    price: intent.price,
    triggerPrice: intent.triggerPrice,
    product: intent.product,
    value,
  };
  await sendCard(ctx, request, preTrade, note);
}

for (const side of ["buy", "sell"] as const) {
  pm.command(side, async (ctx) => {
    const parsed = parseOrder(side === "buy" ? "BUY" : "SELL", ctx.match);
    if (!parsed.ok) return replyUsage(ctx, side, parsed.error);
    await orderCard(ctx, parsed.value);
  });
}

/** A card for a new GTT, its value at the trigger price. */
async function gttCard(ctx: BotContext, g: Omit<GttPlaceRequest, "action" | "instrumentKey" | "value">, note?: string): Promise<void> {
  const s = ctx.services;
  const sym = resolveSymbol(s.instruments, g.symbol);
  if (!sym.ok) return replyHtml(ctx, escapeHtml(symbolMissMessage(sym)));
  const session = await tradingSession(ctx);
  if (!session) return;
  const key = sym.instrument.instrumentKey;
  const value = Math.round(g.trigger * g.quantity * 100) / 100;
  if (await refusedByLimits(ctx, value)) return;
  const preTrade = await s.trading.preTrade(session, { instrumentKey: key, side: g.side, quantity: g.quantity, product: g.product, price: g.trigger });
  await sendCard(ctx, { ...g, action: "gtt_place", instrumentKey: key, symbol: sym.instrument.tradingSymbol, value }, preTrade, note);
}

pm.command("gtt", async (ctx) => {
  const parsed = parseGtt(ctx.match);
  if (!parsed.ok) return replyUsage(ctx, "gtt", parsed.error);
  await gttCard(ctx, parsed.value);
});

pm.command("modify", async (ctx) => {
  const parsed = parseModify(ctx.match);
  if (!parsed.ok) return replyUsage(ctx, "modify", parsed.error);
  const session = await tradingSession(ctx);
  if (!session) return;
  const change = parsed.value;
  // The trader's own session: another account's order id is simply not found.
  const order = await ctx.services.upstox!.client.getOrderDetails(session, change.orderId);
  const side: Side = order.transactionType === "SELL" ? "SELL" : "BUY";
  const orderType = modifiedOrderType(order.orderType, change);
  const quantity = change.quantity ?? order.quantity;
  const price = change.price ?? order.price;
  const triggerPrice = change.triggerPrice ?? order.triggerPrice;
  const value = Math.round((price || triggerPrice || order.averagePrice || 0) * quantity * 100) / 100;
  if (await refusedByLimits(ctx, value)) return;
  await sendCard(
    ctx,
    {
      action: "modify",
      orderId: order.orderId,
      symbol: order.symbol.replace(/-EQ$/i, ""),
      side,
      orderType,
      quantity,
      price,
      triggerPrice,
      validity: "DAY",
      value,
    },
    undefined,
  );
});

/** A card cancelling one of the trader's open orders. */
async function cancelCard(ctx: BotContext, orderId: string): Promise<void> {
  const session = await tradingSession(ctx);
  if (!session) return;
  const order = await ctx.services.upstox!.client.getOrderDetails(session, orderId);
  await sendCard(
    ctx,
    {
      action: "cancel",
      orderId: order.orderId,
      symbol: order.symbol.replace(/-EQ$/i, ""),
      side: order.transactionType === "SELL" ? "SELL" : "BUY",
      quantity: order.quantity,
    },
    undefined,
  );
}

pm.command("cancel", async (ctx) => {
  const id = ctx.match.trim();
  if (!ORDER_ID_RE.test(id)) return replyUsage(ctx, "cancel", id ? `"${id.slice(0, 30)}" is not an order id: /orders shows them.` : "Say which order.");
  await cancelCard(ctx, id);
});

pm.command("gtts", async (ctx) => {
  const s = ctx.services;
  const session = await tradingSession(ctx);
  if (!session) return;
  // Upstox also lists GTTs that failed or were cancelled: only those with a leg still waiting are active.
  const gtts = (await s.trading.listGtts(ctx.account!, session)).filter((g) => g.rules.some((r) => ruleOutcome(r.status) === "waiting"));
  if (!gtts.length) return replyHtml(ctx, "You have no active GTTs. Set one with <code>/gtt INFY buy 10 below 1400 target 1500 sl 1350</code>.");
  const kb = new InlineKeyboard();
  const lines = gtts.slice(0, 30).map((g) => {
    const entry = g.rules.find((r) => r.strategy === "ENTRY");
    const legs = g.rules
      .filter((r) => r.strategy !== "ENTRY")
      .map((r) => `${r.strategy === "TARGET" ? "target" : "sl"} ${rupees(r.triggerPrice)}`)
      .join(", ");
    const sym = g.symbol.replace(/-EQ$/i, "");
    kb.text(`🚫 Cancel ${sym}`, `gx:${g.gttOrderId}`).row();
    return `<b>${escapeHtml(sym)}</b> ${escapeHtml(entry?.transactionType ?? "")} ${g.quantity} ${entry ? `${escapeHtml(entry.triggerType.toLowerCase())} ${rupees(entry.triggerPrice)}` : ""}${legs ? ` · ${legs}` : ""} · ${escapeHtml((entry?.status ?? "").toLowerCase())}${g.expiresAt ? ` · until ${formatIstMinute(g.expiresAt)} IST` : ""}\n<code>${escapeHtml(g.gttOrderId)}</code>`;
  });
  await replyHtml(ctx, `<b>Your GTTs</b>\n${lines.join("\n")}`, kb);
});

pm.command("limits", async (ctx) => {
  const s = ctx.services;
  const user = ctx.account!;
  const words = ctx.match.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const prefs = { ...user.prefs };
  for (let i = 0; i < words.length; i += 2) {
    const what = words[i];
    const raw = words[i + 1]?.replace(/^₹/, "").replace(/,/g, "");
    const n = raw !== undefined && /^\d{1,10}$/.test(raw) ? Number(raw) : undefined;
    if ((what !== "value" && what !== "orders") || (raw !== "off" && (n === undefined || n < 1)))
      return replyUsage(ctx, "limits", `Say value AMOUNT or orders COUNT (or off): "${words.slice(i, i + 2).join(" ")}" is not one.`);
    if (what === "value") prefs.maxOrderValue = raw === "off" ? undefined : n;
    else prefs.maxOrdersPerDay = raw === "off" ? undefined : n;
  }
  const updated = (words.length ? s.users.update(user.id, { prefs }) : undefined) ?? user;
  const { limits, own } = s.trading.limitsOf(updated);
  const op = s.config.trading;
  const lines = [
    "<b>Your trading limits</b>",
    `Per order: ${rupees(limits.maxOrderValue)}${own.maxOrderValue !== undefined && own.maxOrderValue < op.maxOrderValue ? " (your own)" : " (the operator's)"}`,
    `Orders a day: ${limits.maxOrdersPerDay}${own.maxOrdersPerDay !== undefined && own.maxOrdersPerDay < op.maxOrdersPerDay ? " (your own)" : " (the operator's)"} · ${s.trading.ordersToday(updated)} sent today`,
    `<i>You can lower them (never above the operator's ${rupees(op.maxOrderValue)} and ${op.maxOrdersPerDay}): /limits value 20000 orders 5, or /limits value off.</i>`,
  ];
  if (words.length)
    s.audit.record(user.telegramId, "trade.limits", String(user.id), {
      maxOrderValue: prefs.maxOrderValue ?? null,
      maxOrdersPerDay: prefs.maxOrdersPerDay ?? null,
    });
  await replyHtml(ctx, lines.join("\n"));
});

// --- buttons -------------------------------------------------------------------------
// Callback data is untrusted: strict shapes, and every action checked against the presser.

/** The presser's account in a private chat, or an answer saying where to go. */
async function presser(ctx: BotContext): Promise<User | undefined> {
  if (ctx.chat?.type !== "private" || !ctx.account) {
    await ctx.answerCallbackQuery({ text: "Trading works only in your private chat with the bot." });
    return undefined;
  }
  return ctx.account;
}

const CLAIM_ANSWERS = {
  missing: "That card no longer exists.",
  not_yours: "This card is not yours: only the trader who asked for it can confirm it.",
  expired: "This card has expired: nothing was sent. Ask again for a fresh one.",
  decided: "This card was already used: it works once.",
} as const;

tradingHandlers.callbackQuery(/^oc:(ok|no):([0-9a-f]{12})$/, async (ctx) => {
  const user = await presser(ctx);
  if (!user) return;
  const [, action, cardId] = ctx.match;
  const s = ctx.services;
  if (action === "no") {
    const card = s.trading.ownCard(cardId!, user);
    if (!card || !s.trading.dismiss(cardId!, user))
      return ctx.answerCallbackQuery({ text: card === undefined ? CLAIM_ANSWERS.not_yours : CLAIM_ANSWERS.decided });
    await ctx.answerCallbackQuery({ text: "Dropped: nothing was sent." });
    return ctx.editMessageText(renderDismissed(card), { parse_mode: "HTML" });
  }
  const taken = s.trading.take(cardId!, user);
  if (!taken.ok) {
    await ctx.answerCallbackQuery({ text: CLAIM_ANSWERS[taken.why] });
    if (taken.why === "expired" && taken.card) await ctx.editMessageText(renderExpired(taken.card), { parse_mode: "HTML" });
    return;
  }
  // Answered before sending (Telegram shows a spinner until then); the outcome replaces the card.
  await ctx.answerCallbackQuery({ text: "Sending…" }).catch(() => undefined);
  const result = await s.trading.carryOutTaken(taken.card, user);
  if (result.ok) await ctx.editMessageText(renderOutcome(result.card, result.outcome), { parse_mode: "HTML" });
});

tradingHandlers.callbackQuery(/^(om|ox):(\d{6,30})$/, async (ctx) => {
  const user = await presser(ctx);
  if (!user) return;
  const [, action, orderId] = ctx.match;
  if (action === "ox") {
    await ctx.answerCallbackQuery();
    return cancelCard(ctx, orderId!);
  }
  await ctx.answerCallbackQuery();
  await replyHtml(
    ctx,
    `To change order <code>${escapeHtml(orderId!)}</code>, send one of:\n<code>/modify ${escapeHtml(orderId!)} price 1450</code>\n<code>/modify ${escapeHtml(orderId!)} qty 10</code>\n<code>/modify ${escapeHtml(orderId!)} trigger 1440</code>\nYou'll get a card to confirm.`,
  );
});

tradingHandlers.callbackQuery(/^gx:(GTT-[A-Za-z0-9]{4,40})$/, async (ctx) => {
  const user = await presser(ctx);
  if (!user) return;
  const gttOrderId = ctx.match[1]!;
  await ctx.answerCallbackQuery();
  if (!GTT_ID_RE.test(gttOrderId)) return;
  const session = await tradingSession(ctx);
  if (!session) return;
  const [gtt] = await ctx.services.upstox!.client.getGtts(session, gttOrderId);
  if (!gtt) return replyHtml(ctx, "That GTT is no longer active: /gtts lists the ones that are.");
  const entry = gtt.rules.find((r) => r.strategy === "ENTRY");
  await sendCard(
    ctx,
    {
      action: "gtt_cancel",
      gttOrderId,
      symbol: gtt.symbol.replace(/-EQ$/i, ""),
      side: entry?.transactionType === "SELL" ? "SELL" : "BUY",
      quantity: gtt.quantity,
    },
    undefined,
  );
});

/** An alert's buttons: the signal they point at, checked to be the presser's. */
tradingHandlers.callbackQuery(/^al:(buy|sell|gtt|snz|del):(\d{1,12})$/, async (ctx) => {
  const user = await presser(ctx);
  if (!user) return;
  const [, action, idText] = ctx.match;
  const s = ctx.services;
  const signal = s.outbox.signalOf(Number(idText), user.id);
  if (!signal) return ctx.answerCallbackQuery({ text: "That alert is too old or not yours: set a new one with /alert." });
  if (action === "snz" || action === "del") {
    const rule = signal.ruleId === null ? undefined : s.rules.owned(signal.ruleId, user.id);
    if (!rule) return ctx.answerCallbackQuery({ text: "That alert no longer exists (it was deleted or has finished). /alerts lists yours." });
    if (action === "del") {
      s.rules.delete(rule.id, user.id);
      return ctx.answerCallbackQuery({ text: `Alert #${rule.id} deleted.` });
    }
    s.rules.snooze(rule.id, user.id, s.clock() + 3_600_000);
    return ctx.answerCallbackQuery({ text: `Alert #${rule.id} snoozed for 1 h.` });
  }
  await ctx.answerCallbackQuery();
  const symbol = s.instruments.get(signal.instrumentKey)?.tradingSymbol;
  if (!symbol || signal.price === null) return replyHtml(ctx, "That alert has no price to start from: use /buy or /gtt instead.");
  const price = Math.round(signal.price * 100) / 100;
  const change = `Quantity 1 at the alert's price. For another, send /${action === "gtt" ? `gtt ${symbol} buy 10 below ${price}` : `${action} ${symbol} 10 at ${price}`}.`;
  if (action === "gtt") {
    const last = (await s.pollState.latestQuotes([signal.instrumentKey])).get(signal.instrumentKey)?.lastPrice ?? price;
    return gttCard(
      ctx,
      { symbol, side: "BUY", quantity: 1, direction: price >= last ? "ABOVE" : "BELOW", trigger: price, target: undefined, stopLoss: undefined, product: "D" },
      change,
    );
  }
  await orderCard(
    ctx,
    { symbol, side: action === "buy" ? "BUY" : "SELL", quantity: 1, orderType: "LIMIT", price, triggerPrice: undefined, product: "D" },
    change,
  );
});
