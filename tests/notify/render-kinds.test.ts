import { describe, expect, it } from "vitest";
import { formatRupees } from "../../src/format/money.js";
import { renderNotification, type RenderedMessage } from "../../src/notify/render.js";
import { TEMPLATES, type TemplateKind } from "../../templates/index.js";

const AT = Date.UTC(2025, 0, 6, 4, 0, 7); // 2025-01-06 09:30:07 IST
const EXPIRED = Date.UTC(2025, 0, 5, 22, 0, 0); // 2025-01-06 03:30 IST
const UNSUB = "https://alerts.example.in/unsubscribe?u=7&t=abcDEF_123";
const HOSTILE = "<script>";
const NASTY_REASON = "Margin < required & <b>RMS</b> says no";

/** The three variants a person reads first, for compact snapshots. */
const shown = (m: RenderedMessage) => ({ telegram: m.telegramHtml, subject: m.email.subject, text: m.email.text });

const order = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  orderId: "250106000123456",
  symbol: "RELIANCE",
  transactionType: "BUY",
  quantity: 10,
  filledQuantity: 0,
  orderType: "LIMIT",
  product: "D",
  price: 1450,
  averagePrice: null,
  status: "open",
  statusMessage: null,
  at: AT,
  ...over,
});

const holding = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  symbol: "RELIANCE",
  quantity: 10,
  averagePrice: 1300,
  lastPrice: 1372,
  closePrice: 1417.2,
  pnl: 720,
  dayChange: -452,
  ...over,
});

const digest = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  when: "close",
  date: "2025-01-06",
  holdings: [holding(), holding({ symbol: "TCS", quantity: 5, averagePrice: 4000, lastPrice: 4100, closePrice: 4050, pnl: 500, dayChange: 250 })],
  positions: [{ symbol: "NIFTY25JAN24000CE", product: "I", quantity: -75, pnl: -1234.5 }],
  dayPnl: -1436.5,
  totalValue: 34220,
  totalPnl: 1220,
  ...over,
});

/** `n` holdings, each ~rupees-in-lakhs so lines are as long as real ones get. */
const manyHoldings = (n: number, symbol = (i: number) => `STOCK${i}`) =>
  Array.from({ length: n }, (_, i) =>
    holding({ symbol: symbol(i), quantity: 1000 + i, averagePrice: 12345.5, lastPrice: 12000 + i, closePrice: 12500, pnl: -345678.9, dayChange: -123456.78 }),
  );

/** A two-leg GTT (BUY 10 RELIANCE above ₹1,450, target ₹1,550, stop-loss ₹1,400) with its legs at these statuses. */
const gtt = (
  statuses: [string, string, string],
  strategy: string | null,
  over: Record<string, unknown> = {},
  message: string | null = null,
): Record<string, unknown> => ({
  gttOrderId: "GTT-C25090600141213",
  symbol: "RELIANCE",
  instrumentKey: "NSE_EQ|INE002A01018",
  type: "MULTIPLE",
  quantity: 10,
  product: "D",
  transactionType: "BUY",
  strategy,
  rules: [
    {
      strategy: "ENTRY",
      status: statuses[0],
      triggerType: "ABOVE",
      triggerPrice: 1450,
      transactionType: "BUY",
      message,
      orderId: "250106000123456",
      trailingGap: null,
    },
    {
      strategy: "TARGET",
      status: statuses[1],
      triggerType: "IMMEDIATE",
      triggerPrice: 1550,
      transactionType: "SELL",
      message: null,
      orderId: null,
      trailingGap: null,
    },
    {
      strategy: "STOPLOSS",
      status: statuses[2],
      triggerType: "IMMEDIATE",
      triggerPrice: 1400,
      transactionType: "SELL",
      message: null,
      orderId: null,
      trailingGap: null,
    },
  ],
  expiresAt: EXPIRED,
  at: AT,
  ...over,
});

const holdingMove = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  symbol: "RELIANCE",
  quantity: 10,
  lastPrice: 1372,
  closePrice: 1417.2,
  changePct: -3.19,
  thresholdPct: 3,
  dayChange: -452,
  ...over,
});

/** One ordinary payload per kind: adding a kind without a sample here is a type error. */
const SAMPLES = {
  price_alert: { symbol: "RELIANCE", ruleKind: "price_above", price: 1455.5, level: 1450, dayChangePct: 1.2, firedAt: AT },
  indicator_alert: { symbol: "RELIANCE", ruleKind: "rsi_above", params: { period: 14, level: 70 }, values: { rsi: 71.3 }, price: 1455.5, firedAt: AT },
  token_expired: {},
  broadcast: { text: "Maintenance tonight at 11 PM." },
  order_placed: order({ status: "open" }),
  order_partially_filled: order({ filledQuantity: 4, averagePrice: 1449.8, status: "open" }),
  order_filled: order({ filledQuantity: 10, averagePrice: 1449.9, status: "complete" }),
  order_rejected: order({ status: "rejected", statusMessage: "You need to add Rs. 138385.27 in your account to place this trade." }),
  order_cancelled: order({ filledQuantity: 4, averagePrice: 1449.8, status: "cancelled" }),
  gtt_triggered: gtt(["COMPLETED", "PENDING", "PENDING"], "ENTRY"),
  gtt_failed: gtt(["FAILED", "CANCELLED", "CANCELLED"], "ENTRY"),
  gtt_cancelled: gtt(["CANCELLED", "CANCELLED", "CANCELLED"], null),
  gtt_expired: gtt(["EXPIRED", "EXPIRED", "EXPIRED"], null),
  portfolio_digest: digest(),
  holding_move: holdingMove(),
  token_expiring: { loginUrl: "https://api.upstox.com/v2/login/authorization/dialog?client_id=abc&state=xyz", expiresAt: EXPIRED },
  rule_paused: { ruleId: 12, symbol: "RELIANCE", description: "Upstox no longer lists this instrument." },
} satisfies Record<TemplateKind, Record<string, unknown>>;

/** The same kinds with every free-text field hostile. */
const HOSTILE_SAMPLES: Record<TemplateKind, Record<string, unknown>> = {
  ...SAMPLES,
  price_alert: { ...SAMPLES.price_alert, symbol: HOSTILE },
  indicator_alert: { ...SAMPLES.indicator_alert, symbol: HOSTILE },
  broadcast: { text: `${HOSTILE} & ${NASTY_REASON}` },
  order_placed: order({ symbol: HOSTILE, statusMessage: NASTY_REASON, product: "<i>" }),
  order_partially_filled: order({ symbol: HOSTILE, filledQuantity: 4, averagePrice: 1449.8 }),
  order_filled: order({ symbol: HOSTILE, filledQuantity: 10, averagePrice: 1449.9 }),
  order_rejected: order({ symbol: HOSTILE, statusMessage: NASTY_REASON }),
  order_cancelled: order({ symbol: HOSTILE, filledQuantity: 4, statusMessage: NASTY_REASON }),
  gtt_triggered: gtt(["TRIGGERED", "PENDING", "PENDING"], "ENTRY", { symbol: HOSTILE, product: "<i>" }),
  gtt_failed: gtt(["FAILED", "CANCELLED", "CANCELLED"], "ENTRY", { symbol: HOSTILE }, NASTY_REASON),
  gtt_cancelled: gtt(["CANCELLED", "CANCELLED", "CANCELLED"], null, { symbol: HOSTILE }),
  gtt_expired: gtt(["COMPLETED", "EXPIRED", "EXPIRED"], null, { symbol: HOSTILE }),
  portfolio_digest: digest({
    holdings: [holding({ symbol: HOSTILE }), holding({ symbol: "M&M" })],
    positions: [{ symbol: HOSTILE, product: "<u>", quantity: 5, pnl: 1 }],
  }),
  holding_move: holdingMove({ symbol: HOSTILE }),
  token_expired: { reason: NASTY_REASON, expired: false },
  token_expiring: { loginUrl: 'https://x.example/?a=1&b="><script>', expiresAt: EXPIRED },
  rule_paused: { ruleId: 12, symbol: HOSTILE, description: NASTY_REASON },
};

const KINDS = Object.keys(TEMPLATES) as TemplateKind[];

describe("order kinds", () => {
  it("order_placed: side, quantity, limit price, order type and product in words", () => {
    expect(shown(renderNotification("order_placed", SAMPLES.order_placed))).toMatchInlineSnapshot(`
      {
        "subject": "Order placed: BUY 10 RELIANCE @ ₹1,450.00",
        "telegram": "🧾 <b>Order placed</b>: BUY 10 <b>RELIANCE</b> @ ₹1,450.00 (LIMIT, delivery)
      <i>Order 250106000123456 · 2025-01-06 09:30:07 IST</i>",
        "text": "Order placed: BUY 10 RELIANCE @ ₹1,450.00 (LIMIT, delivery)

      Order 250106000123456 · 2025-01-06 09:30:07 IST
      You get this because order alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
  });

  it("order_placed: a MARKET order says 'at market'", () => {
    const m = renderNotification("order_placed", order({ orderType: "MARKET", price: 0, product: "I", transactionType: "SELL" }));
    expect(m.telegramHtml.split("\n")[0]).toBe("🧾 <b>Order placed</b>: SELL 10 <b>RELIANCE</b> at market (MARKET, intraday)");
    expect(m.email.subject).toBe("Order placed: SELL 10 RELIANCE at market");
  });

  it.each([
    ["I", "intraday"],
    ["D", "delivery"],
    ["MTF", "MTF"],
    ["CO", "CO"],
  ])("names product %s as %s", (code, words) => {
    expect(renderNotification("order_placed", order({ product: code })).email.text.split("\n")[0]).toBe(
      `Order placed: BUY 10 RELIANCE @ ₹1,450.00 (LIMIT, ${words})`,
    );
  });

  it("order_partially_filled: how many of how many, bought or sold, at what average", () => {
    expect(shown(renderNotification("order_partially_filled", SAMPLES.order_partially_filled))).toMatchInlineSnapshot(`
      {
        "subject": "Partly filled: 4 of 10 RELIANCE bought at ₹1,449.80 avg",
        "telegram": "◐ <b>Partly filled</b>: 4 of 10 <b>RELIANCE</b> bought at ₹1,449.80 avg
      6 still open (LIMIT, delivery)
      <i>Order 250106000123456 · 2025-01-06 09:30:07 IST</i>",
        "text": "Partly filled: 4 of 10 RELIANCE bought at ₹1,449.80 avg
      6 still open (LIMIT, delivery)

      Order 250106000123456 · 2025-01-06 09:30:07 IST
      You get this because order alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
    const sell = renderNotification("order_partially_filled", order({ transactionType: "SELL", filledQuantity: 4, averagePrice: 1449.8 }));
    expect(sell.email.subject).toBe("Partly filled: 4 of 10 RELIANCE sold at ₹1,449.80 avg");
  });

  it("order_filled: average price and traded value", () => {
    expect(shown(renderNotification("order_filled", SAMPLES.order_filled))).toMatchInlineSnapshot(`
      {
        "subject": "Filled: BUY 10 RELIANCE at ₹1,449.90 avg",
        "telegram": "✅ <b>Filled</b>: BUY 10 <b>RELIANCE</b> at ₹1,449.90 avg (₹14,499.00)
      LIMIT, delivery
      <i>Order 250106000123456 · 2025-01-06 09:30:07 IST</i>",
        "text": "Filled: BUY 10 RELIANCE at ₹1,449.90 avg (₹14,499.00)
      LIMIT, delivery

      Order 250106000123456 · 2025-01-06 09:30:07 IST
      You get this because order alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
  });

  it("order_filled without an average price leaves the average out instead of printing nonsense", () => {
    const m = renderNotification("order_filled", order({ filledQuantity: 10, averagePrice: null }));
    expect(m.email.subject).toBe("Filled: BUY 10 RELIANCE");
    expect(m.telegramHtml).not.toMatch(/avg|NaN|null/);
  });

  it("order_rejected: quotes Upstox's reason", () => {
    expect(shown(renderNotification("order_rejected", SAMPLES.order_rejected))).toMatchInlineSnapshot(`
      {
        "subject": "Order rejected: BUY 10 RELIANCE",
        "telegram": "❌ <b>Order rejected</b>: BUY 10 <b>RELIANCE</b> — You need to add Rs. 138385.27 in your account to place this trade.
      <i>Order 250106000123456 · 2025-01-06 09:30:07 IST</i>",
        "text": "Order rejected: BUY 10 RELIANCE — You need to add Rs. 138385.27 in your account to place this trade.

      Order 250106000123456 · 2025-01-06 09:30:07 IST
      You get this because order alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
  });

  it.each([null, "", "   "])("order_rejected with no message (%j) says Upstox gave no reason", (statusMessage) => {
    const m = renderNotification("order_rejected", order({ statusMessage }));
    expect(m.telegramHtml.split("\n")[0]).toBe("❌ <b>Order rejected</b>: BUY 10 <b>RELIANCE</b> — no reason given by Upstox");
    expect(m.email.text.split("\n")[0]).toBe("Order rejected: BUY 10 RELIANCE — no reason given by Upstox");
  });

  it("order_cancelled: says how much filled before cancelling", () => {
    expect(shown(renderNotification("order_cancelled", SAMPLES.order_cancelled))).toMatchInlineSnapshot(`
      {
        "subject": "Order cancelled: BUY 10 RELIANCE (4 filled before cancelling)",
        "telegram": "🚫 <b>Order cancelled</b>: BUY 10 <b>RELIANCE</b> (4 filled before cancelling)
      <i>Order 250106000123456 · 2025-01-06 09:30:07 IST</i>",
        "text": "Order cancelled: BUY 10 RELIANCE (4 filled before cancelling)

      Order 250106000123456 · 2025-01-06 09:30:07 IST
      You get this because order alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
  });

  it("order_cancelled with nothing filled has no fill note, and shows Upstox's message when there is one", () => {
    const m = renderNotification("order_cancelled", order({ statusMessage: "IOC order not filled" }));
    expect(m.telegramHtml.split("\n").slice(0, 2)).toEqual(["🚫 <b>Order cancelled</b>: BUY 10 <b>RELIANCE</b>", "Upstox: IOC order not filled"]);
    expect(m.email.subject).toBe("Order cancelled: BUY 10 RELIANCE");
  });

  it("groups large quantities and prices the Indian way", () => {
    const m = renderNotification("order_filled", order({ quantity: 150000, filledQuantity: 150000, averagePrice: 123.45 }));
    expect(m.email.subject).toBe("Filled: BUY 1,50,000 RELIANCE at ₹123.45 avg");
    expect(m.telegramHtml).toContain("(₹1,85,17,500.00)");
  });

  it("escapes a hostile symbol and status message in Telegram and email HTML, but not in subject or text", () => {
    const m = renderNotification("order_rejected", order({ symbol: HOSTILE, statusMessage: NASTY_REASON }));
    const escapedReason = "Margin &lt; required &amp; &lt;b&gt;RMS&lt;/b&gt; says no";
    for (const html of [m.telegramHtml, m.email.html]) {
      expect(html).toContain("<b>&lt;script&gt;</b>");
      expect(html).toContain(escapedReason);
      expect(html).not.toContain(HOSTILE);
      expect(html).not.toContain(NASTY_REASON);
    }
    expect(m.email.subject).toBe(`Order rejected: BUY 10 ${HOSTILE}`);
    expect(m.email.text.split("\n")[0]).toBe(`Order rejected: BUY 10 ${HOSTILE} — ${NASTY_REASON}`);
  });
});

describe("holding_move", () => {
  it("a fall: 📉, percent, price and the signed rupee change, and the user's threshold", () => {
    expect(shown(renderNotification("holding_move", SAMPLES.holding_move))).toMatchInlineSnapshot(`
      {
        "subject": "RELIANCE is down 3.2% today at ₹1,372.00 (−₹452.00)",
        "telegram": "📉 <b>RELIANCE</b> (you hold 10) is down 3.2% today at <b>₹1,372.00</b> (−₹452.00)
      Previous close ₹1,417.20. You asked to hear about moves of 3% or more.",
        "text": "RELIANCE (you hold 10) is down 3.2% today at ₹1,372.00 (−₹452.00)
      Previous close ₹1,417.20. You asked to hear about moves of 3% or more.

      You get this because portfolio alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
  });

  it("a rise: 📈, 'up', and a plus sign", () => {
    const m = renderNotification("holding_move", holdingMove({ lastPrice: 1462.55, changePct: 3.2, dayChange: 453.5, thresholdPct: 2.5 }));
    expect(m.telegramHtml).toBe(
      "📈 <b>RELIANCE</b> (you hold 10) is up 3.2% today at <b>₹1,462.55</b> (+₹453.50)\n" +
        "Previous close ₹1,417.20. You asked to hear about moves of 2.5% or more.",
    );
  });

  it("escapes the symbol in the HTML variants only", () => {
    const m = renderNotification("holding_move", holdingMove({ symbol: HOSTILE }));
    expect(m.telegramHtml.startsWith("📉 <b>&lt;script&gt;</b> (you hold 10)")).toBe(true);
    expect(m.email.html).toContain("<b>&lt;script&gt;</b>");
    expect(m.email.subject.startsWith(`${HOSTILE} is down 3.2% today`)).toBe(true);
    expect(m.email.text.startsWith(`${HOSTILE} (you hold 10)`)).toBe(true);
  });
});

describe("token_expired", () => {
  const DAILY =
    "🔑 <b>Your Upstox login has expired</b>\nUpstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.\nSend /login to link your account.";

  it("the daily 03:30 expiry, or no reason from Upstox: today's text", () => {
    for (const p of [{}, { expired: true }, { expired: true, reason: "Invalid token used to access API" }, { reason: "" }, { reason: "   " }, { reason: 42 }]) {
      const m = renderNotification("token_expired", p);
      expect(m.telegramHtml).toBe(DAILY);
      expect(m.email.subject).toBe("Your Upstox login has expired");
      expect(m.email.text).toContain("Upstox ends every login at 3:30 AM IST.");
      expect(m.email.html).toContain("<b>Your Upstox login has expired</b>");
      expect(m.telegramHtml + m.email.text + m.email.html).not.toContain("refused");
    }
  });

  it("any other refusal names Upstox's reason, in Telegram and both email forms", () => {
    const m = renderNotification("token_expired", { reason: "Invalid token used to access API", expired: false }, { unsubscribeUrl: UNSUB });
    const sentence = "Upstox refused your login: Invalid token used to access API. Use /login to link again.";
    expect(m.telegramHtml).toBe(`🔑 ${sentence}\nAlerts that need your account (portfolio, orders) are paused until you do.`);
    expect(m.email.subject).toBe("Upstox refused your login");
    expect(m.email.text).toBe(`${sentence}\n\nAlerts that need your account (portfolio, orders) are paused until you do.\n\nUnsubscribe: ${UNSUB}\n`);
    expect(m.email.html).toContain(`<p>🔑 ${sentence}</p>`);
    for (const s of [m.telegramHtml, m.email.text, m.email.html]) expect(s).not.toContain("3:30");
    // Without `expired` at all, a reason still counts as a refusal; Upstox's own full stop is not doubled.
    expect(renderNotification("token_expired", { reason: "Invalid token used to access API." }).telegramHtml.split("\n")[0]).toBe(`🔑 ${sentence}`);
  });

  it("escapes the reason in the HTML variants only, and keeps it to one short line", () => {
    const m = renderNotification("token_expired", { reason: NASTY_REASON });
    const escaped = "Margin &lt; required &amp; &lt;b&gt;RMS&lt;/b&gt; says no";
    expect(m.telegramHtml.split("\n")[0]).toBe(`🔑 Upstox refused your login: ${escaped}. Use /login to link again.`);
    expect(m.email.html).toContain(`Upstox refused your login: ${escaped}. Use /login`);
    expect(m.email.text.split("\n")[0]).toBe(`Upstox refused your login: ${NASTY_REASON}. Use /login to link again.`);
    const long = renderNotification("token_expired", { reason: `line one\n${"x".repeat(1000)}` });
    expect(long.telegramHtml.split("\n")[0]).toMatch(/^🔑 Upstox refused your login: line one x{290,}…\. Use \/login to link again\.$/);
    expect(long.telegramHtml.length).toBeLessThan(500);
  });
});

describe("token_expiring", () => {
  it("with a login link: a Telegram link, the bare URL in text, an <a> in HTML", () => {
    const m = renderNotification("token_expiring", { loginUrl: "https://api.upstox.com/login?client_id=abc&state=x", expiresAt: EXPIRED });
    expect(shown(m)).toMatchInlineSnapshot(`
      {
        "subject": "Log in to Upstox before 9:15 to keep your alerts working",
        "telegram": "🔑 <b>Good morning</b> — log in to Upstox before the market opens at 9:15 so your portfolio and order alerts keep working.
      <a href="https://api.upstox.com/login?client_id=abc&amp;state=x">Log in to Upstox</a>
      <i>Your last login ended at 2025-01-06 03:30 IST.</i>",
        "text": "Good morning — log in to Upstox before the market opens at 9:15 so your portfolio and order alerts keep working.

      Log in here: https://api.upstox.com/login?client_id=abc&state=x
      Your last login ended at 2025-01-06 03:30 IST (Upstox ends every login at 3:30 AM).
      ",
      }
    `);
    expect(m.email.html).toContain('<a href="https://api.upstox.com/login?client_id=abc&amp;state=x" style="font-weight:bold">Log in to Upstox</a>');
    expect(m.email.html).not.toContain("/login</b>");
  });

  it("without a link: send /login", () => {
    const m = renderNotification("token_expiring", { expiresAt: EXPIRED });
    expect(m.telegramHtml).toMatchInlineSnapshot(`
      "🔑 <b>Good morning</b> — log in to Upstox before the market opens at 9:15 so your portfolio and order alerts keep working.
      Send /login to link your account.
      <i>Your last login ended at 2025-01-06 03:30 IST.</i>"
    `);
    expect(m.telegramHtml).not.toContain("<a");
    expect(m.email.text).toContain("Send /login to the bot to link your account.\n");
    expect(m.email.text).not.toContain("Log in here");
    expect(m.email.html).toContain("<p>Send <b>/login</b> to the bot to link your account.</p>");
    expect(m.email.html).not.toContain("<a");
  });

  it("never puts a non-http(s) link in an href", () => {
    const m = renderNotification("token_expiring", { loginUrl: "javascript:alert(1)", expiresAt: EXPIRED });
    expect(m.telegramHtml).not.toContain("javascript:");
    expect(m.email.html).not.toContain("javascript:");
    expect(m.telegramHtml).toContain("Send /login");
  });

  it("a quote in the login URL cannot break out of the href", () => {
    const m = renderNotification("token_expiring", HOSTILE_SAMPLES.token_expiring);
    expect(m.telegramHtml).toContain('<a href="https://x.example/?a=1&amp;b=&quot;&gt;&lt;script&gt;">');
    expect(m.email.text).toContain('Log in here: https://x.example/?a=1&b="><script>\n');
  });
});

describe("rule_paused", () => {
  it("names the alert, the symbol and why", () => {
    expect(shown(renderNotification("rule_paused", SAMPLES.rule_paused))).toMatchInlineSnapshot(`
      {
        "subject": "Alert #12 on RELIANCE was paused",
        "telegram": "⏸ <b>Alert #12</b> on <b>RELIANCE</b> was paused: Upstox no longer lists this instrument.
      Use /alerts to see or resume it.",
        "text": "Alert #12 on RELIANCE was paused: Upstox no longer lists this instrument.
      Use /alerts in the bot to see or resume it.
      ",
      }
    `);
  });

  it("escapes symbol and description in the HTML variants only", () => {
    const m = renderNotification("rule_paused", HOSTILE_SAMPLES.rule_paused);
    expect(m.telegramHtml.split("\n")[0]).toBe(
      "⏸ <b>Alert #12</b> on <b>&lt;script&gt;</b> was paused: Margin &lt; required &amp; &lt;b&gt;RMS&lt;/b&gt; says no",
    );
    expect(m.email.subject).toBe(`Alert #12 on ${HOSTILE} was paused`);
    expect(m.email.text.split("\n")[0]).toBe(`Alert #12 on ${HOSTILE} was paused: ${NASTY_REASON}`);
  });
});

describe("portfolio_digest", () => {
  it("evening digest: header, a line per holding (biggest first), positions, totals", () => {
    expect(shown(renderNotification("portfolio_digest", SAMPLES.portfolio_digest))).toMatchInlineSnapshot(`
      {
        "subject": "Portfolio after close · Mon, 6 Jan 2025 · Day P&L −₹1,436.50",
        "telegram": "🌆 <b>Portfolio after close</b> · Mon, 6 Jan 2025
      Day P&amp;L: <b>−₹1,436.50</b>

      <b>Holdings</b> (2)
      • <b>TCS</b> ×5 at ₹4,100.00 · P&amp;L +₹500.00 · today +₹250.00 (+1.23%)
      • <b>RELIANCE</b> ×10 at ₹1,372.00 · P&amp;L +₹720.00 · today −₹452.00 (−3.19%)

      <b>Positions</b> (1)
      • <b>NIFTY25JAN24000CE</b> short 75 · intraday · P&amp;L −₹1,234.50

      Value: <b>₹34,220.00</b> · Total P&amp;L: <b>+₹1,220.00</b>",
        "text": "Portfolio after close · Mon, 6 Jan 2025
      Day P&L: −₹1,436.50

      Holdings (2)
      - TCS ×5 · avg ₹4,000.00 · last ₹4,100.00 · P&L +₹500.00 · today +₹250.00 (+1.23%)
      - RELIANCE ×10 · avg ₹1,300.00 · last ₹1,372.00 · P&L +₹720.00 · today −₹452.00 (−3.19%)

      Positions (1)
      - NIFTY25JAN24000CE short 75 · intraday · P&L −₹1,234.50

      Value: ₹34,220.00
      Total P&L: +₹1,220.00

      You get this because portfolio alerts are on. Change them with /settings in the bot.
      ",
      }
    `);
  });

  it("morning digest says 'before open' and labels the change as the last session's", () => {
    const m = renderNotification("portfolio_digest", digest({ when: "open", positions: [] }));
    expect(m.telegramHtml).toMatchInlineSnapshot(`
      "🌅 <b>Portfolio before open</b> · Mon, 6 Jan 2025
      Last session's P&amp;L: <b>−₹1,436.50</b>

      <b>Holdings</b> (2)
      • <b>TCS</b> ×5 at ₹4,100.00 · P&amp;L +₹500.00 · last session +₹250.00 (+1.23%)
      • <b>RELIANCE</b> ×10 at ₹1,372.00 · P&amp;L +₹720.00 · last session −₹452.00 (−3.19%)

      Value: <b>₹34,220.00</b> · Total P&amp;L: <b>+₹1,220.00</b>"
    `);
    expect(m.email.subject).toBe("Portfolio before open · Mon, 6 Jan 2025 · Last session's P&L −₹1,436.50");
  });

  it("says so when there are no holdings, and leaves the positions section out when there are none", () => {
    const m = renderNotification("portfolio_digest", digest({ holdings: [], positions: [], dayPnl: 0, totalValue: 0, totalPnl: 0 }));
    expect(m.telegramHtml).toBe(
      "🌆 <b>Portfolio after close</b> · Mon, 6 Jan 2025\nDay P&amp;L: <b>₹0.00</b>\n\n<b>Holdings</b>\nNo holdings.\n\nValue: <b>₹0.00</b> · Total P&amp;L: <b>₹0.00</b>",
    );
    expect(m.email.text).not.toContain("Positions");
    expect(m.email.html).toContain("<p>No holdings.</p>");
    expect(m.email.html).not.toContain("<table");
  });

  it("the email is a readable table: a header row and one row per holding and position", () => {
    const html = renderNotification("portfolio_digest", SAMPLES.portfolio_digest).email.html;
    expect(html).toContain("<th>P&amp;L</th><th>Today</th>");
    expect(html).toContain(
      '<tr style="border-bottom:1px solid #eee;text-align:right"><td style="text-align:left"><b>RELIANCE</b></td><td>10</td><td>₹1,300.00</td><td>₹1,372.00</td><td>+₹720.00</td><td>−₹452.00<br><small>−3.19%</small></td></tr>',
    );
    expect(html).toContain(
      '<td style="text-align:left"><b>NIFTY25JAN24000CE</b></td><td style="text-align:left">intraday</td><td>short 75</td><td>−₹1,234.50</td>',
    );
    expect(html.match(/<table/g)).toHaveLength(2);
    expect(html.match(/<tr /g)).toHaveLength(2 + 3); // two header rows, two holdings, one position
  });

  it("with 60 holdings Telegram lists 30 and says how many more, while the email lists all 60", () => {
    const m = renderNotification("portfolio_digest", digest({ holdings: manyHoldings(60), positions: [] }));
    expect(m.telegramHtml.length).toBeLessThanOrEqual(4096);
    expect(m.telegramHtml.match(/^• /gm)).toHaveLength(30);
    expect(m.telegramHtml).toContain("\n…and 30 more (/portfolio lists them all)\n");
    expect(m.telegramHtml).toContain("<b>Holdings</b> (60)");
    // Biggest holding (by current value) first: STOCK59 has the most shares at the highest price.
    expect(m.telegramHtml).toContain("\n• <b>STOCK59</b> ×1,059 at ₹12,059.00 · P&amp;L −₹3,45,678.90 · today −₹1,23,456.78 (−3.53%)\n");
    expect(m.email.text.match(/^- STOCK/gm)).toHaveLength(60);
    expect(m.email.html.match(/<td style="text-align:left"><b>STOCK/g)).toHaveLength(60);
    expect(m.email.text).not.toContain("more");
  });

  it("shows every holding when they fit", () => {
    const m = renderNotification("portfolio_digest", digest({ holdings: manyHoldings(30), positions: [] }));
    expect(m.telegramHtml.match(/^• /gm)).toHaveLength(30);
    expect(m.telegramHtml).not.toContain("more");
  });

  it("stays within 4,096 characters with 200 holdings, 80 positions and long escaped symbols", () => {
    const holdings = manyHoldings(200, (i) => `<M&M-${"X".repeat(30)}-${i}>`);
    const positions = Array.from({ length: 80 }, (_, i) => ({ symbol: `BANKNIFTY25JAN${50000 + i}PE&<>`, product: "MTF", quantity: -1500, pnl: -123456.78 }));
    const m = renderNotification("portfolio_digest", digest({ holdings, positions }));
    expect(m.telegramHtml.length).toBeLessThanOrEqual(4096);
    expect(m.telegramHtml).toMatch(/\n…and \d+ more \(\/portfolio lists them all\)\n/);
    expect(m.telegramHtml).toMatch(/\n…and \d+ more\n\nValue: <b>₹34,220.00<\/b> · Total P&amp;L: <b>\+₹1,220.00<\/b>$/);
    const listed = m.telegramHtml.match(/^• /gm)?.length ?? 0;
    const more = [...m.telegramHtml.matchAll(/…and (\d+) more/g)].reduce((a, x) => a + Number(x[1]), 0);
    expect(listed + more).toBe(280);
    // Fewer than the usual 30 + 15 rows: the long lines made render shorten the lists to fit.
    expect(listed).toBeGreaterThan(0);
    expect(listed).toBeLessThan(45);
    // The email still lists everything.
    expect(m.email.text.match(/^- /gm)).toHaveLength(280);
  });

  it("200 ordinary holdings also fit", () => {
    const m = renderNotification("portfolio_digest", digest({ holdings: manyHoldings(200) }));
    expect(m.telegramHtml.length).toBeLessThanOrEqual(4096);
    expect(m.telegramHtml).toContain("…and 170 more");
  });

  it("escapes holding and position fields in the HTML variants only", () => {
    const m = renderNotification("portfolio_digest", HOSTILE_SAMPLES.portfolio_digest);
    expect(m.telegramHtml).toContain("• <b>&lt;script&gt;</b> ×10");
    expect(m.telegramHtml).toContain("• <b>M&amp;M</b> ×10");
    expect(m.telegramHtml).toContain("• <b>&lt;script&gt;</b> long 5 · &lt;u&gt; ·");
    expect(m.email.html).toContain('<td style="text-align:left"><b>&lt;script&gt;</b></td>');
    expect(m.email.html).toContain('<td style="text-align:left">&lt;u&gt;</td>');
    expect(m.email.text).toContain(`- ${HOSTILE} ×10`);
    expect(m.email.text).toContain(`- ${HOSTILE} long 5 · <u> · P&L +₹1.00`);
  });
});

describe("money formatting", () => {
  it("puts a real minus sign before the rupee sign and groups digits the Indian way", () => {
    expect(formatRupees(-452)).toBe("−₹452.00");
    expect(formatRupees(123456)).toBe("₹1,23,456.00");
    expect(formatRupees(123456, true)).toBe("+₹1,23,456.00");
    expect(formatRupees(-12345678.9, true)).toBe("−₹1,23,45,678.90");
    expect(formatRupees(-0.001, true)).toBe("₹0.00");
    expect(formatRupees(0, true)).toBe("₹0.00");
  });

  it("shows up that way in rendered messages", () => {
    const m = renderNotification("holding_move", holdingMove({ quantity: 100, lastPrice: 123456, closePrice: 124690.56, dayChange: -123456 }));
    expect(m.email.subject).toBe("RELIANCE is down 3.2% today at ₹1,23,456.00 (−₹1,23,456.00)");
    expect(m.email.text).toContain("(you hold 100)");
    const d = renderNotification("portfolio_digest", digest({ totalValue: 123456, totalPnl: -452 }));
    expect(d.telegramHtml.endsWith("Value: <b>₹1,23,456.00</b> · Total P&amp;L: <b>−₹452.00</b>")).toBe(true);
  });
});

describe("every kind", () => {
  const TELEGRAM_TAGS = new Set(["b", "i", "u", "s", "a", "code", "pre"]);

  /** Every tag used, and every `&` that does not start an entity Telegram knows. */
  function telegramProblems(html: string): string[] {
    const problems: string[] = [];
    for (const [tag, name, attrs] of html.matchAll(/<\/?([a-zA-Z][\w-]*)([^>]*)>/g)) {
      if (!TELEGRAM_TAGS.has(name!)) problems.push(`tag ${tag}`);
      else if (name === "a" && !tag.startsWith("</") && !/^ href="[^"<>]*"$/.test(attrs!)) problems.push(`link ${tag}`);
      else if (name !== "a" && attrs) problems.push(`attributes on ${tag}`);
    }
    for (const m of html.matchAll(/&(?!(?:amp|lt|gt|quot);)/g)) problems.push(`bare & at ${m.index}`);
    // Anything left after removing tags must hold no angle bracket.
    if (/[<>]/.test(html.replace(/<\/?([a-zA-Z][\w-]*)([^>]*)>/g, ""))) problems.push("stray < or >");
    return problems;
  }

  it.each(KINDS)("%s: Telegram HTML uses only tags Telegram accepts, with normal and hostile payloads", (kind) => {
    for (const payload of [SAMPLES[kind], HOSTILE_SAMPLES[kind]]) {
      for (const extras of [undefined, { unsubscribeUrl: UNSUB }]) {
        const m = renderNotification(kind, payload, extras);
        expect(telegramProblems(m.telegramHtml)).toEqual([]);
        expect(m.telegramHtml.length).toBeLessThanOrEqual(4096);
        expect(m.telegramHtml).not.toMatch(/\{\{|\}\}|NaN|undefined/);
        for (const s of [m.email.subject, m.email.text, m.email.html]) expect(s).not.toMatch(/\{\{|\}\}|NaN|undefined/);
        expect(m.email.subject).not.toContain("\n");
      }
    }
  });

  it.each(KINDS)("%s: the email carries the unsubscribe footer only when given a link", (kind) => {
    const withLink = renderNotification(kind, SAMPLES[kind], { unsubscribeUrl: UNSUB });
    expect(withLink.email.text.endsWith(`\nUnsubscribe: ${UNSUB}\n`)).toBe(true);
    expect(withLink.email.html).toContain(
      '<a href="https://alerts.example.in/unsubscribe?u=7&amp;t=abcDEF_123" style="color:#666">Unsubscribe from these emails</a>',
    );
    expect(withLink.email.html.endsWith("</div>")).toBe(true);
    expect(withLink.telegramHtml).not.toMatch(/unsubscribe/i);
    expect(withLink.email.subject).not.toMatch(/unsubscribe/i);

    for (const extras of [undefined, {}, { unsubscribeUrl: undefined }, { unsubscribeUrl: "" }, { unsubscribeUrl: "javascript:alert(1)" }]) {
      const without = renderNotification(kind, SAMPLES[kind], extras);
      expect(without.email.text).not.toMatch(/unsubscribe/i);
      expect(without.email.html).not.toMatch(/unsubscribe|javascript/i);
      // Nothing else changes.
      expect(without.telegramHtml).toBe(withLink.telegramHtml);
      expect(without.email.subject).toBe(withLink.email.subject);
      expect(withLink.email.text.startsWith(without.email.text.trimEnd())).toBe(true);
    }
  });

  it.each(KINDS)("%s: the template has the footer in both email variants and nowhere else", (kind) => {
    const t = TEMPLATES[kind];
    expect(t.text).toContain("{{#unsubscribeUrl}}");
    expect(t.text).toContain("Unsubscribe: {{unsubscribeUrl}}");
    expect(t.html).toContain('<a href="{{unsubscribeUrl}}"');
    expect(t.html).toContain(">Unsubscribe from these emails</a>");
    expect(t.telegram).not.toContain("unsubscribe");
    expect(t.subject).not.toContain("unsubscribe");
  });

  it.each(KINDS)("%s: is pure", (kind) => {
    expect(renderNotification(kind, SAMPLES[kind], { unsubscribeUrl: UNSUB })).toEqual(renderNotification(kind, SAMPLES[kind], { unsubscribeUrl: UNSUB }));
  });
});
