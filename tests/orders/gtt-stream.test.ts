import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UpstoxSession } from "../../src/upstox/token-store.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { startAppFixture, type AppFixture, type LinkedTrader } from "../support/fixture.js";
import { sleep, waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const SECRET = "postback-secret-0123456789";
const CHAT = 777_202;

/**
 * GTT updates on the portfolio stream: the fake Upstox pushes gtt_order messages to the
 * linked trader's socket as the GTT moves, the app in stream mode tells each transition once,
 * and the same update by postback afterwards tells nothing more.
 */
describe("GTT updates on the portfolio stream", () => {
  let f: AppFixture;
  let tg: FakeTelegram;
  let trader: LinkedTrader;

  beforeEach(async () => {
    tg = await FakeTelegram.start();
    f = await startAppFixture({
      upstox: true,
      env: {
        MARKET_DATA_MODE: "stream",
        SIMULATOR_ALWAYS_OPEN: "true",
        FEED_STALL_SECONDS: "3",
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        UPSTOX_WEBHOOK_SECRET: SECRET,
      },
      takeOver: ["poll-quotes", "fetch-candles", "order-sync"],
      delivery: { attempts: 2, backoffMs: 50 },
    });
    trader = f.linkTrader({ telegramId: CHAT, email: "gtt-stream@example.com", channels: "both", upstoxUserId: "UPXGS" });
    await waitUntil(() => (f.fake.feedConnections().some((c) => c.kind === "portfolio" && c.userId === "UPXGS") ? true : undefined), {
      what: "the trader's portfolio socket",
      timeoutMs: 15_000,
    });
  });

  afterEach(async () => {
    await f.close();
    await tg.close();
  });

  const gttRows = () =>
    (
      f.services.db.prepare("SELECT kind, channel FROM notifications WHERE kind LIKE 'gtt_%' ORDER BY id").all() as Array<{ kind: string; channel: string }>
    ).map((r) => `${r.kind}:${r.channel}`);
  /** Telegram may send rows pending together for one chat as one message: count the GTT lines. */
  const triggeredLines = () => tg.sentTo(CHAT).flatMap((m) => (m.text ?? "").split("\n").filter((l) => l.includes("GTT triggered")));

  it("a GTT placed in Upstox's app and triggered is one message by Telegram and email; the same by postback adds nothing", async () => {
    const session: UpstoxSession = { userId: trader.user.id, accessToken: trader.token };
    // Placed outside the bot: it is first seen on the trader's stream, which makes it theirs.
    const [id] = await f.services.upstox!.client.placeGtt(session, {
      type: "SINGLE",
      quantity: 5,
      product: "D",
      instrumentKey: RELIANCE,
      transactionType: "BUY",
      rules: [{ strategy: "ENTRY", triggerType: "BELOW", triggerPrice: 1480 }],
    });
    const child = f.fake.triggerGtt(id!);
    await waitUntil(() => (gttRows().length >= 2 ? true : undefined), { what: "the trigger told", timeoutMs: 5_000 });
    expect(f.services.gtts.owner(id!)).toBe(trader.user.id);

    await waitUntil(() => (triggeredLines().length >= 1 ? true : undefined), { what: "the trigger on Telegram", timeoutMs: 5_000 });
    expect(triggeredLines()).toEqual([`🎯 GTT triggered: BUY 5 ${RELIANCE}, trigger below ₹1,480.00 (delivery)`]);
    // Told at TRIGGERED, before Upstox named the child order; its COMPLETED adds nothing, and the
    // child order itself is told by the order flow.
    expect(tg.sentTo(CHAT).some((m) => (m.text ?? "").includes("Its order is on the way to the exchange; the fill is told separately."))).toBe(true);
    expect(f.services.gtts.get(id!)!.rules[0]).toMatchObject({ status: "COMPLETED", orderId: child.order_id });
    await waitUntil(() => (f.smtp.messages.some((m) => m.parsed.subject?.startsWith("GTT triggered")) ? true : undefined), {
      what: "the trigger by email",
      timeoutMs: 5_000,
    });

    // Upstox also posts it (GTT postbacks are opt-in): nothing more.
    const res = await fetch(`${f.baseUrl}/upstox/orders/${SECRET}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(f.fake.gttUpdatePayload(id!)),
    });
    expect(res.status).toBe(200);
    await sleep(700);
    expect(gttRows().sort()).toEqual(["gtt_triggered:email", "gtt_triggered:telegram"]);
    expect(triggeredLines()).toHaveLength(1);
    expect(f.smtp.messages.filter((m) => m.parsed.subject?.startsWith("GTT"))).toHaveLength(1);
  });

  it("a GTT the trader cancels on Upstox is told once", async () => {
    const session: UpstoxSession = { userId: trader.user.id, accessToken: trader.token };
    const [id] = await f.services.upstox!.client.placeGtt(session, {
      type: "MULTIPLE",
      quantity: 5,
      product: "I",
      instrumentKey: RELIANCE,
      transactionType: "SELL",
      rules: [
        { strategy: "ENTRY", triggerType: "ABOVE", triggerPrice: 1520 },
        { strategy: "STOPLOSS", triggerType: "IMMEDIATE", triggerPrice: 1540 },
      ],
    });
    await f.services.upstox!.client.cancelGtt(session, id!);
    await waitUntil(() => (gttRows().length >= 2 ? true : undefined), { what: "the cancellation told", timeoutMs: 5_000 });
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe(`GTT cancelled: SELL 5 ${RELIANCE}`);
    expect(mail!.parsed.text).toContain("Entry above ₹1,520.00 and stop-loss at ₹1,540.00");
    await sleep(500);
    expect(gttRows().sort()).toEqual(["gtt_cancelled:email", "gtt_cancelled:telegram"]);
  });
});
