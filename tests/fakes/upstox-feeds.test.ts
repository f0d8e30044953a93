import { readFileSync } from "node:fs";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { decodeFeedResponse, type DecodedFeed } from "../../src/upstox/feed/proto.js";
import { sleep, waitUntil } from "../support/wait.js";
import { FakeUpstox, fitWithinLimits, istMs, type FeedMode } from "./upstox/index.js";

// Wednesday 2025-01-15 10:30 IST: a normal NSE session.
const START = istMs(2025, 1, 15, 10, 30);
const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
const NIFTY = "NSE_INDEX|Nifty 50";
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const webhookFixture = JSON.parse(readFileSync(new URL("../orders/fixtures/webhook_order_update.json", import.meta.url), "utf8"));

// Bodies and updates are JSON the fake wrote; the tests assert their fields.
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let clock = START;
let fake: FakeUpstox;
let token: string;
const clients: FeedClient[] = [];

/** A plain `ws` client that keeps everything it receives. */
class FeedClient {
  readonly frames: DecodedFeed[] = [];
  readonly updates: Json[] = [];
  pings = 0;
  closeCode: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) this.frames.push(decodeFeedResponse(new Uint8Array(data), performance.now()));
      else this.updates.push(JSON.parse(data.toString("utf8")));
    });
    ws.on("ping", () => this.pings++);
    ws.on("close", (code) => (this.closeCode = code));
  }

  /** Resolves with the open client, or with the HTTP status the upgrade was refused with. */
  static connect(url: string): Promise<FeedClient | { status: number; body: Json }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new FeedClient(ws);
      ws.once("open", () => {
        clients.push(client);
        resolve(client);
      });
      ws.once("unexpected-response", (_req, res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      ws.once("error", reject);
    });
  }

  static async open(url: string): Promise<FeedClient> {
    const c = await FeedClient.connect(url);
    if (!(c instanceof FeedClient)) throw new Error(`upgrade refused with ${c.status}`);
    return c;
  }

  request(method: string, keys: string[], mode?: FeedMode): void {
    this.ws.send(Buffer.from(JSON.stringify({ guid: `g-${method}-${keys.length}`, method, data: { ...(mode ? { mode } : {}), instrumentKeys: keys } })));
  }

  /** The first frame at or after index `from` that passes `check`. */
  async frame(check: (f: DecodedFeed) => boolean, from = 0): Promise<DecodedFeed> {
    return waitUntil(() => this.frames.slice(from).find(check), { timeoutMs: 5000, what: "a matching frame" });
  }
}

const hasKey = (key: string) => (f: DecodedFeed) => f.ticks.some((t) => t.instrumentKey === key);

async function authorize(path: string, t: string | null = token): Promise<{ status: number; body: Json }> {
  const res = await request(fake.apiBase + path, { headers: { accept: "application/json", ...(t ? { authorization: `Bearer ${t}` } : {}) } });
  return { status: res.statusCode, body: await res.body.json() };
}

async function marketUrl(t: string = token): Promise<string> {
  const res = await authorize("/v3/feed/market-data-feed/authorize", t);
  expect(res.status).toBe(200);
  return res.body.data.authorized_redirect_uri as string;
}

async function portfolioUrl(types = "order,position,holding,gtt_order", t: string = token): Promise<string> {
  const res = await authorize(`/v2/feed/portfolio-stream-feed/authorize?update_types=${types}`, t);
  expect(res.status).toBe(200);
  return res.body.data.authorized_redirect_uri as string;
}

/** A market socket past its market_info frame, with `keys` subscribed and their snapshot received. */
async function subscribed(keys: string[], mode?: FeedMode): Promise<FeedClient> {
  const c = await FeedClient.open(await marketUrl());
  await c.frame((f) => f.type === "market_info");
  c.request("sub", keys, mode);
  await c.frame((f) => f.type === "initial_feed");
  return c;
}

beforeAll(async () => {
  fake = await FakeUpstox.start({ now: () => clock, instruments: 5100, pingIntervalMs: 100 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  clock += 60 * 60_000;
  token = fake.issueToken({ userId: "AB1234" });
  fake.clearFeedRequests();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await waitUntil(() => fake.feedConnections().length === 0, { what: "the fake to see every socket closed" });
});

describe("fake Upstox: market data feed", () => {
  it("authorizes a one-time ws URL, sends market_info first, a snapshot on sub, then live ticks", async () => {
    const auth = await authorize("/v3/feed/market-data-feed/authorize");
    expect(auth.status).toBe(200);
    expect(auth.body.status).toBe("success");
    const url = auth.body.data.authorized_redirect_uri as string;
    expect(url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/v3/feed/market-data-feeder\\?requestId=${UUID}&code=${UUID}$`));

    const c = await FeedClient.open(url);
    await waitUntil(() => c.frames.length >= 1);
    expect(c.frames[0]).toMatchObject({
      type: "market_info",
      ticks: [],
      segmentStatus: { NSE_EQ: "NORMAL_OPEN", NSE_FO: "NORMAL_OPEN", BSE_EQ: "NORMAL_OPEN", NSE_INDEX: "NORMAL_OPEN" },
    });
    expect(c.frames[0]!.currentTs).toBe(clock);

    fake.setPrevClose(RELIANCE, 1400);
    c.request("sub", [RELIANCE, "NSE_EQ|INE000000000"]);
    const initial = await c.frame((f) => f.type === "initial_feed");
    expect(initial.ticks.map((t) => t.instrumentKey)).toEqual([RELIANCE]);
    expect(initial.ticks[0]!.prevClose).toBe(1400);
    // ltpc mode: no volume, no bars
    expect(initial.ticks[0]!.volumeToday).toBeUndefined();
    expect(initial.ticks[0]!.minuteBars).toBeUndefined();

    clock += 1500;
    fake.setPrice(RELIANCE, 1425.5);
    const live = await c.frame((f) => f.type === "live_feed");
    expect(live.ticks).toHaveLength(1);
    expect(live.ticks[0]).toMatchObject({ instrumentKey: RELIANCE, lastPrice: 1425.5, lastTradeAt: clock, prevClose: 1400 });
    expect(live.ticks[0]!.lastQuantity).toBeGreaterThan(0);

    expect(fake.feedRequests).toEqual([
      { guid: "g-sub-2", method: "sub", mode: "ltpc", keys: [RELIANCE, "NSE_EQ|INE000000000"], userId: "AB1234", at: clock - 1500 },
    ]);
    const [conn] = fake.feedConnections();
    expect(conn).toMatchObject({ kind: "market", userId: "AB1234", protocolErrors: [], limitErrors: [] });
    expect([...conn!.subscriptions]).toEqual([[RELIANCE, "ltpc"]]);
  });

  it("needs a valid token to authorize", async () => {
    const res = await authorize("/v3/feed/market-data-feed/authorize", null);
    expect(res.status).toBe(401);
    expect(res.body.errors[0].error_code).toBe("UDAPI100050");
  });

  it("refuses a used, expired, missing or other-feed code", async () => {
    const url = await marketUrl();
    await FeedClient.open(url);
    const reused = await FeedClient.connect(url);
    expect(reused).toMatchObject({ status: 401, body: { status: "error" } });

    const late = await marketUrl();
    clock += 61_000;
    expect(await FeedClient.connect(late)).toMatchObject({ status: 401 });

    expect(await FeedClient.connect(url.replace(/&code=.*$/, ""))).toMatchObject({ status: 401 });

    const market = await marketUrl();
    const onPortfolioPath = market.replace("/v3/feed/market-data-feeder", "/v2/order-updates/feed");
    expect(await FeedClient.connect(onPortfolioPath)).toMatchObject({ status: 403 });
  });

  it("counts authorizations and upgrades", async () => {
    const before = fake.feedCounters();
    const url = await marketUrl();
    await FeedClient.open(url);
    await FeedClient.connect(url);
    expect(fake.feedCounters()).toEqual({
      ...before,
      marketAuthorizations: before.marketAuthorizations + 1,
      marketUpgrades: before.marketUpgrades + 1,
      refusedUpgrades: before.refusedUpgrades + 1,
    });
  });

  it("enforces the per-connection limits and records what it refused", async () => {
    const keys = fake.instrumentKeys().filter((k) => k.startsWith("NSE_EQ|INEGEN"));
    expect(keys.length).toBeGreaterThanOrEqual(5001);

    const ltpc = await subscribed(keys.slice(0, 5001));
    expect(ltpc.frames.find((f) => f.type === "initial_feed")!.ticks).toHaveLength(5000);
    // Mixing modes drops the LTPC limit to 2000, which 5000 already exceed: the full key is refused.
    ltpc.request("sub", [RELIANCE], "full");
    await waitUntil(() => fake.feedConnections()[0]?.limitErrors.length === 2);
    const [conn] = fake.feedConnections();
    expect(conn!.subscriptions.size).toBe(5000);
    expect(conn!.limitErrors.map((e) => [e.method, e.mode, e.refused])).toEqual([
      ["sub", "ltpc", [keys[5000]]],
      ["sub", "full", [RELIANCE]],
    ]);
    ltpc.ws.terminate();
    await waitUntil(() => fake.feedConnections().length === 0);

    // A second connection has its own budget: full alone allows 2000.
    await subscribed(keys.slice(0, 2001), "full");
    const [full] = fake.feedConnections();
    expect(full!.subscriptions.size).toBe(2000);
    expect(full!.limitErrors[0]!.refused).toEqual([keys[2000]]);
  });

  it("computes the mixed-mode limits", () => {
    const current = new Map<string, FeedMode>(Array.from({ length: 2000 }, (_, i) => [`L${i}`, "ltpc"]));
    const wanted = Array.from({ length: 1501 }, (_, i) => `F${i}`);
    expect(fitWithinLimits(current, wanted, "full")).toEqual({ accepted: wanted.slice(0, 1500), refused: ["F1500"] });
    // One more LTPC key than the mixed limit: the first full key already breaks it.
    current.set("L2000", "ltpc");
    expect(fitWithinLimits(current, ["F0"], "full")).toEqual({ accepted: [], refused: ["F0"] });
    // Moving keys to another mode frees their old slot; keys already in the mode are no-ops.
    expect(fitWithinLimits(new Map([["A", "ltpc"]]), ["A", "A"], "ltpc")).toEqual({ accepted: [], refused: [] });
    expect(fitWithinLimits(new Map([["A", "ltpc"]]), ["A"], "full")).toEqual({ accepted: ["A"], refused: [] });
    expect(fitWithinLimits(new Map(), ["B", "B", "C"], "full")).toEqual({ accepted: ["B", "C"], refused: [] });
    // Full D30 allows 50 per connection.
    const d30 = Array.from({ length: 51 }, (_, i) => `D${i}`);
    expect(fitWithinLimits(new Map(), d30, "full_d30").refused).toEqual(["D50"]);
  });

  it("stops ticks after unsub", async () => {
    const c = await subscribed([RELIANCE, TCS]);
    c.request("unsub", [RELIANCE]);
    await waitUntil(() => fake.feedRequests.some((r) => r.method === "unsub"));
    const from = c.frames.length;
    fake.setPrice(RELIANCE, 1500);
    fake.setPrice(TCS, 3500);
    await c.frame(hasKey(TCS), from);
    // Frames arrive in order: nothing for RELIANCE came before TCS's tick.
    expect(c.frames.slice(from).some(hasKey(RELIANCE))).toBe(false);
    expect([...fake.feedConnections()[0]!.subscriptions.keys()]).toEqual([TCS]);
  });

  it("brings volume, day and minute bars after change_mode to full", async () => {
    const c = await subscribed([RELIANCE, NIFTY]);
    const from = c.frames.length;
    c.request("change_mode", [RELIANCE, NIFTY, TCS], "full");
    const snapshot = await c.frame((f) => f.type === "initial_feed", from);
    // TCS was never subscribed: change_mode does not add it.
    expect(snapshot.ticks.map((t) => t.instrumentKey)).toEqual([RELIANCE, NIFTY]);

    clock += 2000;
    fake.setPrice(RELIANCE, 1433);
    const live = await c.frame((f) => f.type === "live_feed", from);
    const tick = live.ticks[0]!;
    expect(tick.lastPrice).toBe(1433);
    expect(tick.volumeToday).toBeGreaterThan(0);
    expect(tick.day!.high).toBeGreaterThanOrEqual(1433);
    expect(tick.minuteBars).toHaveLength(2);
    const [previous, current] = tick.minuteBars!;
    expect(current!.ts % 60_000).toBe(0);
    expect(current!.ts).toBeLessThanOrEqual(clock);
    expect(current!.ts - previous!.ts).toBe(60_000);
    expect(current!.close).toBe(1433);

    const index = snapshot.ticks[1]!;
    expect(index.volumeToday).toBeUndefined();
    expect(index.day).toBeDefined();
    expect(index.minuteBars).toHaveLength(2);
    expect(Object.fromEntries(fake.feedConnections()[0]!.subscriptions)).toEqual({ [RELIANCE]: "full", [NIFTY]: "full" });
  });

  it("ignores text frames and bad requests, recording them as protocol errors", async () => {
    const c = await subscribed([RELIANCE]);
    c.ws.send(JSON.stringify({ guid: "t", method: "sub", data: { instrumentKeys: [TCS] } }));
    c.ws.send(Buffer.from("{not json"));
    c.ws.send(Buffer.from(JSON.stringify({ guid: "x", method: "subscribe", data: { instrumentKeys: [TCS] } })));
    c.ws.send(Buffer.from(JSON.stringify({ guid: "y", method: "sub", data: { mode: "fullest", instrumentKeys: [TCS] } })));
    await waitUntil(() => fake.feedConnections()[0]!.protocolErrors.length === 4);
    expect(fake.feedConnections()[0]!.protocolErrors).toEqual([
      "text frame ignored: requests must be binary frames",
      "request ignored: not JSON",
      'request ignored: unknown method "subscribe"',
      'request ignored: unknown mode "fullest"',
    ]);
    expect([...fake.feedConnections()[0]!.subscriptions.keys()]).toEqual([RELIANCE]);
    // The socket still works.
    const from = c.frames.length;
    fake.setPrice(RELIANCE, 1401);
    expect((await c.frame(hasKey(RELIANCE), from)).ticks[0]!.lastPrice).toBe(1401);
  });

  it("sends ping frames", async () => {
    const c = await FeedClient.open(await marketUrl());
    await waitUntil(() => c.pings >= 2, { what: "two pings" });
  });

  it("pushes market_info when a segment's status changes", async () => {
    const c = await subscribed([RELIANCE]);
    fake.setSegmentStatus("NSE_EQ", "NORMAL_CLOSE");
    const info = await c.frame((f) => f.type === "market_info" && f.segmentStatus?.NSE_EQ === "NORMAL_CLOSE");
    expect(info.segmentStatus).toMatchObject({ NSE_FO: "NORMAL_OPEN" });
    // New sockets start with the new status.
    const d = await FeedClient.open(await marketUrl());
    expect((await d.frame((f) => f.type === "market_info")).segmentStatus!.NSE_EQ).toBe("NORMAL_CLOSE");
    fake.setSegmentStatus("NSE_EQ", "NORMAL_OPEN");
    expect(() => fake.setSegmentStatus("NSE_EQ", "LUNCH")).toThrow(/unknown segment status/);
  });

  it("drops sockets without a close frame", async () => {
    const c = await subscribed([RELIANCE]);
    fake.dropFeeds("market");
    await waitUntil(() => c.closeCode !== null);
    expect(c.closeCode).toBe(1006);
  });

  it("stalls: sends nothing, pings included, while the socket stays open", async () => {
    const c = await subscribed([RELIANCE, TCS]);
    await waitUntil(() => c.pings >= 1);
    fake.stallFeeds(600);
    await sleep(100); // anything sent before the stall has arrived
    const pings = c.pings;
    const from = c.frames.length;
    fake.setPrice(RELIANCE, 1390);
    await sleep(350);
    expect(c.pings).toBe(pings);
    expect(c.frames.length).toBe(from);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    await sleep(250);
    fake.setPrice(TCS, 3333);
    await c.frame(hasKey(TCS), from);
    expect(c.frames.slice(from).some(hasKey(RELIANCE))).toBe(false);
    await waitUntil(() => c.pings > pings);
  });

  it("refuses the next upgrades with 503 without spending their codes", async () => {
    fake.refuseFeedConnections(2);
    const url = await marketUrl();
    expect(await FeedClient.connect(url)).toMatchObject({ status: 503 });
    expect(await FeedClient.connect(url)).toMatchObject({ status: 503 });
    expect(await FeedClient.connect(url)).toBeInstanceOf(FeedClient);
  });
});

describe("fake Upstox: auto ticks and close", () => {
  it("ticks subscribed instruments along the price path when asked, and close() ends the sockets", async () => {
    const auto = await FakeUpstox.start({ now: () => clock, autoTicks: { everyMs: 30 } });
    try {
      const t = auto.issueToken();
      const res = await request(`${auto.apiBase}/v3/feed/market-data-feed/authorize`, { headers: { authorization: `Bearer ${t}` } });
      const body: Json = await res.body.json();
      const c = await FeedClient.open(body.data.authorized_redirect_uri);
      c.request("sub", [RELIANCE, TCS], "full");
      const live = await c.frame((f) => f.type === "live_feed");
      expect(live.ticks.map((x) => x.instrumentKey).sort()).toEqual([RELIANCE, TCS]);
      expect(live.ticks[0]!.lastPrice).toBe(auto.getPrice(live.ticks[0]!.instrumentKey));
      expect(live.ticks[0]!.minuteBars).toHaveLength(2);

      await auto.close();
      await waitUntil(() => c.closeCode !== null, { what: "the socket to close" });
    } finally {
      await auto.close();
    }
  });
});

describe("fake Upstox: portfolio stream feed", () => {
  const placeLimit = async (t = token) => {
    const res = await request(`${fake.hftBase}/v3/order/place`, {
      method: "POST",
      headers: { authorization: `Bearer ${t}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        instrument_token: RELIANCE,
        quantity: 1,
        product: "D",
        validity: "DAY",
        price: 1300,
        order_type: "LIMIT",
        transaction_type: "BUY",
      }),
    });
    const body: Json = await res.body.json();
    expect(res.statusCode).toBe(200);
    return body.data.order_ids[0] as string;
  };

  it("authorizes with both URI spellings and pushes one update per order status change", async () => {
    const auth = await authorize("/v2/feed/portfolio-stream-feed/authorize?update_types=order,position,holding,gtt_order");
    expect(auth.status).toBe(200);
    const url = auth.body.data.authorized_redirect_uri as string;
    expect(auth.body.data.authorizedRedirectUri).toBe(url);
    expect(url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/v2/order-updates/feed\\?requestId=${UUID}&code=${UUID}$`));

    const mine = await FeedClient.open(url);
    const other = await FeedClient.open(await portfolioUrl("order", fake.issueToken({ userId: "ZZ9999" })));
    const positionsOnly = await FeedClient.open(await portfolioUrl("position"));
    expect(fake.feedConnections().map((c) => [c.kind, c.userId, c.updateTypes])).toEqual([
      ["portfolio", "AB1234", ["order", "position", "holding", "gtt_order"]],
      ["portfolio", "ZZ9999", ["order"]],
      ["portfolio", "AB1234", ["position"]],
    ]);

    const orderId = await placeLimit();
    await waitUntil(() => mine.updates.length === 1);
    expect(mine.updates[0]).toMatchObject({
      update_type: "order",
      user_id: "AB1234",
      userId: "AB1234",
      order_id: orderId,
      status: "open",
      instrument_key: RELIANCE,
    });
    expect(Object.keys(mine.updates[0])).toEqual(Object.keys(webhookFixture));

    clock += 5000;
    fake.setOrderStatus(orderId, "complete", { averagePrice: 1299.5 });
    // A sentinel after it: everything before the sentinel is what the status change sent.
    fake.pushPortfolioUpdate({ update_type: "order", sentinel: true }, "AB1234");
    await waitUntil(() => mine.updates.some((u) => u.sentinel));
    expect(mine.updates.slice(1, -1)).toHaveLength(1);
    expect(mine.updates[1]).toMatchObject({ order_id: orderId, status: "complete", filled_quantity: 1, pending_quantity: 0, average_price: 1299.5 });

    // Another user's socket and a socket without `order` got nothing.
    const positions = fake.pushPortfolioUpdate({ update_type: "position", instrument_token: RELIANCE, quantity: 1 }, "AB1234");
    expect(positions).toBe(2);
    await waitUntil(() => positionsOnly.updates.length === 1);
    expect(positionsOnly.updates).toEqual([{ update_type: "position", instrument_token: RELIANCE, quantity: 1 }]);
    expect(other.updates).toEqual([]);
    expect(fake.pushPortfolioUpdate({ update_type: "order", sentinel: true })).toBe(2);
    await waitUntil(() => other.updates.length === 1);
    expect(other.updates[0]).toEqual({ update_type: "order", sentinel: true });
  });

  it("rejects unknown update types with an Upstox error", async () => {
    const res = await authorize("/v2/feed/portfolio-stream-feed/authorize?update_types=order,trades");
    expect(res.status).toBe(400);
    expect(res.body.status).toBe("error");
    expect(res.body.errors[0].property_path).toBe("update_types");
  });

  it("defaults to order updates and drops only the portfolio sockets when asked", async () => {
    const res = await authorize("/v2/feed/portfolio-stream-feed/authorize");
    const portfolio = await FeedClient.open(res.body.data.authorized_redirect_uri);
    const market = await subscribed([RELIANCE]);
    expect(fake.feedConnections().find((c) => c.kind === "portfolio")!.updateTypes).toEqual(["order"]);
    fake.dropFeeds("portfolio");
    await waitUntil(() => portfolio.closeCode !== null);
    expect(portfolio.closeCode).toBe(1006);
    expect(market.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("does not push order updates when started with pushOrderUpdates: false", async () => {
    const quiet = await FakeUpstox.start({ now: () => clock, pushOrderUpdates: false });
    try {
      const t = quiet.issueToken({ userId: "AB1234" });
      const res = await request(`${quiet.apiBase}/v2/feed/portfolio-stream-feed/authorize?update_types=order`, { headers: { authorization: `Bearer ${t}` } });
      const c = await FeedClient.open(((await res.body.json()) as Json).data.authorized_redirect_uri);
      const placed = await request(`${quiet.hftBase}/v2/order/place`, {
        method: "POST",
        headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
        body: JSON.stringify({ instrument_token: RELIANCE, quantity: 1, product: "D", validity: "DAY", order_type: "MARKET", transaction_type: "BUY" }),
      });
      const orderId = ((await placed.body.json()) as Json).data.order_id as string;
      quiet.setOrderStatus(orderId, "complete");
      quiet.pushPortfolioUpdate({ update_type: "order", sentinel: true });
      await waitUntil(() => c.updates.length > 0);
      expect(c.updates).toEqual([{ update_type: "order", sentinel: true }]);
    } finally {
      await quiet.close();
    }
  });
});
