import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { snapshotFromGtt } from "../../src/orders/gtt-update.js";
import type { UpstoxSession } from "../../src/upstox/token-store.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { startAppFixture, type AppFixture, type LinkedTrader } from "../support/fixture.js";
import { sleep } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const SECRET = "postback-secret-0123456789";
const CHAT = 777_201;

/**
 * GTT updates by Upstox's postback, over real HTTP, SQLite, Redis, the fake Telegram and
 * SMTP: a GTT the bot knows is told once per transition however often Upstox posts it.
 */
describe("GTT postbacks", () => {
  let f: AppFixture;
  let tg: FakeTelegram;
  let trader: LinkedTrader;
  let session: UpstoxSession;

  beforeEach(async () => {
    tg = await FakeTelegram.start();
    f = await startAppFixture({
      upstox: true,
      env: { UPSTOX_WEBHOOK_SECRET: SECRET, TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot },
      delivery: { attempts: 2, backoffMs: 50 },
    });
    trader = f.linkTrader({ telegramId: CHAT, email: "gtt@example.com", channels: "both", upstoxUserId: "UPXGTT" });
    session = { userId: trader.user.id, accessToken: trader.token };
  });

  afterEach(async () => {
    await f.close();
    await tg.close();
  });

  const postback = (body: unknown, secret = SECRET) =>
    fetch(`${f.baseUrl}/upstox/orders/${secret}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const gttRows = () =>
    (
      f.services.db.prepare("SELECT kind, channel FROM notifications WHERE kind LIKE 'gtt_%' ORDER BY id").all() as Array<{ kind: string; channel: string }>
    ).map((r) => `${r.kind}:${r.channel}`);
  const gttMessages = () => tg.sentTo(CHAT).filter((m) => /GTT/.test(m.text ?? ""));

  /** Places a two-leg GTT on the fake and stores it as the bot's /gtt confirm does. */
  async function placeKnownGtt(): Promise<string> {
    const [id] = await f.services.upstox!.client.placeGtt(session, {
      type: "MULTIPLE",
      quantity: 10,
      product: "D",
      instrumentKey: RELIANCE,
      transactionType: "BUY",
      rules: [
        { strategy: "ENTRY", triggerType: "ABOVE", triggerPrice: 1500 },
        { strategy: "TARGET", triggerType: "IMMEDIATE", triggerPrice: 1600 },
        { strategy: "STOPLOSS", triggerType: "IMMEDIATE", triggerPrice: 1450 },
      ],
    });
    const [gtt] = await f.services.upstox!.client.getGtts(session, id);
    f.services.gtts.upsert(trader.user.id, snapshotFromGtt(gtt!));
    return id!;
  }

  it("a triggered GTT posted twice is one message on Telegram and one email", async () => {
    const id = await placeKnownGtt();
    const child = f.fake.triggerGtt(id);
    const update = f.fake.gttUpdatePayload(id);
    for (let i = 0; i < 2; i++) {
      const res = await postback(update);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    }
    expect(gttRows().sort()).toEqual(["gtt_triggered:email", "gtt_triggered:telegram"]);

    const [msg] = await tg.waitForMessages(CHAT, 1);
    // The update carries no symbol: the one stored when the GTT was placed is used.
    expect(msg!.text).toContain("GTT triggered (entry leg): BUY 10 RELIANCE, trigger above ₹1,500.00 (delivery)");
    expect(msg!.text).toContain(`Order ${child.order_id} went to the exchange`);
    expect(msg!.text).toContain("Other legs: target at ₹1,600.00 still waiting; stop-loss at ₹1,450.00 still waiting.");
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("GTT triggered (entry leg): BUY 10 RELIANCE, trigger above ₹1,500.00");

    // The target completes (one-cancels-other), posted twice as well: one more message, no cancellation.
    f.fake.triggerGtt(id, { strategy: "TARGET" });
    await postback(f.fake.gttUpdatePayload(id));
    await postback(f.fake.gttUpdatePayload(id));
    await tg.waitForMessages(CHAT, 2);
    await f.smtp.waitForMessages(2);
    await sleep(500);
    expect(gttRows().sort()).toEqual(["gtt_triggered:email", "gtt_triggered:email", "gtt_triggered:telegram", "gtt_triggered:telegram"]);
    expect(gttMessages().map((m) => (m.text ?? "").split("\n")[0])).toEqual([
      "🎯 GTT triggered (entry leg): BUY 10 RELIANCE, trigger above ₹1,500.00 (delivery)",
      "🎯 GTT triggered (target leg): SELL 10 RELIANCE, trigger at ₹1,600.00 (delivery)",
    ]);
    expect(f.smtp.messages).toHaveLength(2);
  });

  it("a failed entry is told with Upstox's reason", async () => {
    const id = await placeKnownGtt();
    f.fake.triggerGtt(id, { fail: "The price set should be within the circuit limits. Please modify your order price." });
    expect((await postback(f.fake.gttUpdatePayload(id))).status).toBe(200);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.text).toContain(
      "GTT failed (entry leg): BUY 10 RELIANCE, trigger above ₹1,500.00 — Upstox: The price set should be within the circuit limits.",
    );
    expect(gttRows().sort()).toEqual(["gtt_failed:email", "gtt_failed:telegram"]);
  });

  it("acknowledges a GTT nobody here owns and one it cannot read, telling nobody; refuses a wrong secret", async () => {
    const [id] = await f.services.upstox!.client.placeGtt(session, {
      type: "SINGLE",
      quantity: 1,
      product: "D",
      instrumentKey: RELIANCE,
      transactionType: "BUY",
      rules: [{ strategy: "ENTRY", triggerType: "BELOW", triggerPrice: 1300 }],
    });
    f.fake.triggerGtt(id!);
    const unknown = await postback(f.fake.gttUpdatePayload(id!));
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toEqual({ ignored: "unknown gtt" });
    expect(f.services.gtts.get(id!)).toBeUndefined();

    const unreadable = await postback({ update_type: "gtt_order", gtt_order_id: "GTT-1", rules: [] });
    expect(unreadable.status).toBe(200);
    expect(await unreadable.json()).toEqual({ ignored: "unreadable gtt_order" });

    expect((await postback(f.fake.gttUpdatePayload(id!), "not-the-secret-000000")).status).toBe(404);
    expect(gttRows()).toEqual([]);
  });
});
