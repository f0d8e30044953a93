import { afterEach, describe, expect, it } from "vitest";
import type { InlineKeyboardMarkup } from "grammy/types";
import { FakeTelegram, type SentMessage } from "../fakes/telegram/index.js";
import { startAppFixture, type AppFixture, type LinkedTrader } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TRADER = { id: 7001, username: "asha", first_name: "Asha" };
const OTHER = { id: 7002, username: "ravi", first_name: "Ravi" };
const ADMIN = { id: 7999, username: "boss", first_name: "Admin" };
const SECRET = "postback-secret-0123456789";

const buttonsOf = (m: SentMessage | Record<string, unknown> | undefined) =>
  (
    ((m as { replyMarkup?: unknown; reply_markup?: unknown } | undefined)?.replyMarkup ?? (m as { reply_markup?: unknown } | undefined)?.reply_markup) as
      InlineKeyboardMarkup | undefined
  )?.inline_keyboard.flat() ?? [];
const dataOf = (m: SentMessage | Record<string, unknown> | undefined, prefix: string) =>
  buttonsOf(m)
    .map((b) => ("callback_data" in b ? b.callback_data : ""))
    .find((d) => d.startsWith(prefix));

/**
 * Trading from chat over the wire: the fake Telegram (long polling) and the fake Upstox (orders
 * on the HFT host, GTT, margin, brokerage), real Redis, SQLite and SMTP. A card is confirmed
 * by pressing its button exactly as a phone would.
 */
describe("trading from chat", () => {
  let f: AppFixture | undefined;
  let tg: FakeTelegram | undefined;
  let now: number;
  let trader: LinkedTrader;

  afterEach(async () => {
    await f?.close();
    await tg?.close();
    f = tg = undefined;
  });

  async function start(env: Record<string, string> = {}) {
    now = Date.parse("2025-01-15T10:30:00+05:30");
    tg = await FakeTelegram.start();
    f = await startAppFixture({
      clock: () => now,
      upstox: true,
      env: {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        ADMIN_TELEGRAM_IDS: String(ADMIN.id),
        INSTRUMENT_FILES: "NSE",
        TRADING_ENABLED: "true",
        UPSTOX_ALGO_NAME: "uab-test-algo",
        UPSTOX_WEBHOOK_SECRET: SECRET,
        ...env,
      },
      takeOver: ["poll-quotes", "fetch-candles", "order-sync"],
      delivery: { attempts: 2, backoffMs: 50 },
    });
    await waitUntil(() => f!.services.instruments.findBySymbol("RELIANCE"), { what: "instruments loaded" });
    trader = f.linkTrader({ telegramId: TRADER.id, email: "asha@example.com", channels: "both", upstoxUserId: "UPX7001" });
    f.fake.setPrice(RELIANCE, 1421.5);
  }

  /** Sends a message and waits for the bot's next message in that chat. */
  async function say(from: typeof TRADER, text: string, chatId = from.id): Promise<SentMessage> {
    const before = tg!.sentTo(chatId).length;
    await tg!.sendText(from, text, { chatId });
    return (await tg!.waitForMessages(chatId, before + 1, 10_000))[before]!;
  }

  /** Presses a button under message `messageId` and returns the callback's answer text. */
  async function press(from: typeof TRADER, messageId: number, data: string, chatId = from.id): Promise<string | undefined> {
    const id = await tg!.pressButton(from, { messageId, chatId, data });
    return (await tg!.waitForCallbackAnswer(id)).text;
  }

  /** The message as Telegram now shows it (after edits), as plain text. */
  const shown = (messageId: number, chatId = TRADER.id) => tg!.message(chatId, messageId) as { text?: string; reply_markup?: unknown } | undefined;
  const kinds = () =>
    (
      f!.services.db.prepare("SELECT kind, channel FROM notifications WHERE kind LIKE 'order_%' OR kind LIKE 'gtt_%' ORDER BY id").all() as Array<{
        kind: string;
        channel: string;
      }>
    ).map((r) => `${r.kind}:${r.channel}`);
  const auditActions = () =>
    (f!.services.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'trade.%' ORDER BY id").all() as Array<{ action: string }>).map((r) => r.action);

  it("/buy → card → Confirm → placed → filled, told on Telegram and by email, with X-Algo-Name on the order", async () => {
    await start();
    const card = await say(TRADER, "/buy RELIANCE 3 at 1420");
    expect(card.text).toContain("Confirm order");
    expect(card.text).toContain("BUY 3 RELIANCE · limit ₹1,420.00 · delivery");
    expect(card.text).toMatch(/Value ≈ ₹4,260\.00/);
    expect(card.text).toMatch(/Margin needed: ₹4,260\.00/);
    expect(card.text).toMatch(/Charges: ₹[\d,]+\.\d\d \(brokerage ₹0\.00, taxes and fees ₹[\d,]+\.\d\d\)/);
    expect(card.text).toMatch(/Funds available: ₹[\d,]+\.\d\d/);
    const confirm = dataOf(card, "oc:ok:")!;
    expect(dataOf(card, "oc:no:")).toBeDefined();
    expect(f!.fake.allOrders()).toHaveLength(0);

    expect(await press(TRADER, card.messageId, confirm)).toBe("Sending…");
    await waitUntil(() => shown(card.messageId)?.text?.startsWith("✅ Order placed"), { what: "card shows the outcome" });
    const orders = f!.fake.allOrders();
    expect(orders).toHaveLength(1);
    const order = orders[0]!;
    expect(shown(card.messageId)!.text).toContain(order.order_id);
    expect(buttonsOf(shown(card.messageId))).toHaveLength(0);
    expect(order).toMatchObject({ transaction_type: "BUY", quantity: 3, order_type: "LIMIT", price: 1420, product: "D", tag: `uab-${confirm.slice(6)}` });
    expect(f!.fake.orderWriteHeaders()).toEqual([{ path: "/v3/order/place", algoName: "uab-test-algo" }]);

    // The order book poll sees it open: the card already said "placed", so nothing more is told.
    await runJob(f!.services.queues["order-sync"]);
    f!.fake.setOrderStatus(order.order_id, "complete", { filledQuantity: 3, averagePrice: 1418 });
    await runJob(f!.services.queues["order-sync"]);
    const filled = await waitUntil(() => tg!.sentTo(TRADER.id).find((m) => m.text?.startsWith("✅ Filled")), { what: "fill on Telegram" });
    expect(filled.text).toContain("BUY 3 RELIANCE at ₹1,418.00 avg");
    const mail = await waitUntil(() => f!.smtp.messages.find((m) => m.parsed.subject?.startsWith("Filled:")), { what: "fill by email" });
    expect(mail.envelopeTo).toEqual(["asha@example.com"]);
    await runJob(f!.services.queues["order-sync"]);
    expect(kinds()).toEqual(["order_filled:telegram", "order_filled:email"]);
    expect(auditActions()).toEqual(["trade.card", "trade.confirm", "trade.outcome"]);
  });

  it("a double tap, a replayed callback and another user's Confirm place one order; an expired card refuses", async () => {
    await start();
    const card = await say(TRADER, "/sell RELIANCE 2 market intraday");
    expect(card.text).toContain("SELL 2 RELIANCE · at market · intraday");
    const confirm = dataOf(card, "oc:ok:")!;
    // Someone else presses it first: refused, and the card is still the owner's to confirm.
    expect(await press(OTHER, card.messageId, confirm, TRADER.id)).toMatch(/not yours/);
    expect(f!.fake.allOrders()).toHaveLength(0);
    // Two taps in flight together, and the same callback replayed after.
    const [a, b] = await Promise.all([
      tg!.pressButton(TRADER, { messageId: card.messageId, data: confirm }),
      tg!.pressButton(TRADER, { messageId: card.messageId, data: confirm }),
    ]);
    const answers = await Promise.all([tg!.waitForCallbackAnswer(a), tg!.waitForCallbackAnswer(b)]);
    expect(answers.map((x) => x.text).sort()).toEqual(["Sending…", "This card was already used: it works once."]);
    await waitUntil(() => shown(card.messageId)?.text?.startsWith("✅ Order placed"), { what: "outcome" });
    expect(await press(TRADER, card.messageId, confirm)).toMatch(/already used/);
    expect(f!.fake.allOrders()).toHaveLength(1);

    // A card left past its 60 s: nothing is sent, and it says so in place.
    const late = await say(TRADER, "/buy RELIANCE 1");
    now += 61_000;
    expect(await press(TRADER, late.messageId, dataOf(late, "oc:ok:")!)).toMatch(/expired/);
    await waitUntil(() => shown(late.messageId)?.text?.startsWith("⌛ Expired"), { what: "expired card" });
    expect(f!.fake.allOrders()).toHaveLength(1);

    // Cancel drops a card: nothing sent, and Confirm no longer works on it.
    const dropped = await say(TRADER, "/buy RELIANCE 1");
    expect(await press(TRADER, dropped.messageId, dataOf(dropped, "oc:no:")!)).toMatch(/nothing was sent/);
    expect(await press(TRADER, dropped.messageId, dataOf(dropped, "oc:ok:")!)).toMatch(/already used/);
    expect(f!.fake.allOrders()).toHaveLength(1);
    expect(auditActions().filter((a) => a === "trade.confirm_refused")).toHaveLength(5);
  });

  it("a place that times out after Upstox accepted it is found by its tag, reported once, and never sent twice", async () => {
    await start();
    const card = await say(TRADER, "/buy RELIANCE 4 at 1419.5");
    f!.fake.failNext({ status: 503, pathPrefix: "/v3/order/place", afterHandling: true });
    await press(TRADER, card.messageId, dataOf(card, "oc:ok:")!);
    await waitUntil(() => shown(card.messageId)?.text?.startsWith("✅ Order placed"), { what: "reconciled outcome" });
    expect(shown(card.messageId)!.text).toContain("found by this card's tag, sent once");
    const orders = f!.fake.allOrders();
    expect(orders).toHaveLength(1);
    expect(f!.fake.requestsTo("/v3/order/place")).toHaveLength(1);
    // From then on the confirmations flow tells each transition once.
    await runJob(f!.services.queues["order-sync"]);
    f!.fake.setOrderStatus(orders[0]!.order_id, "complete", { filledQuantity: 4, averagePrice: 1419.5 });
    await runJob(f!.services.queues["order-sync"]);
    await runJob(f!.services.queues["order-sync"]);
    expect(kinds()).toEqual(["order_filled:telegram", "order_filled:email"]);
  });

  it("a place whose answer and look-ups by tag all fail says so, sends nothing more, and the order is told when Upstox reports it", async () => {
    await start();
    const card = await say(TRADER, "/buy RELIANCE 2 at 1410");
    f!.fake.failNext({ status: 503, pathPrefix: "/v3/order/place", afterHandling: true });
    f!.fake.failNext({ status: 503, pathPrefix: "/v2/order/history", count: 20 });
    await press(TRADER, card.messageId, dataOf(card, "oc:ok:")!);
    await waitUntil(() => shown(card.messageId)?.text?.startsWith("⚠️ Not confirmed"), { what: "unclear outcome", timeoutMs: 30_000 });
    expect(shown(card.messageId)!.text).toContain("It was not sent again");
    expect(f!.fake.requestsTo("/v3/order/place")).toHaveLength(1);
    // The order book then shows it: placed is told (the card could not say it), then the fill.
    await runJob(f!.services.queues["order-sync"]);
    const placed = await waitUntil(() => tg!.sentTo(TRADER.id).find((m) => m.text?.startsWith("🧾 Order placed")), { what: "placed told" });
    expect(placed.text).toContain("BUY 2 RELIANCE");
    const orderId = f!.fake.allOrders()[0]!.order_id;
    f!.fake.setOrderStatus(orderId, "complete", { filledQuantity: 2, averagePrice: 1410 });
    await runJob(f!.services.queues["order-sync"]);
    await runJob(f!.services.queues["order-sync"]);
    expect(kinds()).toEqual(["order_placed:telegram", "order_placed:email", "order_filled:telegram", "order_filled:email"]);
    expect(f!.fake.allOrders()).toHaveLength(1);
  });

  it("the limits, the trader's own lower ones, the daily count and the admin's /halt refuse with the reason", async () => {
    await start({ TRADING_MAX_ORDER_VALUE: "50000", TRADING_MAX_ORDERS_PER_DAY: "2" });
    expect((await say(TRADER, "/buy RELAINCE 1")).text).toContain("Did you mean RELIANCE?");
    expect((await say(TRADER, "/buy NIFTY 1")).text).toMatch(/index|don't know/);
    expect((await say(TRADER, "/buy RELIANCE 40 at 1420")).text).toBe(
      "❌ This order is worth about ₹56,800.00, over the limit this bot's operator set of ₹50,000.00 an order.",
    );
    const limits = await say(TRADER, "/limits value 5000");
    expect(limits.text).toContain("Per order: ₹5,000.00 (your own)");
    expect(limits.text).toContain("Orders a day: 2 (the operator's)");
    expect((await say(TRADER, "/limits value 999999999")).text).toContain("Per order: ₹50,000.00 (the operator's)");
    await say(TRADER, "/limits value 5000");
    expect((await say(TRADER, "/buy RELIANCE 4 at 1420")).text).toBe(
      "❌ This order is worth about ₹5,680.00, over your own limit (/limits) of ₹5,000.00 an order.",
    );

    // A card shown before the halt is refused at Confirm; new ones are not shown at all.
    const card = await say(TRADER, "/buy RELIANCE 1 at 1420");
    expect((await say(OTHER, "/halt")).text).toBe("That command is for admins only.");
    expect((await say(ADMIN, "/halt")).text).toContain("Trading from chat is halted");
    await press(TRADER, card.messageId, dataOf(card, "oc:ok:")!);
    await waitUntil(() => shown(card.messageId)?.text?.startsWith("❌ Not sent"), { what: "refused card" });
    expect(shown(card.messageId)!.text).toContain("halted by the admin");
    expect((await say(TRADER, "/buy RELIANCE 1 at 1420")).text).toContain("halted by the admin");
    expect((await say(ADMIN, "/resume_trading")).text).toContain("resumed");
    expect(f!.fake.allOrders()).toHaveLength(0);

    // Two a day: the third card is refused before it is shown.
    for (let i = 0; i < 2; i++) {
      const c = await say(TRADER, "/buy RELIANCE 1 at 1420");
      await press(TRADER, c.messageId, dataOf(c, "oc:ok:")!);
      await waitUntil(() => shown(c.messageId)?.text?.startsWith("✅ Order placed"), { what: "placed" });
    }
    expect((await say(TRADER, "/buy RELIANCE 1 at 1420")).text).toBe(
      "❌ You have placed 2 orders from chat today, the limit this bot's operator set of 2 a day.",
    );
    expect(f!.fake.allOrders()).toHaveLength(2);
    const audit = auditActions();
    expect(audit).toContain("trade.halt");
    expect(audit).toContain("trade.resume");
    expect(audit).toContain("trade.limits");
  });

  it("trading is off by default, refused in groups, and bad commands get their usage line", async () => {
    await start({ TRADING_ENABLED: "false" });
    expect((await say(TRADER, "/buy RELIANCE 1")).text).toContain("Trading from chat is off on this bot");
    // Looking is not trading: /gtts lists, and says why there is no Cancel.
    expect((await say(TRADER, "/gtts")).text).toBe(
      "You have no active GTTs.\nTrading from chat is off on this bot: its operator turns it on with TRADING_ENABLED=true. /orders, /portfolio and /funds still show your account.",
    );
    expect((await say(TRADER, "/buy RELIANCE")).text).toContain("Usage: /buy SYMBOL QTY");
    expect((await say(TRADER, "/buy RELIANCE ten")).text).toContain('"ten" is not a quantity');
    expect((await say(TRADER, "/gtt RELIANCE buy 1 above 1500 target 1400")).text).toContain("target must be above its trigger");
    const group = -100123;
    expect((await say(TRADER, "/buy RELIANCE 1", group)).text).toMatch(/^Please message me privately/);
    expect(f!.fake.allOrders()).toHaveLength(0);
  });

  it("/orders shows Modify and Cancel on open orders; both go through a card", async () => {
    await start();
    const c = await say(TRADER, "/buy RELIANCE 5 at 1400");
    await press(TRADER, c.messageId, dataOf(c, "oc:ok:")!);
    await waitUntil(() => shown(c.messageId)?.text?.startsWith("✅ Order placed"), { what: "placed" });
    const orderId = f!.fake.allOrders()[0]!.order_id;
    const list = await say(TRADER, "/orders");
    expect(list.text).toContain(orderId);
    expect(dataOf(list, "om:")).toBe(`om:${orderId}`);
    expect(dataOf(list, "ox:")).toBe(`ox:${orderId}`);

    const modify = await say(TRADER, `/modify ${orderId} price 1405 qty 6`);
    expect(modify.text).toContain("Confirm change");
    expect(modify.text).toContain("becomes limit ₹1,405.00, quantity 6");
    await press(TRADER, modify.messageId, dataOf(modify, "oc:ok:")!);
    await waitUntil(() => shown(modify.messageId)?.text?.startsWith("✅ Change sent"), { what: "modified" });
    expect(f!.fake.getOrder(orderId)).toMatchObject({ price: 1405, quantity: 6 });

    const before = tg!.sentTo(TRADER.id).length;
    await press(TRADER, list.messageId, `ox:${orderId}`);
    const cancelCard = (await tg!.waitForMessages(TRADER.id, before + 1))[before]!;
    expect(cancelCard.text).toContain("Cancel this order?");
    await press(TRADER, cancelCard.messageId, dataOf(cancelCard, "oc:ok:")!);
    await waitUntil(() => shown(cancelCard.messageId)?.text?.startsWith("🚫 Cancellation sent"), { what: "cancelled" });
    expect(f!.fake.getOrder(orderId)!.status).toBe("cancelled");
    // Another account's order id is simply not found with this trader's login.
    expect((await say(TRADER, "/cancel 999999999999")).text).toContain("Upstox can't find that order.");
  });

  it("an alert's Buy button opens a card pre-filled from the alert; Snooze and Delete act on its rule", async () => {
    await start({ SIMULATOR_ALWAYS_OPEN: "true" });
    const rule = f!.services.rules.create({
      userId: trader.user.id,
      instrumentKey: RELIANCE,
      kind: "cross_up",
      params: { level: 1450 },
      frequency: "every",
      cooldownSeconds: 0,
    });
    f!.services.watchlists.add(trader.user.id, RELIANCE);
    f!.fake.setPrice(RELIANCE, 1440);
    await runJob(f!.services.queues["poll-quotes"]);
    now += 15_000;
    f!.fake.setPrice(RELIANCE, 1452.35);
    await runJob(f!.services.queues["poll-quotes"]);
    const alert = await waitUntil(() => tg!.sentTo(TRADER.id).find((m) => dataOf(m, "al:buy:") !== undefined), { what: "alert" });
    const buy = dataOf(alert, "al:buy:")!;
    expect(dataOf(alert, "al:gtt:")).toBeDefined();

    const before = tg!.sentTo(TRADER.id).length;
    await press(TRADER, alert.messageId, buy);
    const card = (await tg!.waitForMessages(TRADER.id, before + 1))[before]!;
    expect(card.text).toContain("BUY 1 RELIANCE · limit ₹1,452.35 · delivery");
    expect(card.text).toContain("/buy RELIANCE 10 at 1452.35");

    const gttBefore = tg!.sentTo(TRADER.id).length;
    await press(TRADER, alert.messageId, dataOf(alert, "al:gtt:")!);
    const gttCard = (await tg!.waitForMessages(TRADER.id, gttBefore + 1))[gttBefore]!;
    expect(gttCard.text).toContain("Confirm GTT");
    expect(gttCard.text).toMatch(/BUY 1 RELIANCE when the price goes (above|below) ₹1,452\.35/);

    expect(await press(TRADER, alert.messageId, dataOf(alert, "al:snz:")!)).toBe(`Alert #${rule.id} snoozed for 1 h.`);
    expect(await press(TRADER, alert.messageId, dataOf(alert, "al:del:")!)).toBe(`Alert #${rule.id} deleted.`);
    expect(await press(TRADER, alert.messageId, dataOf(alert, "al:del:")!)).toMatch(/no longer exists/);
    // Another user pressing the trader's alert buttons gets nothing of theirs.
    expect(await press(OTHER, alert.messageId, buy, TRADER.id)).toMatch(/too old or not yours/);
  });

  it("/gtt with target and stop-loss: card → Confirm → placed; its trigger is told once across postback and poll; /gtts cancels", async () => {
    await start();
    const card = await say(TRADER, "/gtt RELIANCE buy 2 below 1400 target 1500 sl 1350");
    expect(card.text).toContain("Confirm GTT");
    expect(card.text).toContain("BUY 2 RELIANCE when the price goes below ₹1,400.00");
    expect(card.text).toContain("Target: sell at ₹1,500.00");
    expect(card.text).toContain("Stop-loss: sell at ₹1,350.00");
    await press(TRADER, card.messageId, dataOf(card, "oc:ok:")!);
    await waitUntil(() => shown(card.messageId)?.text?.startsWith("✅ GTT placed"), { what: "gtt placed" });
    const [gtt] = f!.fake.allGtts();
    expect(gtt).toBeDefined();
    expect(shown(card.messageId)!.text).toContain(gtt!.gtt_order_id);
    expect(gtt!.rules.map((r) => [r.strategy, r.trigger_type, r.trigger_price])).toEqual([
      ["ENTRY", "BELOW", 1400],
      ["TARGET", "IMMEDIATE", 1500],
      ["STOPLOSS", "IMMEDIATE", 1350],
    ]);
    expect(f!.fake.orderWriteHeaders().at(-1)).toEqual({ path: "/v3/order/gtt/place", algoName: "uab-test-algo" });

    const list = await say(TRADER, "/gtts");
    expect(list.text).toContain(gtt!.gtt_order_id);
    expect(dataOf(list, "gx:")).toBe(`gx:${gtt!.gtt_order_id}`);

    f!.fake.triggerGtt(gtt!.gtt_order_id);
    const post = () =>
      fetch(`${f!.baseUrl}/upstox/orders/${SECRET}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(f!.fake.gttUpdatePayload(gtt!.gtt_order_id)),
      });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    const told = await waitUntil(() => tg!.sentTo(TRADER.id).find((m) => /GTT triggered/i.test(m.text ?? "")), { what: "gtt triggered" });
    expect(told.text).toContain("RELIANCE");
    await waitUntil(() => f!.smtp.messages.find((m) => /GTT triggered/i.test(m.parsed.subject ?? "")), { what: "gtt by email" });
    expect(kinds().filter((k) => k.startsWith("gtt_"))).toEqual(["gtt_triggered:telegram", "gtt_triggered:email"]);

    // A second GTT, cancelled from /gtts through its card.
    const second = await say(TRADER, "/gtt RELIANCE sell 1 above 1600");
    await press(TRADER, second.messageId, dataOf(second, "oc:ok:")!);
    await waitUntil(() => shown(second.messageId)?.text?.startsWith("✅ GTT placed"), { what: "second gtt" });
    const id = f!.fake.allGtts().find((g) => g.gtt_order_id !== gtt!.gtt_order_id)!.gtt_order_id;
    const before = tg!.sentTo(TRADER.id).length;
    await press(TRADER, list.messageId, `gx:${id}`);
    const cancel = (await tg!.waitForMessages(TRADER.id, before + 1))[before]!;
    expect(cancel.text).toContain("Cancel this GTT?");
    await press(TRADER, cancel.messageId, dataOf(cancel, "oc:ok:")!);
    await waitUntil(() => shown(cancel.messageId)?.text?.startsWith("🚫 GTT cancelled"), { what: "gtt cancelled" });
    expect(f!.fake.getGtt(id)!.rules.every((r) => r.status === "CANCELLED")).toBe(true);
    // /gtts is also a poll: a GTT cancelled elsewhere (the Upstox app) while no update reached
    // the bot is told once from the list, and is no longer listed.
    const third = await say(TRADER, "/gtt RELIANCE buy 1 below 1300");
    await press(TRADER, third.messageId, dataOf(third, "oc:ok:")!);
    await waitUntil(() => shown(third.messageId)?.text?.startsWith("✅ GTT placed"), { what: "third gtt" });
    const thirdId = f!.fake.allGtts().at(-1)!.gtt_order_id;
    await f!.services.upstox!.client.cancelGtt({ userId: trader.user.id, accessToken: trader.token }, thirdId);
    const toldCancelled = () =>
      (
        f!.services.db
          .prepare("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'gtt_cancelled' AND channel = 'telegram' AND payload LIKE ?")
          .get(`%${thirdId}%`) as { n: number }
      ).n;
    expect(toldCancelled()).toBe(0);
    const listed = await say(TRADER, "/gtts");
    expect(listed.text).not.toContain(thirdId);
    await waitUntil(() => toldCancelled() === 1 || undefined, { what: "cancellation told" });
    await say(TRADER, "/gtts");
    expect(toldCancelled()).toBe(1);
  });
});
