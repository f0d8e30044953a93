import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { createLogger } from "../../src/log/logger.js";
import type { FeedState } from "../../src/market/types.js";
import { UpstoxClient } from "../../src/upstox/client.js";
import { feedAuthorizeSchema } from "../../src/upstox/schemas.js";
import { PortfolioStreams, type PortfolioStreamsOptions, type PortfolioUser } from "../../src/upstox/feed/portfolio-feed.js";
import type { UpstoxSession } from "../../src/upstox/token-store.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { sleep, waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";

function capturingLog() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", format: "json", destination: { write: (l: string) => void lines.push(l) } }) };
}

describe("PortfolioStreams over the fake Upstox", () => {
  let fake: FakeUpstox;
  let client: UpstoxClient;
  let sessions: Map<number, UpstoxSession>;
  let streams: PortfolioStreams[];
  const { lines, log } = capturingLog();

  const user = (userId: number): PortfolioUser => ({ userId, session: () => sessions.get(userId) });
  const start = (extra: Partial<PortfolioStreamsOptions> = {}) => {
    const updates: Array<[number, Record<string, unknown>]> = [];
    const states: FeedState[] = [];
    const s = new PortfolioStreams({
      client,
      log,
      onUpdate: (userId, update) => updates.push([userId, update]),
      onStateChange: (st) => states.push(st),
      stallMs: 5_000,
      backoff: { initialMs: 20, maxMs: 80 },
      random: () => 1,
      ...extra,
    });
    streams.push(s);
    return { s, updates, states };
  };
  const portfolioConnections = () => fake.feedConnections().filter((c) => c.kind === "portfolio");

  beforeAll(async () => {
    fake = await FakeUpstox.start({ pingIntervalMs: 50 });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    streams = [];
    lines.length = 0;
    sessions = new Map([
      [7, { userId: 7, accessToken: fake.issueToken({ userId: "UPX7" }) }],
      [8, { userId: 8, accessToken: fake.issueToken({ userId: "UPX8" }) }],
    ]);
    client = new UpstoxClient({ apiBase: fake.apiBase, hftBase: fake.hftBase, assetsBase: fake.apiBase, log, transport: { backoffMs: 20, timeoutMs: 2000 } });
  });
  afterEach(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await client.close();
    await waitUntil(() => portfolioConnections().length === 0, { what: "the fake's portfolio sockets closed" });
  });

  it("streams each user's updates to onUpdate with our user id, once", async () => {
    const { s, updates } = start();
    s.setUsers([user(7), user(8)]);
    await waitUntil(() => s.state().status === "connected" && s.state().subscribed === 2, { what: "both users connected" });
    const conns = portfolioConnections();
    expect(conns.map((c) => c.userId).sort()).toEqual(["UPX7", "UPX8"]);
    for (const c of conns) expect(c.updateTypes).toEqual(["order", "position", "holding", "gtt_order"]);

    expect(fake.pushPortfolioUpdate({ update_type: "position", instrument_token: RELIANCE, quantity: 5 }, "UPX8")).toBe(1);
    await waitUntil(() => updates.length === 1);
    expect(updates[0]).toEqual([8, { update_type: "position", instrument_token: RELIANCE, quantity: 5 }]);

    // An order placed through the API: the fake pushes its update to the placer's stream.
    const placed = await client.placeOrder(sessions.get(7)!, {
      instrumentKey: RELIANCE,
      quantity: 1,
      transactionType: "BUY",
      orderType: "LIMIT",
      product: "D",
      price: 1300,
      tag: "feed-test-1",
    });
    await waitUntil(() => updates.length === 2, { what: "the order update" });
    expect(updates[1]![0]).toBe(7);
    expect(updates[1]![1]).toMatchObject({ update_type: "order", order_id: placed.orderIds[0], tag: "feed-test-1", user_id: "UPX7" });
    await sleep(100);
    expect(updates).toHaveLength(2);
    expect(s.state()).toMatchObject({ name: "upstox-portfolio", decodeErrors: 0, overLimit: 0 });
    expect(s.state().lastMessageAt).not.toBeNull();
  });

  it("adds and removes users' sockets as the user set changes", async () => {
    const { s } = start();
    s.setUsers([user(7)]);
    await waitUntil(() => s.state().subscribed === 1);
    s.setUsers([user(7), user(8)]);
    await waitUntil(() => s.state().subscribed === 2 && portfolioConnections().length === 2);
    const authorizations = fake.feedCounters().portfolioAuthorizations;

    s.setUsers([user(8)]);
    await waitUntil(() => portfolioConnections().length === 1, { what: "user 7's socket closed" });
    expect(portfolioConnections()[0]!.userId).toBe("UPX8");
    expect(s.state()).toMatchObject({ status: "connected", subscribed: 1 });
    // The user kept was not reconnected.
    expect(fake.feedCounters().portfolioAuthorizations).toBe(authorizations);
  });

  it("is connecting while only some users are connected, down when none are", async () => {
    const { s, states } = start();
    s.setUsers([user(7), user(9)]);
    await waitUntil(() => s.state().subscribed === 1 && s.state().lastError !== undefined, { what: "user 9 refused" });
    expect(s.state()).toMatchObject({ status: "connecting", lastError: "user 9: not authorized: user 9 has no Upstox session" });

    s.setUsers([user(9)]);
    await waitUntil(() => s.state().status === "down");
    expect(states.at(-1)).toMatchObject({ status: "down", subscribed: 0 });
  });

  it("reconnects a dropped stream with a new authorization", async () => {
    const { s, updates } = start();
    s.setUsers([user(7)]);
    await waitUntil(() => s.state().status === "connected");
    const before = fake.feedCounters();
    fake.dropFeeds("portfolio");
    await waitUntil(() => fake.feedCounters().portfolioUpgrades === before.portfolioUpgrades + 1 && s.state().status === "connected", {
      what: "reconnected",
    });
    expect(fake.feedCounters().portfolioAuthorizations).toBe(before.portfolioAuthorizations + 1);
    expect(s.state().reconnectsToday).toBe(1);
    await waitUntil(() => portfolioConnections().length === 1);
    fake.pushPortfolioUpdate({ update_type: "holding", isin: "INE002A01018" }, "UPX7");
    await waitUntil(() => updates.length === 1);
    expect(updates[0]![0]).toBe(7);
  });

  it("close() is idempotent and closes every stream", async () => {
    const { s, states } = start();
    s.setUsers([user(7), user(8)]);
    await waitUntil(() => s.state().subscribed === 2);
    const closing = s.close();
    expect(s.close()).toBe(closing);
    await closing;
    expect(s.state()).toMatchObject({ status: "stopped", subscribed: 0 });
    expect(states.at(-1)?.status).toBe("stopped");
    await waitUntil(() => portfolioConnections().length === 0);
    s.setUsers([user(7)]);
    await sleep(100);
    expect(portfolioConnections()).toHaveLength(0);
  });
});

describe("PortfolioStreams with frames the fake does not send", () => {
  it("counts messages that are not a JSON object and logs them without the payload", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    wss.on("connection", (ws) => {
      ws.send("SECRET-PAYLOAD not json");
      ws.send('["SECRET-PAYLOAD"]');
      ws.send('{"update_type":"order","order_id":"1"}');
    });
    const { lines, log } = capturingLog();
    const updates: unknown[] = [];
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/feed?code=ONE-TIME-SECRET`;
    const s = new PortfolioStreams({
      client: { authorizePortfolioFeed: async () => url },
      log,
      onUpdate: (userId, u) => updates.push([userId, u]),
      stallMs: 5_000,
    });
    s.setUsers([{ userId: 3, session: () => ({ userId: 3, accessToken: "t" }) }]);
    try {
      await waitUntil(() => updates.length === 1 && s.state().decodeErrors === 2, { what: "one update, two decode errors" });
      expect(updates).toEqual([[3, { update_type: "order", order_id: "1" }]]);
      const text = lines.join("\n");
      expect(text).not.toContain("SECRET-PAYLOAD");
      expect(text).not.toContain("ONE-TIME-SECRET");
    } finally {
      await s.close();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});

describe("feed authorization answers", () => {
  it("take the URL under either spelling, and refuse an answer without one", () => {
    const uri = "wss://x/feed?requestId=1&code=2";
    expect(feedAuthorizeSchema.parse({ authorized_redirect_uri: uri }).authorized_redirect_uri).toBe(uri);
    expect(feedAuthorizeSchema.parse({ authorizedRedirectUri: uri }).authorizedRedirectUri).toBe(uri);
    expect(feedAuthorizeSchema.safeParse({}).success).toBe(false);
    expect(feedAuthorizeSchema.safeParse({ authorized_redirect_uri: "" }).success).toBe(false);
  });
});
