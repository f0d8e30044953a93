import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { createLogger } from "../../src/log/logger.js";
import type { FeedState, Tick } from "../../src/market/types.js";
import { UpstoxClient } from "../../src/upstox/client.js";
import { UpstoxMarketFeed, type UpstoxMarketFeedOptions } from "../../src/upstox/feed/market-data-feed.js";
import type { UpstoxSession } from "../../src/upstox/token-store.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { sleep, waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const NIFTY = "NSE_INDEX|Nifty 50";

function capturingLog() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", format: "json", destination: { write: (l: string) => void lines.push(l) } }) };
}

/** What a feed under test handed to its handlers. */
interface Seen {
  ticks: Tick[];
  segments: Array<Readonly<Record<string, string>>>;
  states: FeedState[];
}

describe("UpstoxMarketFeed over the fake Upstox", () => {
  let fake: FakeUpstox;
  let client: UpstoxClient;
  let session: UpstoxSession;
  let feeds: UpstoxMarketFeed[];
  let keys: string[];
  const { lines, log } = capturingLog();

  const start = (extra: Partial<UpstoxMarketFeedOptions> = {}) => {
    const seen: Seen = { ticks: [], segments: [], states: [] };
    const feed = new UpstoxMarketFeed({
      client,
      session: () => session,
      log,
      stallMs: 5_000,
      backoff: { initialMs: 20, maxMs: 80 },
      random: () => 1,
      ...extra,
    });
    feeds.push(feed);
    feed.start({
      onTicks: (t) => seen.ticks.push(...t),
      onSegmentStatus: (s) => seen.segments.push(s),
      onStateChange: (s) => seen.states.push(s),
    });
    return { feed, seen };
  };
  const makeClient = () =>
    new UpstoxClient({ apiBase: fake.apiBase, hftBase: fake.hftBase, assetsBase: fake.apiBase, log, transport: { backoffMs: 20, timeoutMs: 2000 } });
  const marketConnections = () => fake.feedConnections().filter((c) => c.kind === "market");
  const connected = (feed: UpstoxMarketFeed) => waitUntil(() => feed.state().status === "connected", { what: "feed connected" });

  beforeAll(async () => {
    fake = await FakeUpstox.start({ instruments: 5100, pingIntervalMs: 50 });
    keys = fake.instrumentKeys();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    feeds = [];
    lines.length = 0;
    fake.clearFeedRequests();
    session = { userId: 7, accessToken: fake.issueToken({ userId: "UPX7" }) };
    client = makeClient();
  });
  afterEach(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    await client.close();
    await waitUntil(() => marketConnections().length === 0, { what: "the fake's market sockets closed" });
  });

  it("connects, reports segment status, subscribes in full mode and delivers the snapshot and live ticks", async () => {
    const { feed, seen } = start();
    feed.setInstruments([RELIANCE, NIFTY]);
    await waitUntil(() => seen.ticks.length >= 2, { what: "the initial snapshot" });
    expect(seen.segments[0]).toMatchObject({ NSE_EQ: "NORMAL_OPEN" });
    expect(fake.feedRequests.map((r) => [r.method, r.mode, r.keys])).toEqual([["sub", "full", [RELIANCE, NIFTY]]]);
    expect(new Set(seen.ticks.map((t) => t.instrumentKey))).toEqual(new Set([RELIANCE, NIFTY]));
    const snapshot = seen.ticks.find((t) => t.instrumentKey === RELIANCE)!;
    expect(snapshot.minuteBars?.length).toBeGreaterThan(0);
    expect(snapshot.volumeToday).toBeGreaterThanOrEqual(0);
    expect(feed.covered()).toEqual(new Set([RELIANCE, NIFTY]));
    expect(feed.state()).toMatchObject({ name: "upstox-market", status: "connected", subscribed: 2, overLimit: 0, decodeErrors: 0 });
    expect(feed.state().lastMessageAt).not.toBeNull();

    seen.ticks.length = 0;
    fake.setPrice(RELIANCE, 1234.5);
    await waitUntil(() => seen.ticks.some((t) => t.lastPrice === 1234.5), { what: "the live tick" });
    expect(seen.ticks.map((t) => t.instrumentKey)).toEqual([RELIANCE]);

    fake.setSegmentStatus("NSE_EQ", "NORMAL_CLOSE");
    await waitUntil(() => seen.segments.some((s) => s.NSE_EQ === "NORMAL_CLOSE"), { what: "the new segment status" });
    expect(seen.states.some((s) => s.status === "connected" && s.subscribed === 2)).toBe(true);
  });

  it("changes the subscription on the open socket, switching to LTPC past 2000 keys and leaving keys past 5000 to REST", async () => {
    const { feed, seen } = start();
    feed.setInstruments(keys.slice(0, 10));
    await waitUntil(() => feed.covered().size === 10);
    await connected(feed);
    const upgrades = fake.feedCounters().marketUpgrades;

    feed.setInstruments(keys.slice(5, 15));
    expect(feed.covered()).toEqual(new Set(keys.slice(5, 15)));
    await waitUntil(() => marketConnections()[0]?.subscriptions.size === 10 && marketConnections()[0]!.subscriptions.has(keys[14]!));
    expect(fake.feedRequests.slice(1).map((r) => [r.method, r.mode, r.keys])).toEqual([
      ["unsub", "full", keys.slice(0, 5)],
      ["sub", "full", keys.slice(10, 15)],
    ]);

    feed.setInstruments(keys.slice(0, 2100));
    await waitUntil(() => marketConnections()[0]?.subscriptions.size === 2100, { what: "2100 LTPC subscriptions" });
    let conn = marketConnections()[0]!;
    expect(new Set(conn.subscriptions.values())).toEqual(new Set(["ltpc"]));
    expect(conn.limitErrors).toEqual([]);
    // LTPC ticks are samples: bars built from them are not the exchange's.
    expect(feed.exactBars(keys[0]!)).toBe(false);

    feed.setInstruments(keys.slice(0, 5003));
    await waitUntil(() => marketConnections()[0]?.subscriptions.size === 5000, { what: "5000 LTPC subscriptions" });
    expect(feed.state()).toMatchObject({ subscribed: 5000, overLimit: 3 });
    expect(feed.covered().has(keys[5000]!)).toBe(false);
    conn = marketConnections()[0]!;
    expect(conn.limitErrors).toEqual([]);
    expect(conn.protocolErrors).toEqual([]);

    // And back under 2000: full mode again, nothing over the limit.
    feed.setInstruments(keys.slice(0, 3));
    await waitUntil(() => marketConnections()[0]?.subscriptions.size === 3);
    expect([...marketConnections()[0]!.subscriptions.values()]).toEqual(["full", "full", "full"]);
    expect(feed.exactBars(keys[0]!)).toBe(true);
    expect(feed.exactBars(keys[4000]!)).toBe(false);
    expect(feed.state()).toMatchObject({ subscribed: 3, overLimit: 0 });
    expect(fake.feedCounters().marketUpgrades).toBe(upgrades);
    expect(marketConnections()).toHaveLength(1);
    expect(seen.states.at(-1)).toMatchObject({ subscribed: 3, overLimit: 0 });
  });

  it("after a dropped connection reconnects with a new authorization and subscribes everything again", async () => {
    const { feed, seen } = start();
    feed.setInstruments([RELIANCE, NIFTY]);
    await waitUntil(() => marketConnections()[0]?.subscriptions.size === 2);
    const before = fake.feedCounters();

    fake.dropFeeds("market");
    await waitUntil(() => seen.states.some((s) => s.status === "connecting"), { what: "the loss noticed" });
    expect(seen.states.find((s) => s.status === "connecting")).toMatchObject({ subscribed: 0 });
    await waitUntil(() => fake.feedCounters().marketUpgrades === before.marketUpgrades + 1 && feed.covered().size === 2, { what: "a new socket" });
    await waitUntil(() => marketConnections().length === 1 && marketConnections()[0]!.subscriptions.size === 2, { what: "re-subscribed on it" });
    const after = fake.feedCounters();
    expect(after.marketAuthorizations).toBe(before.marketAuthorizations + 1);
    expect(after.marketUpgrades).toBe(before.marketUpgrades + 1);
    expect(after.refusedUpgrades).toBe(before.refusedUpgrades);
    expect(fake.feedRequests.map((r) => r.method)).toEqual(["sub", "sub"]);
    expect(feed.covered()).toEqual(new Set([RELIANCE, NIFTY]));
    expect(feed.state()).toMatchObject({ status: "connected", reconnectsToday: 1 });

    seen.ticks.length = 0;
    fake.setPrice(NIFTY, 23_456.75);
    await waitUntil(() => seen.ticks.some((t) => t.instrumentKey === NIFTY && t.lastPrice === 23_456.75));
  });

  it("drops a stalled connection after stallMs and connects again", async () => {
    const { feed } = start({ stallMs: 300 });
    feed.setInstruments([RELIANCE]);
    await waitUntil(() => feed.covered().size === 1);
    const upgrades = fake.feedCounters().marketUpgrades;
    fake.stallFeeds(5_000, "market");
    await waitUntil(() => fake.feedCounters().marketUpgrades === upgrades + 1 && feed.covered().size === 1, { what: "watchdog reconnect" });
    expect(feed.state().lastError).toMatch(/^stalled/);
    expect(feed.state().reconnectsToday).toBe(1);
  });

  it("keeps a quiet connection that still gets pings", async () => {
    const { feed } = start({ stallMs: 500 });
    feed.setInstruments([RELIANCE]);
    await waitUntil(() => feed.covered().size === 1);
    await sleep(1_200);
    expect(feed.state()).toMatchObject({ status: "connected", reconnectsToday: 0 });
  });

  it("backs off while connections are refused and recovers", async () => {
    const { feed } = start();
    feed.setInstruments([RELIANCE]);
    await waitUntil(() => feed.covered().size === 1);
    fake.refuseFeedConnections(3);
    lines.length = 0;
    fake.dropFeeds("market");
    await waitUntil(() => feed.covered().size === 1 && feed.state().reconnectsToday === 4, { what: "connected after three refusals" });
    const waits = lines
      .map((l) => JSON.parse(l) as { msg: string; retryInMs?: number; reason?: string })
      .filter((l) => l.msg === "feed connection failed")
      .map((l) => l.retryInMs);
    // random() = 1: the full cap each time, doubling from 20 ms to the 80 ms max.
    expect(waits).toEqual([20, 40, 80, 80]);
    expect(feed.state().lastError).toContain("503");
  });

  it("is down with a clear error when nobody's session can authorize it", async () => {
    const { feed, seen } = start({ session: () => undefined });
    feed.setInstruments([RELIANCE]);
    await waitUntil(() => feed.state().status === "down");
    expect(feed.state().lastError).toBe("not authorized: no linked Upstox account to authorize the market feed with");
    expect(feed.covered().size).toBe(0);
    expect(seen.states.at(-1)?.status).toBe("down");
  });

  it("is down when Upstox refuses the token", async () => {
    const token = fake.issueToken({ userId: "UPX9" });
    fake.expireToken(token);
    const { feed } = start({ session: () => ({ userId: 9, accessToken: token }) });
    await waitUntil(() => feed.state().status === "down");
    expect(feed.state().lastError).toMatch(/^not authorized: /);
  });

  it("close() is idempotent and leaves no socket or timer behind", async () => {
    const resources = () => {
      const r = process.getActiveResourcesInfo();
      return { timers: r.filter((x) => x === "Timeout").length, sockets: r.filter((x) => x === "TCPSocketWrap").length };
    };
    const before = resources();
    const { feed, seen } = start();
    feed.setInstruments([RELIANCE]);
    await waitUntil(() => feed.covered().size === 1);
    // The measure sees the feed's socket (and its watchdog) while it is open.
    expect(resources().sockets).toBeGreaterThan(before.sockets);
    expect(resources().timers).toBeGreaterThan(before.timers);
    const closing = feed.close();
    expect(feed.close()).toBe(closing);
    await closing;
    expect(feed.state().status).toBe("stopped");
    expect(feed.covered().size).toBe(0);
    expect(seen.states.at(-1)?.status).toBe("stopped");
    await waitUntil(() => marketConnections().length === 0, { what: "the fake's socket closed" });
    // Nothing reconnects after close.
    await sleep(150);
    expect(marketConnections()).toHaveLength(0);
    await client.close();
    client = makeClient();
    await waitUntil(() => resources().sockets <= before.sockets, { what: "no sockets left" });
    expect(resources().timers).toBeLessThanOrEqual(before.timers);
  });
});

describe("UpstoxMarketFeed with frames the fake does not send", () => {
  it("counts frames it cannot decode and carries on", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    wss.on("connection", (ws) => {
      ws.send(Buffer.from([0x08, 0x07])); // FeedResponse.type = 7: no such type
      ws.send("an error page");
      ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    });
    const { lines, log } = capturingLog();
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/feed?code=ONE-TIME-SECRET`;
    const feed = new UpstoxMarketFeed({
      client: { authorizeMarketFeed: async () => url },
      session: () => ({ userId: 1, accessToken: "t" }),
      log,
      stallMs: 5_000,
    });
    const ticks: Tick[] = [];
    feed.start({ onTicks: (t) => ticks.push(...t) });
    try {
      await waitUntil(() => feed.state().decodeErrors === 3, { what: "three decode errors" });
      expect(feed.state().status).toBe("connected");
      expect(ticks).toEqual([]);
      expect(lines.join("\n")).not.toContain("ONE-TIME-SECRET");
    } finally {
      await feed.close();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});
