import { describe, expect, it } from "vitest";
import { escapeHtml } from "../../src/format/html.js";
import { formatPrice } from "../../src/format/money.js";
import { formatIstTime } from "../../src/format/time.js";
import { renderNotification } from "../../src/notify/render.js";

const FIRED_AT = Date.UTC(2025, 0, 6, 4, 0, 7); // 2025-01-06 09:30:07 IST

const payload = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  symbol: "RELIANCE",
  instrumentKey: "NSE_EQ|INE002A01018",
  ruleId: 7,
  ruleKind: "price_above",
  price: 123456.5,
  level: 123000,
  dayChangePct: 1.25,
  firedAt: FIRED_AT,
  ...over,
});

describe("renderNotification('price_alert')", () => {
  it("renders every variant of a fixed payload", () => {
    const m = renderNotification("price_alert", payload());
    expect(m.telegramHtml).toBe(
      "🔔 <b>RELIANCE</b> is at or above ₹1,23,000.00\nLast price: <b>₹1,23,456.50</b> (+1.25% today)\n<i>2025-01-06 09:30:07 IST</i>",
    );
    expect(m.email.subject).toBe("RELIANCE is at or above ₹1,23,000.00 (₹1,23,456.50)");
    expect(m.email.text).toBe(
      "RELIANCE is at or above ₹1,23,000.00\n" +
        "Last price: Rs 1,23,456.50 (+1.25% today)\n" +
        "Time: 2025-01-06 09:30:07 IST\n\n" +
        "You get this because of an alert you set. Manage alerts with /alerts in the bot.\n",
    );
    expect(m.email.html).toContain("<p>🔔 <b>RELIANCE</b> is at or above ₹1,23,000.00</p>");
    expect(m.email.html).toContain("Last price: <b>₹1,23,456.50</b> (+1.25% today)<br><small>2025-01-06 09:30:07 IST</small>");
    expect(m.email.html).toMatch(/^<div[^>]*>.*<\/div>$/s);
  });

  it("is pure: the same payload renders the same message", () => {
    expect(renderNotification("price_alert", payload())).toEqual(renderNotification("price_alert", payload()));
  });

  it.each([
    ["price_below", "is at or below ₹1,23,000.00"],
    ["cross_up", "crossed above ₹1,23,000.00"],
    ["cross_down", "crossed below ₹1,23,000.00"],
  ])("words the headline for %s", (ruleKind, headline) => {
    expect(renderNotification("price_alert", payload({ ruleKind })).email.subject).toBe(`RELIANCE ${headline} (₹1,23,456.50)`);
  });

  it("words a percent-move alert with a signed change, using a real minus sign for falls", () => {
    const up = renderNotification("price_alert", payload({ ruleKind: "change_pct", level: undefined, changePct: 2.5 }));
    expect(up.email.subject).toBe("RELIANCE moved +2.50% from the previous close (₹1,23,456.50)");
    const down = renderNotification("price_alert", payload({ ruleKind: "change_pct", changePct: -3.456, dayChangePct: -3.456 }));
    expect(down.telegramHtml).toContain("moved −3.46% from the previous close");
    expect(down.telegramHtml).toContain("(−3.46% today)");
  });

  it("shows a change that rounds to zero without a sign", () => {
    const m = renderNotification("price_alert", payload({ dayChangePct: -0.001 }));
    expect(m.email.text).toContain("(0.00% today)");
    expect(renderNotification("price_alert", payload({ dayChangePct: 0 })).email.text).toContain("(0.00% today)");
  });

  it("falls back to a neutral headline for an unknown rule kind", () => {
    expect(renderNotification("price_alert", payload({ ruleKind: "rsi_above" })).email.subject).toBe("RELIANCE alert (₹1,23,456.50)");
  });

  it("escapes HTML in the Telegram and email HTML but not in the subject or plain text", () => {
    const nasty = '<b>&"x';
    const m = renderNotification("price_alert", payload({ symbol: nasty }));
    expect(m.telegramHtml).toContain("<b>&lt;b&gt;&amp;&quot;x</b>");
    expect(m.telegramHtml).not.toContain(nasty);
    expect(m.email.html).toContain("<b>&lt;b&gt;&amp;&quot;x</b>");
    expect(m.email.html).not.toContain(nasty);
    expect(m.email.subject.startsWith(`${nasty} is at or above`)).toBe(true);
    expect(m.email.text.startsWith(`${nasty} is at or above`)).toBe(true);
    // Template markup itself is left alone.
    expect(m.telegramHtml.match(/<b>/g)).toHaveLength(2);
  });

  it("does not expand placeholders that arrive inside a value", () => {
    const m = renderNotification("price_alert", payload({ symbol: "{{price}}" }));
    expect(m.email.subject.startsWith("{{price}} is at or above")).toBe(true);
  });

  it("throws for a kind with no template, including names inherited from Object", () => {
    expect(() => renderNotification("order_filled_v9", payload())).toThrow('no template for notification kind "order_filled_v9"');
    for (const kind of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      expect(() => renderNotification(kind, payload())).toThrow(`no template for notification kind "${kind}"`);
    }
  });
});

describe("formatPrice", () => {
  it("uses Indian digit grouping with two decimals", () => {
    expect(formatPrice(123456.5)).toBe("1,23,456.50");
    expect(formatPrice(12345678.9)).toBe("1,23,45,678.90");
    expect(formatPrice(999.999)).toBe("1,000.00");
    expect(formatPrice(818.35)).toBe("818.35");
    expect(formatPrice(0)).toBe("0.00");
  });
});

describe("formatIstTime", () => {
  it("prints IST wall-clock time with seconds", () => {
    expect(formatIstTime(FIRED_AT)).toBe("2025-01-06 09:30:07");
    // 20:00:59 UTC is 01:30:59 IST the next day.
    expect(formatIstTime(Date.UTC(2025, 0, 5, 20, 0, 59, 999))).toBe("2025-01-06 01:30:59");
  });
});

describe("escapeHtml", () => {
  it("escapes the characters Telegram's HTML mode and email HTML need escaped", () => {
    expect(escapeHtml(`a < b && c > "d"`)).toBe("a &lt; b &amp;&amp; c &gt; &quot;d&quot;");
    expect(escapeHtml("&lt;")).toBe("&amp;lt;");
  });
});

describe("renderNotification: token_expired", () => {
  it("tells the trader to /login in every channel, and needs no payload", () => {
    const m = renderNotification("token_expired", {});
    expect(m.telegramHtml).toContain("<b>Your Upstox login has expired</b>");
    expect(m.telegramHtml).toContain("/login");
    expect(m.email.subject).toBe("Your Upstox login has expired");
    expect(m.email.text).toContain("3:30 AM IST");
    expect(m.email.html).toContain("<b>/login</b>");
  });
});

describe("renderNotification: unsubscribe footer on the existing kinds", () => {
  const URL = "https://alerts.example.in/unsubscribe?u=7&t=abc";

  it("price_alert: a last text line and a link in the small print, only with a link", () => {
    const m = renderNotification("price_alert", payload(), { unsubscribeUrl: URL });
    expect(m.email.text).toBe(
      "RELIANCE is at or above ₹1,23,000.00\n" +
        "Last price: Rs 1,23,456.50 (+1.25% today)\n" +
        "Time: 2025-01-06 09:30:07 IST\n\n" +
        "You get this because of an alert you set. Manage alerts with /alerts in the bot.\n" +
        `Unsubscribe: ${URL}\n`,
    );
    expect(m.email.html).toContain(
      'Manage alerts with /alerts in the bot.<br><a href="https://alerts.example.in/unsubscribe?u=7&amp;t=abc" style="color:#666">Unsubscribe from these emails</a></p></div>',
    );
    expect(m.telegramHtml).toBe(renderNotification("price_alert", payload()).telegramHtml);
    const without = renderNotification("price_alert", payload());
    expect(without.email.html).toContain("Manage alerts with /alerts in the bot.</p></div>");
    expect(without.email.text).not.toContain("Unsubscribe");
  });

  it("broadcast and token_expired: the footer follows a blank line, and is gone without a link", () => {
    expect(renderNotification("broadcast", { text: "Hi" }, { unsubscribeUrl: URL }).email.text).toBe(`Hi\n\nUnsubscribe: ${URL}\n`);
    expect(renderNotification("broadcast", { text: "Hi" }).email.text).toBe("Hi\n");
    expect(renderNotification("broadcast", { text: "Hi" }, {}).email.html).toBe(
      '<div style="font-family:system-ui,sans-serif;font-size:15px"><p>📣 <b>Message from the admin</b></p><p style="white-space:pre-wrap">Hi</p></div>',
    );
    const t = renderNotification("token_expired", {}, { unsubscribeUrl: URL });
    expect(t.email.text.endsWith(`Send /login to the bot to link your account.\n\nUnsubscribe: ${URL}\n`)).toBe(true);
    expect(renderNotification("token_expired", {}).email.text.endsWith("Send /login to the bot to link your account.\n")).toBe(true);
  });

  it("indicator_alert: same footer as price_alert", () => {
    const p = { symbol: "TCS", ruleKind: "rsi_below", params: {}, values: { rsi: 28.5 }, price: 4100, firedAt: FIRED_AT };
    expect(renderNotification("indicator_alert", p, { unsubscribeUrl: URL }).email.text.endsWith(`/alerts in the bot.\nUnsubscribe: ${URL}\n`)).toBe(true);
    expect(renderNotification("indicator_alert", p).email.text.endsWith("/alerts in the bot.\n")).toBe(true);
  });

  it("section and placeholder syntax arriving inside a value stays literal", () => {
    const text = "{{#unsubscribeUrl}}x{{/unsubscribeUrl}} {{^text}}y{{/text}} {{text}}";
    const m = renderNotification("broadcast", { text }, { unsubscribeUrl: URL });
    expect(m.email.text).toBe(`${text}\n\nUnsubscribe: ${URL}\n`);
    expect(m.telegramHtml).toBe(`📣 <b>Message from the admin</b>\n${text}`);
  });
});
