import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UpstoxSession } from "../../src/upstox/token-store.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const SECRET = "postback-secret-0123456789";
const template = JSON.parse(readFileSync(new URL("./fixtures/webhook_order_update.json", import.meta.url), "utf8")) as Record<string, unknown>;

/**
 * Order confirmations from both sources, the Upstox postback and polling of the order book,
 * over real HTTP, Redis, SQLite and SMTP: each transition is told exactly once.
 */
describe("order confirmations", () => {
  let f: AppFixture;
  let now: number;
  let session: UpstoxSession;

  const postback = (order: Record<string, unknown>, path = `/upstox/orders/${SECRET}`) =>
    fetch(`${f.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...template, ...order }),
    });
  const kinds = () =>
    (f.services.db.prepare("SELECT kind FROM notifications WHERE kind LIKE 'order_%' ORDER BY id").all() as Array<{ kind: string }>).map((r) => r.kind);

  beforeEach(async () => {
    now = Date.parse("2025-01-15T10:30:00+05:30");
    f = await startAppFixture({
      clock: () => now,
      upstox: true,
      env: { UPSTOX_WEBHOOK_SECRET: SECRET },
      delivery: { attempts: 2, backoffMs: 50 },
    });
    const { user, token } = f.linkTrader({ telegramId: 5, email: "orders@example.com", upstoxUserId: "UPX5" });
    session = { userId: user.id, accessToken: token };
  });

  afterEach(() => f.close());

  it("tells placed and filled once each, although the postback and the poll both report them", async () => {
    const { orderIds } = await f.services.upstox!.client.placeOrder(session, {
      instrumentKey: RELIANCE,
      quantity: 10,
      transactionType: "BUY",
      orderType: "LIMIT",
      product: "D",
      price: 1400,
      tag: "uab-1",
    });
    const orderId = orderIds[0]!;
    const base = {
      user_id: "UPX5",
      userId: "UPX5",
      order_id: orderId,
      instrument_token: RELIANCE,
      instrument_key: RELIANCE,
      trading_symbol: "RELIANCE-EQ",
      tradingsymbol: "RELIANCE-EQ",
      quantity: 10,
      price: 1400,
      order_type: "LIMIT",
      transaction_type: "BUY",
      product: "D",
    };
    expect((await postback({ ...base, status: "open", filled_quantity: 0, pending_quantity: 10 })).status).toBe(200);
    await runJob(f.services.queues["order-sync"]);
    await postback({ ...base, status: "open", filled_quantity: 0, pending_quantity: 10 });
    expect(kinds()).toEqual(["order_placed"]);

    f.fake.setOrderStatus(orderId, "open", { filledQuantity: 4, averagePrice: 1399.8 });
    await runJob(f.services.queues["order-sync"]);
    await postback({ ...base, status: "open", filled_quantity: 4, pending_quantity: 6, average_price: 1399.8 });
    f.fake.setOrderStatus(orderId, "complete", { filledQuantity: 10, averagePrice: 1399.9 });
    await postback({ ...base, status: "complete", filled_quantity: 10, pending_quantity: 0, average_price: 1399.9 });
    await runJob(f.services.queues["order-sync"]);
    // A late, older postback changes nothing.
    await postback({ ...base, status: "open", filled_quantity: 4, pending_quantity: 6 });
    expect(kinds()).toEqual(["order_placed", "order_partially_filled", "order_filled"]);

    const mails = await f.smtp.waitForMessages(3);
    const subjects = mails.map((m) => m.parsed.subject).join(" | ");
    expect(subjects).toMatch(/RELIANCE/);
    expect(mails.some((m) => /1,399\.90/.test(m.parsed.text ?? ""))).toBe(true);
  });

  it("tells a rejection with Upstox's reason, and refuses postbacks without the secret", async () => {
    const rejected = {
      user_id: "UPX5",
      order_id: "REJ-1",
      instrument_token: RELIANCE,
      trading_symbol: "RELIANCE-EQ",
      quantity: 1500,
      order_type: "SL-M",
      transaction_type: "SELL",
      product: "I",
      status: "rejected",
      filled_quantity: 0,
      status_message: "You need to add Rs. 138385.27 in your account to place this trade.",
    };
    expect((await postback(rejected)).status).toBe(200);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.text).toContain("You need to add Rs. 138385.27");
    expect((await postback(rejected, "/upstox/orders/not-the-secret-000000")).status).toBe(404);
    expect((await fetch(`${f.baseUrl}/upstox/orders/${SECRET}`, { method: "POST", body: "not json" })).status).toBe(400);
    expect((await postback({ update_type: "gtt_order", user_id: "UPX5" })).status).toBe(200);
    expect(kinds()).toEqual(["order_rejected"]);
  });
});
