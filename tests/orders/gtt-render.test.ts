import { describe, expect, it } from "vitest";
import { renderNotification, type RenderedMessage } from "../../src/notify/render.js";
import type { GttNotificationPayload } from "../../src/orders/gtt-track.js";
import type { GttRuleSnapshot } from "../../src/orders/gtt-update.js";

const AT = Date.UTC(2025, 0, 6, 4, 0, 7); // 2025-01-06 09:30:07 IST
const EXPIRES = Date.UTC(2025, 0, 6, 18, 29, 59); // 2025-01-06 23:59:59 IST
const UNSUB = "https://alerts.example.in/unsubscribe?u=7&t=abc";
const KINDS = ["gtt_triggered", "gtt_failed", "gtt_cancelled", "gtt_expired"] as const;

const leg = (strategy: string, status: string, over: Partial<GttRuleSnapshot> = {}): GttRuleSnapshot => ({
  strategy,
  status,
  triggerType: strategy === "ENTRY" ? "ABOVE" : "IMMEDIATE",
  triggerPrice: strategy === "ENTRY" ? 1500 : strategy === "TARGET" ? 1600 : 1450,
  transactionType: strategy === "ENTRY" ? "BUY" : "SELL",
  message: null,
  orderId: null,
  trailingGap: null,
  ...over,
});
const payload = (rules: GttRuleSnapshot[], strategy: string | null, over: Partial<GttNotificationPayload> = {}): Record<string, unknown> => ({
  gttOrderId: "GTT-C25090600141213",
  symbol: "RELIANCE",
  instrumentKey: "NSE_EQ|INE002A01018",
  type: rules.length > 1 ? "MULTIPLE" : "SINGLE",
  quantity: 10,
  product: "D",
  transactionType: "BUY",
  strategy,
  rules,
  expiresAt: EXPIRES,
  at: AT,
  ...over,
});
const shown = (m: RenderedMessage) => ({ telegram: m.telegramHtml, subject: m.email.subject, text: m.email.text.split("\n\n")[0] });

describe("GTT messages", () => {
  it("gtt_triggered: the leg, its side, quantity and trigger, the child order, and where the other legs stand", () => {
    const m = renderNotification(
      "gtt_triggered",
      payload([leg("ENTRY", "COMPLETED", { orderId: "250106000123456" }), leg("TARGET", "PENDING"), leg("STOPLOSS", "PENDING", { trailingGap: 5 })], "ENTRY"),
    );
    expect(shown(m)).toEqual({
      telegram:
        "🎯 <b>GTT triggered</b> (entry leg): BUY 10 <b>RELIANCE</b>, trigger above ₹1,500.00 (delivery)\n" +
        "Order 250106000123456 went to the exchange; its fill is told separately.\n" +
        "Other legs: target at ₹1,600.00 still waiting; stop-loss at ₹1,450.00 (trailing ₹5.00) still waiting.\n" +
        "<i>GTT GTT-C25090600141213 · 2025-01-06 09:30:07 IST</i>",
      subject: "GTT triggered (entry leg): BUY 10 RELIANCE, trigger above ₹1,500.00",
      text:
        "GTT triggered (entry leg): BUY 10 RELIANCE, trigger above ₹1,500.00 (delivery)\n" +
        "Order 250106000123456 went to the exchange; its fill is told separately.\n" +
        "Other legs: target at ₹1,600.00 still waiting; stop-loss at ₹1,450.00 (trailing ₹5.00) still waiting.",
    });
  });

  it("gtt_triggered: an exit leg sells; a single-leg GTT needs no leg name; no order id yet is said so", () => {
    const exit = renderNotification("gtt_triggered", payload([leg("ENTRY", "COMPLETED"), leg("TARGET", "TRIGGERED"), leg("STOPLOSS", "CANCELLED")], "TARGET"));
    expect(exit.email.subject).toBe("GTT triggered (target leg): SELL 10 RELIANCE, trigger at ₹1,600.00");
    expect(exit.email.text).toContain("Other legs: entry above ₹1,500.00 triggered; stop-loss at ₹1,450.00 cancelled.");
    const single = renderNotification("gtt_triggered", payload([leg("ENTRY", "TRIGGERED", { triggerType: "BELOW", triggerPrice: 1400 })], "ENTRY"));
    expect(shown(single).text).toBe(
      "GTT triggered: BUY 10 RELIANCE, trigger below ₹1,400.00 (delivery)\nIts order is on the way to the exchange; the fill is told separately.",
    );
  });

  it("gtt_failed: Upstox's message, or a fallback", () => {
    const rules = [
      leg("ENTRY", "FAILED", { message: "The price set should be within the circuit limits.", triggerType: "IMMEDIATE" }),
      leg("STOPLOSS", "CANCELLED"),
    ];
    expect(shown(renderNotification("gtt_failed", payload(rules, "ENTRY", { product: "I" }))).text).toBe(
      "GTT failed (entry leg): BUY 10 RELIANCE, trigger at ₹1,500.00 — Upstox: The price set should be within the circuit limits.\nOther leg: stop-loss at ₹1,450.00 cancelled.",
    );
    expect(renderNotification("gtt_failed", payload([leg("ENTRY", "FAILED")], "ENTRY")).email.text).toMatch(/— no reason given by Upstox\n/);
  });

  it("gtt_cancelled and gtt_expired: the GTT and its legs", () => {
    const rules = [leg("ENTRY", "CANCELLED"), leg("TARGET", "CANCELLED"), leg("STOPLOSS", "CANCELLED")];
    expect(shown(renderNotification("gtt_cancelled", payload(rules, null))).text).toBe(
      "GTT cancelled: BUY 10 RELIANCE (delivery)\nEntry above ₹1,500.00, target at ₹1,600.00 and stop-loss at ₹1,450.00",
    );
    expect(shown(renderNotification("gtt_expired", payload([leg("ENTRY", "EXPIRED")], null, { product: "I" }))).text).toBe(
      "GTT expired: BUY 10 RELIANCE (intraday)\nEntry above ₹1,500.00 did not trigger by 2025-01-06 23:59 IST.",
    );
    // Told by the clock: the legs still waiting are the ones that did not trigger; no expiry known, none shown.
    expect(shown(renderNotification("gtt_expired", payload([leg("ENTRY", "SCHEDULED")], null, { expiresAt: null }))).text).toBe(
      "GTT expired: BUY 10 RELIANCE (delivery)\nEntry above ₹1,500.00 did not trigger.",
    );
  });

  it.each(KINDS)("%s: escapes what came from Upstox, fills every placeholder, and carries the unsubscribe link only by email", (kind) => {
    const rules = [leg("ENTRY", kind === "gtt_failed" ? "FAILED" : "COMPLETED", { message: "Margin < required & <b>RMS</b>" }), leg("TARGET", "CANCELLED")];
    const m = renderNotification(kind, payload(rules, kind === "gtt_triggered" || kind === "gtt_failed" ? "ENTRY" : null, { symbol: "<script>" }), {
      unsubscribeUrl: UNSUB,
    });
    for (const s of [m.telegramHtml, m.email.html]) {
      expect(s).not.toContain("<script>");
      expect(s).toContain("&lt;script&gt;");
    }
    for (const s of [m.telegramHtml, m.email.subject, m.email.text, m.email.html]) expect(s).not.toMatch(/\{\{|\}\}|NaN|undefined|null/);
    expect(m.email.text).toContain(`Unsubscribe: ${UNSUB}`);
    expect(m.telegramHtml).not.toMatch(/unsubscribe/i);
    expect(renderNotification(kind, payload(rules, null))).toEqual(renderNotification(kind, payload(rules, null)));
  });
});
