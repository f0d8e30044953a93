import { Composer, InlineKeyboard } from "grammy";
import type { BotContext } from "../src/bot/context.js";
import { accountSession } from "../src/bot/account-session.js";
import { chatMessage } from "../src/bot/errors.js";
import { replyHtml, replyUsage } from "../src/bot/reply.js";
import { resolveSymbol, symbolMissMessage } from "../src/bot/symbols.js";
import type { User } from "../src/db/repositories/users.js";
import { escapeHtml } from "../src/format/html.js";
import { rupees } from "../src/format/money.js";
import { formatIstMinute } from "../src/format/time.js";
import type { InstrumentInfo } from "../src/market/types.js";
import { ruleOutcome } from "../src/orders/gtt-transitions.js";
import { displaySymbol, normalizeStatus, toTransactionType } from "../src/orders/snapshot.js";
import { isTerminalStage, stageOf } from "../src/orders/transitions.js";
import type { CardRequest, GttPlaceRequest } from "../src/trading/card-request.js";
import { renderCard, renderDismissed, renderExpired, renderOutcome } from "../src/trading/card-view.js";
import { orderValue } from "../src/trading/limits.js";
import type { OrderCard } from "../src/trading/order-cards.js";
import { ORDER_ID_RE, parseGtt, parseModify, parseOrder, type OrderIntent } from "../src/trading/parse-order.js";
import { modifiedOrderType, type PreTrade } from "../src/trading/trading-desk.js";
import type { UpstoxSession } from "../src/upstox/token-store.js";
import type { Order } from "../src/upstox/types.js";

/**
 * Trading from chat: /buy, /sell, /gtt, /modify, /cancel, /gtts, /limits, the card's Confirm
 * and Cancel, the Modify/Cancel buttons of /orders and /gtts, and the Buy/Sell/GTT buttons on
 * alerts (their Snooze and Delete are in alerts.ts). Every write goes through a confirmation
 * card: the TradingDesk opens and carries it out; this file parses, asks and formats.
 * Private chats only: a group gets the catch-all's pointer.
 */
export const tradingHandlers = new Composer<BotContext>();
const pm = tradingHandlers.chatType("private");

/** The sender's Upstox session when trading is offered for this purpose, or a reply saying why not. */
const tradingSession = (ctx: BotContext, purpose: "new" | "cancel" | "view" = "new"): Promise<UpstoxSession | undefined> =>
  accountSession(ctx, ctx.services.trading.gate(purpose));

const cardKeyboard = (card: OrderCard) => new InlineKeyboard().text("✅ Confirm", `oc:ok:${card.id}`).text("✖️ Cancel", `oc:no:${card.id}`);

/** Opens the card (audited) and sends it with its buttons; the message is remembered on the card. */
async function sendCard(ctx: BotContext, request: CardRequest, preTrade: PreTrade | undefined, note?: string): Promise<void> {
  const s = ctx.services;
  const card = s.trading.open(ctx.account!, request);
  const html = renderCard(card, preTrade, Math.round(s.config.trading.cardTtlMs / 1000)) + (note ? `\n<i>${escapeHtml(note)}</i>` : "");
  const sent = await ctx.reply(html, { parse_mode: "HTML", reply_markup: cardKeyboard(card), link_preview_options: { is_disabled: true } });
  s.trading.attachMessage(card, sent.chat.id, sent.message_id);
}

/** The limits a card must pass before it is even shown (they are checked again at Confirm). */
async function refusedByLimits(ctx: BotContext, value: number, newOrder: boolean): Promise<boolean> {
  const over = ctx.services.trading.limitRefusal(ctx.account!, value, { newOrder });
  if (over) await replyHtml(ctx, `❌ ${escapeHtml(over)}`);
  return over !== undefined;
}

/** The instrument for a typed symbol, or a reply saying what was meant; an index cannot be traded. */
async function tradable(ctx: BotContext, instrument: InstrumentInfo | string): Promise<InstrumentInfo | undefined> {
  let found = instrument;
  if (typeof found === "string") {
    const sym = resolveSymbol(ctx.services.instruments, found);
    if (!sym.ok) return void (await replyHtml(ctx, escapeHtml(symbolMissMessage(sym))));
    found = sym.instrument;
  }
  if (found.segment.endsWith("_INDEX") || found.instrumentType === "INDEX")
    return void (await replyHtml(ctx, `${escapeHtml(found.tradingSymbol)} is an index: it can't be bought or sold.`));
  return found;
}

/** A card for a new order: Upstox's numbers, and the value checked against the limits. */
async function orderCard(ctx: BotContext, target: InstrumentInfo | string, intent: Omit<OrderIntent, "symbol">, note?: string): Promise<void> {
  const s = ctx.services;
  const session = await tradingSession(ctx);
  if (!session) return;
  const instrument = await tradable(ctx, target);
  if (!instrument) return;
  const key = instrument.instrumentKey;
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
      `I have no price for ${escapeHtml(instrument.tradingSymbol)} right now, so I can't check the order against your limits: give a limit price with <code>at PRICE</code>.`,
    );
  const value = orderValue(unitPrice, intent.quantity);
  if (await refusedByLimits(ctx, value, true)) return;
  await sendCard(ctx, { ...intent, action: "place", instrumentKey: key, symbol: instrument.tradingSymbol, value }, preTrade, note);
}

for (const side of ["buy", "sell"] as const) {
  pm.command(side, async (ctx) => {
    const parsed = parseOrder(side === "buy" ? "BUY" : "SELL", ctx.match);
    if (!parsed.ok) return replyUsage(ctx, side, parsed.error);
    await orderCard(ctx, parsed.value.symbol, parsed.value);
  });
}

/** A card for a new GTT, its value at the trigger price. */
async function gttCard(
  ctx: BotContext,
  target: InstrumentInfo | string,
  g: Omit<GttPlaceRequest, "action" | "instrumentKey" | "symbol" | "value">,
  note?: string,
): Promise<void> {
  const s = ctx.services;
  const session = await tradingSession(ctx);
  if (!session) return;
  const instrument = await tradable(ctx, target);
  if (!instrument) return;
  const value = orderValue(g.trigger, g.quantity);
  if (await refusedByLimits(ctx, value, true)) return;
  const key = instrument.instrumentKey;
  const preTrade = await s.trading.preTrade(session, { instrumentKey: key, side: g.side, quantity: g.quantity, product: g.product, price: g.trigger });
  await sendCard(ctx, { ...g, action: "gtt_place", instrumentKey: key, symbol: instrument.tradingSymbol, value }, preTrade, note);
}

pm.command("gtt", async (ctx) => {
  const parsed = parseGtt(ctx.match);
  if (!parsed.ok) return replyUsage(ctx, "gtt", parsed.error);
  const { symbol, ...g } = parsed.value;
  await gttCard(ctx, symbol, g);
});

/** One of the trader's orders that can still change, or a reply saying why not. Another account's id is simply not found. */
async function openOrder(ctx: BotContext, session: UpstoxSession, orderId: string): Promise<Order | undefined> {
  const order = await ctx.services.upstox!.client.getOrderDetails(session, orderId);
  if (isTerminalStage(stageOf(order))) {
    await replyHtml(
      ctx,
      `Order <code>${escapeHtml(orderId)}</code> is already ${escapeHtml(normalizeStatus(order.status))}: it can't be changed or cancelled.`,
    );
    return undefined;
  }
  return order;
}

pm.command("modify", async (ctx) => {
  const parsed = parseModify(ctx.match);
  if (!parsed.ok) return replyUsage(ctx, "modify", parsed.error);
  const session = await tradingSession(ctx);
  if (!session) return;
  const change = parsed.value;
  const order = await openOrder(ctx, session, change.orderId);
  if (!order) return;
  const side = toTransactionType(order.transactionType) ?? "BUY";
  const orderType = modifiedOrderType(order.orderType, change);
  const quantity = change.quantity ?? order.quantity;
  const price = orderType === "MARKET" || orderType === "SL-M" ? 0 : (change.price ?? order.price);
  const triggerPrice = orderType === "SL" || orderType === "SL-M" ? (change.triggerPrice ?? order.triggerPrice) : 0;
  if ((orderType === "SL" || orderType === "SL-M") && !triggerPrice) return replyUsage(ctx, "modify", "A stop-loss needs a trigger: add trigger PRICE.");
  if ((orderType === "LIMIT" || orderType === "SL") && !price) return replyUsage(ctx, "modify", "A limit order needs a price: add price PRICE.");
  const preTrade = await ctx.services.trading.preTrade(session, {
    instrumentKey: order.instrumentKey,
    side,
    quantity,
    product: order.product === "I" ? "I" : "D",
    price: price || undefined,
  });
  const unitPrice = price || triggerPrice || preTrade.lastPrice;
  if (!unitPrice) return replyHtml(ctx, "I have no price for that instrument right now, so I can't check the change against your limits: give a price.");
  const value = orderValue(unitPrice, quantity);
  if (await refusedByLimits(ctx, value, false)) return;
  const symbol = displaySymbol(order.symbol);
  // Orders from chat are DAY orders (an IOC one is over before it could be changed).
  await sendCard(ctx, { action: "modify", orderId: order.orderId, symbol, side, orderType, quantity, price, triggerPrice, validity: "DAY", value }, preTrade);
});

/** A card cancelling one of the trader's open orders; the halt does not stop a cancellation. */
async function cancelCard(ctx: BotContext, orderId: string): Promise<void> {
  const session = await tradingSession(ctx, "cancel");
  if (!session) return;
  const order = await openOrder(ctx, session, orderId);
  if (!order) return;
  const side = toTransactionType(order.transactionType) ?? "BUY";
  await sendCard(ctx, { action: "cancel", orderId: order.orderId, symbol: displaySymbol(order.symbol), side, quantity: order.quantity }, undefined);
}

pm.command("cancel", async (ctx) => {
  const id = ctx.match.trim();
  if (!ORDER_ID_RE.test(id)) return replyUsage(ctx, "cancel", id ? `"${id.slice(0, 30)}" is not an order id: /orders shows them.` : "Say which order.");
  await cancelCard(ctx, id);
});

pm.command("gtts", async (ctx) => {
  const s = ctx.services;
  const session = await tradingSession(ctx, "view");
  if (!session) return;
  // Upstox also lists GTTs that failed or were cancelled: only those with a leg still waiting are active.
  const gtts = (await s.trading.listGtts(ctx.account!, session)).filter((g) => g.rules.some((r) => ruleOutcome(r.status) === "waiting"));
  const cancelGate = s.trading.gate("cancel");
  const note = cancelGate ? `\n<i>${escapeHtml(cancelGate)}</i>` : "";
  if (!gtts.length)
    return replyHtml(ctx, `You have no active GTTs.${cancelGate ? note : " Set one with <code>/gtt INFY buy 10 below 1400 target 1500 sl 1350</code>."}`);
  const kb = new InlineKeyboard();
  const lines = gtts.slice(0, 30).map((g) => {
    const entry = g.rules.find((r) => r.strategy === "ENTRY");
    const legs = g.rules
      .filter((r) => r.strategy !== "ENTRY")
      .map((r) => `${r.strategy === "TARGET" ? "target" : "sl"} ${rupees(r.triggerPrice)}`)
      .join(", ");
    const sym = displaySymbol(g.symbol);
    if (!cancelGate) kb.text(`🚫 Cancel ${sym} ${entry?.transactionType ?? ""} ${g.quantity}`, `gx:${g.gttOrderId}`).row();
    const trigger = entry ? ` ${escapeHtml(entry.triggerType.toLowerCase())} ${rupees(entry.triggerPrice)}` : "";
    const until = g.expiresAt ? ` · until ${formatIstMinute(g.expiresAt)} IST` : "";
    return `<b>${escapeHtml(sym)}</b> ${escapeHtml(entry?.transactionType ?? "")} ${g.quantity}${trigger}${legs ? ` · ${legs}` : ""} · ${escapeHtml((entry?.status ?? "").toLowerCase())}${until}\n<code>${escapeHtml(g.gttOrderId)}</code>`;
  });
  await replyHtml(ctx, `<b>Your GTTs</b>\n${lines.join("\n")}${note}`, cancelGate ? undefined : kb);
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
  if (words.length)
    s.audit.record(user.telegramId, "trade.limits", String(user.id), {
      maxOrderValue: prefs.maxOrderValue ?? null,
      maxOrdersPerDay: prefs.maxOrdersPerDay ?? null,
    });
  const { limits, own } = s.trading.limitsOf(updated);
  const op = s.config.trading;
  const whose = (mine: number | undefined, theirs: number) => (mine !== undefined && mine < theirs ? " (your own)" : " (the operator's)");
  await replyHtml(
    ctx,
    [
      "<b>Your trading limits</b>",
      `Per order: ${rupees(limits.maxOrderValue)}${whose(own.maxOrderValue, op.maxOrderValue)}`,
      `Orders a day: ${limits.maxOrdersPerDay}${whose(own.maxOrdersPerDay, op.maxOrdersPerDay)} · ${s.trading.ordersToday(updated)} sent today`,
      `<i>You can lower them (never above the operator's ${rupees(op.maxOrderValue)} and ${op.maxOrdersPerDay}): /limits value 20000 orders 5, or /limits value off.</i>`,
    ].join("\n"),
  );
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

/**
 * Work after the tap was answered: an error can no longer go into the answer (the error
 * boundary's would be refused), so it is told in the chat instead, in the same words.
 */
async function afterAnswer(ctx: BotContext, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    const known = chatMessage(err);
    if (known === undefined) {
      ctx.services.metrics.errors.inc({ where: "bot" });
      ctx.services.log.error({ err, userId: ctx.account?.id }, "trading button failed");
    }
    await ctx.reply(known ?? "Sorry, something went wrong on our side. Please try again in a minute.").catch(() => undefined);
  }
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
  const cardId = ctx.match[2]!;
  const s = ctx.services;
  if (ctx.match[1] === "no") {
    const card = s.trading.ownCard(cardId, user);
    if (!card) return ctx.answerCallbackQuery({ text: s.trading.cardExists(cardId) ? CLAIM_ANSWERS.not_yours : CLAIM_ANSWERS.missing });
    if (!s.trading.dismiss(cardId, user)) return ctx.answerCallbackQuery({ text: CLAIM_ANSWERS.decided });
    await ctx.answerCallbackQuery({ text: "Dropped: nothing was sent." });
    return afterAnswer(ctx, () => ctx.editMessageText(renderDismissed(card), { parse_mode: "HTML" }));
  }
  const taken = s.trading.take(cardId, user);
  if (!taken.ok) {
    await ctx.answerCallbackQuery({ text: CLAIM_ANSWERS[taken.why] });
    const card = taken.card;
    if (taken.why === "expired" && card) await afterAnswer(ctx, () => ctx.editMessageText(renderExpired(card), { parse_mode: "HTML" }));
    return;
  }
  // Answered before sending (Telegram shows a spinner until then); the outcome replaces the card.
  await ctx.answerCallbackQuery({ text: "Sending…" }).catch(() => undefined);
  const { card, outcome } = await s.trading.carryOut(taken.card, user);
  await afterAnswer(ctx, () => ctx.editMessageText(renderOutcome(card, outcome), { parse_mode: "HTML" }));
});

tradingHandlers.callbackQuery(/^(om|ox):(\d{6,30})$/, async (ctx) => {
  const user = await presser(ctx);
  if (!user) return;
  const [, action, orderId] = ctx.match;
  await ctx.answerCallbackQuery();
  if (action === "ox") return afterAnswer(ctx, () => cancelCard(ctx, orderId!));
  // A change needs the new value: the trader types it, and gets a card to confirm.
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
  await afterAnswer(ctx, async () => {
    const session = await tradingSession(ctx, "cancel");
    if (!session) return;
    const [gtt] = await ctx.services.upstox!.client.getGtts(session, gttOrderId);
    if (!gtt || !gtt.rules.some((r) => ruleOutcome(r.status) === "waiting"))
      return replyHtml(ctx, "That GTT is no longer active: /gtts lists the ones that are.");
    const entry = gtt.rules.find((r) => r.strategy === "ENTRY");
    const side = toTransactionType(entry?.transactionType ?? "") ?? "BUY";
    await sendCard(ctx, { action: "gtt_cancel", gttOrderId, symbol: displaySymbol(gtt.symbol), side, quantity: gtt.quantity }, undefined);
  });
});

/** An alert's Buy, Sell and Set GTT: a card for the alert's instrument at the alert's price. */
tradingHandlers.callbackQuery(/^al:(buy|sell|gtt):(\d{1,12})$/, async (ctx) => {
  const user = await presser(ctx);
  if (!user) return;
  const [, action, idText] = ctx.match;
  const s = ctx.services;
  const signal = s.outbox.signalOf(Number(idText), user.id);
  if (!signal) return ctx.answerCallbackQuery({ text: "That alert is too old or not yours: set a new one with /alert." });
  await ctx.answerCallbackQuery();
  await afterAnswer(ctx, async () => {
    const instrument = s.instruments.get(signal.instrumentKey);
    if (!instrument || signal.price === null) return replyHtml(ctx, "That alert has no instrument or price to start from: use /buy or /gtt instead.");
    const price = Math.round(signal.price * 100) / 100;
    const sym = instrument.tradingSymbol;
    const other = action === "gtt" ? `/gtt ${sym} buy 10 below ${price}` : `/${action} ${sym} 10 at ${price}`;
    const note = `Quantity 1 at the alert's price. For another, send ${other}.`;
    if (action === "gtt") {
      const last = (await s.pollState.latestQuotes([signal.instrumentKey])).get(signal.instrumentKey)?.lastPrice ?? price;
      const g = {
        side: "BUY" as const,
        quantity: 1,
        direction: price >= last ? ("ABOVE" as const) : ("BELOW" as const),
        trigger: price,
        target: undefined,
        stopLoss: undefined,
      };
      return gttCard(ctx, instrument, { ...g, product: "D" }, note);
    }
    const side = action === "buy" ? "BUY" : "SELL";
    await orderCard(ctx, instrument, { side, quantity: 1, orderType: "LIMIT", price, triggerPrice: undefined, product: "D" }, note);
  });
});
