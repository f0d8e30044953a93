import { escapeHtml } from "../format/html.js";
import { rupees } from "../format/money.js";
import { productWord, priceWords, type CardRequest } from "./card-request.js";
import type { OrderCard } from "./order-cards.js";
import type { ConfirmOutcome, PreTrade } from "./trading-desk.js";

/**
 * A confirmation card and what it turns into, as Telegram HTML. Pure: the numbers come from
 * the desk (Upstox's margin, charges and funds); this only words them.
 */

const TITLES: Record<CardRequest["action"], string> = {
  place: "Confirm order",
  modify: "Confirm change",
  cancel: "Cancel this order?",
  gtt_place: "Confirm GTT",
  gtt_cancel: "Cancel this GTT?",
};

/** The card's first lines: what will be sent, in full. */
export function describeRequest(r: CardRequest): string[] {
  const sym = `<b>${escapeHtml(r.symbol)}</b>`;
  switch (r.action) {
    case "place":
      return [
        `${r.side} ${r.quantity} ${sym} · ${escapeHtml(priceWords(r.orderType, r.price, r.triggerPrice))} · ${productWord(r.product)}`,
        `Value ≈ ${rupees(r.value)}`,
      ];
    case "modify":
      return [
        `Order <code>${escapeHtml(r.orderId)}</code>: ${r.side} ${r.quantity} ${sym}`,
        `becomes ${escapeHtml(priceWords(r.orderType, r.price, r.triggerPrice))}, quantity ${r.quantity}`,
        `Value ≈ ${rupees(r.value)}`,
      ];
    case "cancel":
      return [`Order <code>${escapeHtml(r.orderId)}</code>: ${r.side} ${r.quantity} ${sym}`];
    case "gtt_place": {
      const lines = [
        `${r.side} ${r.quantity} ${sym} when the price goes ${r.direction === "ABOVE" ? "above" : "below"} ${rupees(r.trigger)} · ${productWord(r.product)}`,
      ];
      if (r.target !== undefined) lines.push(`Target: ${r.side === "BUY" ? "sell" : "buy"} at ${rupees(r.target)}`);
      if (r.stopLoss !== undefined) lines.push(`Stop-loss: ${r.side === "BUY" ? "sell" : "buy"} at ${rupees(r.stopLoss)}`);
      lines.push(`Value ≈ ${rupees(r.value)} · Upstox places a limit order when it triggers; valid ${r.product === "I" ? "for today" : "for a year"}`);
      return lines;
    }
    case "gtt_cancel":
      return [`GTT <code>${escapeHtml(r.gttOrderId)}</code>: ${r.side} ${r.quantity} ${sym}`];
  }
}

function preTradeLines(p: PreTrade): string[] {
  const lines: string[] = [];
  if (p.lastPrice !== undefined) lines.push(`Last price: ${rupees(p.lastPrice)}`);
  lines.push("required" in p.margin ? `Margin needed: ${rupees(p.margin.required)}` : `Margin needed: unavailable (${escapeHtml(p.margin.error)})`);
  lines.push(
    "total" in p.charges
      ? `Charges: ${rupees(p.charges.total)} (brokerage ${rupees(p.charges.brokerage)}, taxes and fees ${rupees(p.charges.taxes)})`
      : `Charges: unavailable (${escapeHtml(p.charges.error)})`,
  );
  lines.push("amount" in p.available ? `Funds available: ${rupees(p.available.amount)}` : `Funds available: unavailable (${escapeHtml(p.available.error)})`);
  if ("required" in p.margin && "amount" in p.available && p.available.amount < p.margin.required)
    lines.push("⚠️ Your available funds are less than the margin needed: Upstox will likely reject it.");
  return lines;
}

export function renderCard(card: OrderCard, preTrade: PreTrade | undefined, ttlSeconds: number): string {
  const r = card.request;
  const lines = [`🧾 <b>${TITLES[r.action]}</b>`, ...describeRequest(r)];
  if (preTrade) lines.push("", ...preTradeLines(preTrade));
  lines.push("", `<i>Confirm within ${ttlSeconds} s. Nothing is sent until you do.</i>`);
  return lines.join("\n");
}

/** The card after the decision, shown in its place (the buttons go). */
export function renderOutcome(card: Pick<OrderCard, "request">, outcome: ConfirmOutcome): string {
  const what = describeRequest(card.request)[0]!;
  switch (outcome.kind) {
    case "placed":
      return [
        `✅ <b>Order placed</b>: ${what}`,
        `Order ${outcome.orderIds.map((id) => `<code>${escapeHtml(id)}</code>`).join(", ")}${outcome.reconciled ? " (Upstox's answer was lost; found by this card's tag, sent once)" : ""}`,
        "You'll be told here as it fills.",
      ].join("\n");
    case "modified":
      return `✅ <b>Change sent</b>: ${what}\n${describeRequest(card.request)[1] ?? ""}`;
    case "cancelled":
      return `🚫 <b>Cancellation sent</b>: ${what}\nYou'll be told here when Upstox confirms it.`;
    case "gtt_placed":
      return `✅ <b>GTT placed</b>: ${what}\n${outcome.gttOrderIds.map((id) => `<code>${escapeHtml(id)}</code>`).join(", ")} · /gtts lists it; you'll be told when it triggers.`;
    case "gtt_cancelled":
      return `🚫 <b>GTT cancelled</b>: ${what}`;
    case "refused":
      return `❌ <b>Not sent</b>: ${what}\n${escapeHtml(outcome.reason)}`;
    case "unknown":
      return `⚠️ <b>Not confirmed</b>: ${what}\n${escapeHtml(outcome.reason)}`;
  }
}

export function renderExpired(card: Pick<OrderCard, "request">): string {
  return `⌛ <b>Expired</b>: ${describeRequest(card.request)[0]}\nNothing was sent. Ask again for a fresh card.`;
}

export function renderDismissed(card: Pick<OrderCard, "request">): string {
  return `✖️ <b>Dropped</b>: ${describeRequest(card.request)[0]}\nNothing was sent.`;
}
