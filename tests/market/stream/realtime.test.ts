import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PollQuotesResult } from "../../../jobs/poll-quotes.js";
import type { UpstoxSession } from "../../../src/upstox/token-store.js";
import { FakeTelegram } from "../../fakes/telegram/index.js";
import { getJson } from "../../support/app.js";
import { startAppFixture, type AppFixture, type LinkedTrader } from "../../support/fixture.js";
import { runJob } from "../../support/queues.js";
import { sleep, waitUntil } from "../../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const INFY = "NSE_EQ|INE009A01021";
const SECRET = "postback-secret-0123456789";
const CHAT = 777_001;
const orderTemplate = JSON.parse(readFileSync(new URL("../../orders/fixtures/webhook_order_update.json", import.meta.url), "utf8")) as Record<string, unknown>;

interface FeedHealth {
  name: string;
  ok: boolean;
  status: string;
  subscribed: number;
  reconnectsToday: number;
}

/**
 * The real-time path over the wire: the fake Upstox's market and portfolio WebSocket feeds
 * (protobuf frames from the real proto, JSON order updates), the app in stream mode on real
 * Redis and SQLite, alerts out through the fake Telegram and a real SMTP server. The test
 * drives REST polls itself, so which source told what is never left to timing.
 */
describe("real-time feeds", () => {
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
        POLL_INTERVAL: "15",
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        UPSTOX_WEBHOOK_SECRET: SECRET,
      },
      takeOver: ["poll-quotes", "fetch-candles", "order-sync"],
      delivery: { attempts: 2, backoffMs: 50 },
    });
    f.fake.setPrice(RELIANCE, 1490);
    trader = f.linkTrader({
      telegramId: CHAT,
      email: "rt@example.com",
      channels: "both",
      upstoxUserId: "UPXRT",
      watch: [RELIANCE],
      rules: [{ instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1500 }, frequency: "every", cooldownSeconds: 0 }],
    });
    await feedLive();
  });

  afterEach(async () => {
    await f.close();
    await tg.close();
  });

  const marketFeed = async () => {
    const res = await getJson(`${f.baseUrl}/healthz`);
    const feeds = (res.body as { checks: { feeds?: FeedHealth[] } }).checks.feeds ?? [];
    return feeds.find((x) => x.name === "upstox-market");
  };
  /** The market feed connected and subscribed to what the trader watches. */
  const feedLive = (subscribed = 1) =>
    waitUntil(
      async () => {
        const m = await marketFeed();
        return m?.ok && m.subscribed >= subscribed ? m : undefined;
      },
      { what: "the market feed live", timeoutMs: 15_000 },
    );
  const alerts = () => tg.sentTo(CHAT).filter((m) => m.method === "sendMessage" && /RELIANCE/.test(m.text ?? ""));
  const signals = () => f.services.db.prepare("SELECT COUNT(*) AS n FROM signals").get() as { n: number };
  const poll = () => runJob<PollQuotesResult>(f.services.queues["poll-quotes"]);

  it("a tick across the level is a Telegram alert at once, with no REST call", async () => {
    const quoteCalls = f.fake.requestsTo("/v2/market-quote").length + f.fake.requestsTo("/v3/market-quote").length;
    const t0 = Date.now();
    f.fake.setPrice(RELIANCE, 1502.5);
    const [msg] = await tg.waitForMessages(CHAT, 1, 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(msg!.text).toMatch(/RELIANCE/);
    expect(msg!.text).toMatch(/1,502\.50/);
    expect(f.fake.requestsTo("/v2/market-quote").length + f.fake.requestsTo("/v3/market-quote").length).toBe(quoteCalls);
    // The poll leaves streamed instruments to the stream.
    expect((await poll()).result).toEqual({ skipped: "streaming" });
    expect(signals().n).toBe(1);
  });

  it("a crossing between two polls is caught, once", async () => {
    // Up through the level and back within a second: two REST polls 15 s apart would see 1490 both times.
    f.fake.setPrice(RELIANCE, 1501);
    await sleep(300);
    f.fake.setPrice(RELIANCE, 1490);
    await tg.waitForMessages(CHAT, 1, 5_000);
    await sleep(1_200);
    expect(alerts()).toHaveLength(1);
    expect(signals().n).toBe(1);
  });

  it("the socket drops: REST takes over, the socket comes back, and no alert is lost or doubled", async () => {
    const authorizationsBefore = f.fake.requestsTo("/v3/feed/market-data-feed/authorize").length;
    // Let the stream publish the last price (REST measures its first crossing from it).
    await sleep(1_200);
    f.fake.refuseFeedConnections(1_000);
    f.fake.dropFeeds("market");
    await waitUntil(async () => ((await marketFeed())?.ok === false ? true : undefined), { what: "the feed seen down", timeoutMs: 10_000 });
    expect((await f.services.feedStatus.liveCoverage(Date.now(), 3_000)) ?? "none").toBe("none");

    // REST's turn: the crossing during the outage is told by the poll.
    f.fake.setPrice(RELIANCE, 1504);
    const fallback = await poll();
    expect(fallback.result).toMatchObject({ instruments: 1, quotes: 1, fired: 1 });
    await tg.waitForMessages(CHAT, 1, 5_000);

    // The socket comes back (a fresh one-time authorization): its snapshot at 1504 is no new crossing.
    f.fake.refuseFeedConnections(0);
    await feedLive();
    expect(f.fake.requestsTo("/v3/feed/market-data-feed/authorize").length).toBeGreaterThan(authorizationsBefore);
    f.fake.setPrice(RELIANCE, 1506);
    await sleep(800);
    expect((await poll()).result).toEqual({ skipped: "streaming" });
    expect(alerts()).toHaveLength(1);

    // Re-armed below the level and up again over the stream: told, not missed.
    f.fake.setPrice(RELIANCE, 1480);
    await sleep(400);
    f.fake.setPrice(RELIANCE, 1503);
    await tg.waitForMessages(CHAT, 2, 5_000);
    await sleep(500);
    expect(alerts()).toHaveLength(2);
    expect(signals().n).toBe(2);
    expect((await marketFeed())!.reconnectsToday).toBeGreaterThanOrEqual(1);
  });

  it("a stalled socket is reconnected by the watchdog", async () => {
    const authorize = () => f.fake.requestsTo("/v3/feed/market-data-feed/authorize").length;
    const before = authorize();
    f.fake.stallFeeds(8_000, "market");
    await waitUntil(() => (authorize() > before ? true : undefined), { what: "a new authorization after the stall", timeoutMs: 10_000 });
    await feedLive();
    f.fake.setPrice(RELIANCE, 1501);
    await tg.waitForMessages(CHAT, 1, 5_000);
  });

  it("/watch adds a subscription on the open socket within a second", async () => {
    const connections = f.fake.feedConnections().filter((c) => c.kind === "market").length;
    await tg.sendText({ id: CHAT, first_name: "Ravi" }, "/watch INFY");
    const t0 = Date.now();
    await waitUntil(() => (f.fake.feedRequests.some((r) => r.method === "sub" && r.keys.includes(INFY)) ? true : undefined), {
      what: "a subscription for INFY",
      timeoutMs: 5_000,
    });
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(f.fake.feedConnections().filter((c) => c.kind === "market")).toHaveLength(connections);
    await feedLive(2);
  });

  it("an order update on the portfolio stream is one confirmation by Telegram and email; the same by postback adds nothing", async () => {
    const session: UpstoxSession = { userId: trader.user.id, accessToken: trader.token };
    await waitUntil(() => (f.fake.feedConnections().some((c) => c.kind === "portfolio") ? true : undefined), { what: "the portfolio socket" });
    const { orderIds } = await f.services.upstox!.client.placeOrder(session, {
      instrumentKey: RELIANCE,
      quantity: 5,
      transactionType: "BUY",
      orderType: "LIMIT",
      product: "D",
      price: 1480,
      tag: "rt-1",
    });
    const orderId = orderIds[0]!;
    const kinds = () =>
      (
        f.services.db.prepare("SELECT kind, channel FROM notifications WHERE kind LIKE 'order_%' ORDER BY id").all() as Array<{ kind: string; channel: string }>
      ).map((r) => `${r.kind}:${r.channel}`);
    f.fake.setOrderStatus(orderId, "complete", { filledQuantity: 5, averagePrice: 1479.95 });
    await waitUntil(() => (kinds().some((k) => k.startsWith("order_filled")) ? true : undefined), { what: "the fill told", timeoutMs: 5_000 });
    const told = kinds();
    expect(told.filter((k) => k.startsWith("order_filled")).sort()).toEqual(["order_filled:email", "order_filled:telegram"]);
    // Rows pending together for one chat may go as one message: the fill is in one of them.
    await waitUntil(() => (tg.sentTo(CHAT).some((m) => /filled/i.test(m.text ?? "") && /1,479\.95/.test(m.text ?? "")) ? true : undefined), {
      what: "the fill on Telegram",
      timeoutMs: 5_000,
    });
    const mails = await f.smtp.waitForMessages(told.filter((k) => k.endsWith(":email")).length);
    expect(mails.some((m) => /1,479\.95/.test(m.parsed.text ?? ""))).toBe(true);

    // The same transition by postback, then by the order-book poll: nothing more.
    const postback = await fetch(`${f.baseUrl}/upstox/orders/${SECRET}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        ...orderTemplate,
        user_id: "UPXRT",
        userId: "UPXRT",
        order_id: orderId,
        instrument_key: RELIANCE,
        instrument_token: RELIANCE,
        trading_symbol: "RELIANCE-EQ",
        quantity: 5,
        price: 1480,
        order_type: "LIMIT",
        transaction_type: "BUY",
        product: "D",
        status: "complete",
        filled_quantity: 5,
        pending_quantity: 0,
        average_price: 1479.95,
      }),
    });
    expect(postback.status).toBe(200);
    await runJob(f.services.queues["order-sync"]);
    expect(kinds()).toEqual(told);
  });

  it("/metrics counts ticks and reconnects; the other feed states show in /healthz", async () => {
    f.fake.setPrice(RELIANCE, 1495);
    await sleep(1_200);
    const metrics = await (await fetch(`${f.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/uab_feed_ticks_total\{feed="upstox-market"\} [1-9]/);
    expect(metrics).toMatch(/uab_feed_connected\{feed="upstox-market"\} 1/);
    expect(metrics).toMatch(/uab_tick_to_outbox_seconds_count [1-9]/);
    const body = (await getJson(`${f.baseUrl}/healthz`)).body as { status: string; checks: { feeds: FeedHealth[]; marketPoll: { state: string } } };
    expect(body.status).toBe("ok");
    expect(body.checks.feeds.map((x) => x.name)).toEqual(["upstox-market", "upstox-portfolio"]);
    expect(body.checks.marketPoll.state).toBe("streaming");
  });
});
