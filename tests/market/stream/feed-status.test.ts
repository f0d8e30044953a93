import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assessHealth, type HealthInputs } from "../../../src/http/health.js";
import { describeFeeds } from "../../../src/format/feeds.js";
import { MarketCalendar } from "../../../src/market/market-calendar.js";
import { FEED_STATE_TTL_MS, FeedStatus } from "../../../src/market/stream/feed-status.js";
import type { FeedState } from "../../../src/market/types.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "../../support/env.js";

const T0 = Date.UTC(2026, 11, 7, 5, 0, 0); // Monday 10:30 IST

const feed = (over: Partial<FeedState> = {}): FeedState => ({
  name: "upstox-market",
  status: "connected",
  subscribed: 3,
  overLimit: 0,
  lastMessageAt: T0,
  since: T0 - 60_000,
  reconnectsToday: 0,
  decodeErrors: 0,
  ...over,
});

describe("FeedStatus (shared through Redis)", () => {
  let redis: Redis;
  let prefix: string;
  let status: FeedStatus;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(() => redis.quit());
  beforeEach(async () => {
    prefix = uniquePrefix();
    status = new FeedStatus(redis, prefix);
    return async () => void (await deletePrefix(prefix));
  });

  it("a live market feed's covered instruments are read back; a stalled or old publication counts as no feed", async () => {
    await status.publish([feed()], "host:1:a", T0, ["NSE_EQ|A", "NSE_EQ|B"]);
    expect(await status.liveCoverage(T0 + 1_000, 15_000)).toEqual(new Set(["NSE_EQ|A", "NSE_EQ|B"]));
    // Nothing heard for longer than the stall limit: REST's turn.
    expect(await status.liveCoverage(T0 + 16_000, 15_000)).toBeUndefined();
    // A holder that stopped publishing (dead) no longer counts either.
    expect(await status.liveCoverage(T0 + FEED_STATE_TTL_MS + 1, 60_000)).toBeUndefined();
    await status.publish([feed({ status: "down", lastMessageAt: T0 })], "host:1:a", T0 + 2_000, []);
    expect(await status.liveCoverage(T0 + 2_000, 15_000)).toBeUndefined();
    const read = await status.read(T0 + 2_000);
    expect(read).toEqual([expect.objectContaining({ name: "upstox-market", status: "down", holder: "host:1:a", updatedAt: T0 + 2_000 })]);
  });

  it("publications expire in Redis, so a dead holder's state does not linger", async () => {
    await status.publish([feed()], "h", T0, ["NSE_EQ|A"]);
    const ttl = await redis.pttl(`${prefix}:feed:covered`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(FEED_STATE_TTL_MS);
    await status.withdraw();
    expect(await status.read(T0)).toEqual([]);
  });

  it("a minute is claimed once: the stream's claim carries its instruments, REST's none", async () => {
    expect(await status.claimMinute(T0, "stream", ["NSE_EQ|A"])).toBe(true);
    expect(await status.claimMinute(T0, "rest")).toBe(false);
    // A second holder (a handover) late for the same minute changes nothing of the winner's claim.
    expect(await status.claimMinute(T0, "stream", ["NSE_EQ|B"])).toBe(false);
    expect(await status.minuteClaim(T0)).toEqual({ by: "stream", keys: new Set(["NSE_EQ|A"]) });
    const many = Array.from({ length: 2_500 }, (_, i) => `NSE_EQ|K${i}`);
    expect(await status.claimMinute(T0 + 600_000, "stream", many)).toBe(true);
    expect((await status.minuteClaim(T0 + 600_000))?.keys.size).toBe(2_500);
    expect(await status.claimMinute(T0 + 60_000, "rest")).toBe(true);
    // The stream comes late for a minute REST took: nothing of its keys is recorded as done.
    expect(await status.claimMinute(T0 + 60_000, "stream", ["NSE_EQ|A"])).toBe(false);
    expect(await status.minuteClaim(T0 + 60_000)).toEqual({ by: "rest", keys: new Set() });
    expect(await status.minuteClaim(T0 + 120_000)).toBeNull();
  });

  it("the exchange's segment status wins over the calendar for the day, and only a disagreement is kept", async () => {
    let now = T0;
    const calendar = new MarketCalendar(redis, prefix, { alwaysOpen: false, clock: () => now });
    const other = new MarketCalendar(redis, prefix, { alwaysOpen: false, clock: () => now });
    expect(calendar.isOpen(new Date(T0))).toBe(true);
    // A halt the calendar does not know of.
    expect(await calendar.applyFeedStatus("NORMAL_CLOSE", T0)).toEqual({ open: false, disagrees: true });
    expect(calendar.isOpen(new Date(T0 + 1_000))).toBe(false);
    await other.sync();
    expect(other.isOpen(new Date(T0 + 1_000))).toBe(false);
    // Before the word was said, and on the next day, the calendar rules again.
    expect(calendar.isOpen(new Date(T0 - 1_000))).toBe(true);
    expect(calendar.isOpen(new Date(T0 + 86_400_000))).toBe(true);
    now = T0 + 60_000;
    expect(await calendar.applyFeedStatus("NORMAL_OPEN", now)).toEqual({ open: true, disagrees: false });
    await other.sync();
    expect(other.isOpen(new Date(now + 1_000))).toBe(true);
    // A Saturday session the holiday list did not announce: open because Upstox says so.
    const saturday = Date.UTC(2026, 11, 5, 5, 0, 0);
    expect(calendar.scheduledOpen(new Date(saturday))).toBe(false);
    expect(await calendar.applyFeedStatus("NORMAL_OPEN", saturday)).toEqual({ open: true, disagrees: true });
    expect(calendar.isOpen(new Date(saturday + 1_000))).toBe(true);
  });
});

describe("health with feeds", () => {
  const base: HealthInputs = {
    now: T0,
    startedAt: T0 - 3_600_000,
    redis: { ok: true },
    sqlite: { ok: true },
    lastPollAt: T0 - 3_600_000,
    pollIntervalSeconds: 15,
    marketOpen: true,
    pollingPaused: false,
    marketData: { source: "upstox", linkedUsers: 1, expiredTokens: 0 },
  };
  const published = (over: Partial<FeedState> = {}) => ({ ...feed(over), holder: "host:1:a", updatedAt: T0 });

  it("a live market feed keeps market data healthy while the poll has nothing to do", () => {
    const h = assessHealth({ ...base, stream: { feeds: [published()], stallSeconds: 15 } });
    expect(h.status).toBe("ok");
    expect(h.checks.marketPoll).toMatchObject({ ok: true, state: "streaming" });
    expect(h.checks.feeds).toEqual([
      {
        name: "upstox-market",
        ok: true,
        status: "connected",
        holder: "host:1:a",
        subscribed: 3,
        overLimit: 0,
        lastMessageAgeSeconds: 0,
        reconnectsToday: 0,
        decodeErrors: 0,
      },
    ]);
  });

  it("503 only when neither the feed nor the poll works", () => {
    const down = published({ status: "down", lastError: "connection refused" });
    expect(assessHealth({ ...base, stream: { feeds: [down], stallSeconds: 15 } }).status).toBe("unhealthy");
    // The feed is down but REST polling covers: healthy, the feed shown as not ok.
    const h = assessHealth({ ...base, lastPollAt: T0 - 10_000, stream: { feeds: [down], stallSeconds: 15 } });
    expect(h.status).toBe("ok");
    expect(h.checks.marketPoll.state).toBe("polling");
    expect(h.checks.feeds?.[0]).toMatchObject({ ok: false, status: "down", lastError: "connection refused" });
    // A portfolio feed alone does not carry prices.
    const portfolio = published({ name: "upstox-portfolio" });
    expect(assessHealth({ ...base, stream: { feeds: [portfolio], stallSeconds: 15 } }).status).toBe("unhealthy");
  });

  it("/health in chat says the same in words", () => {
    const h = assessHealth({
      ...base,
      stream: {
        feeds: [
          published({ subscribed: 2_000, overLimit: 12, reconnectsToday: 2 }),
          published({ name: "upstox-portfolio", status: "down", subscribed: 0, lastMessageAt: null }),
        ],
        stallSeconds: 15,
      },
    });
    const lines = describeFeeds(h.checks.feeds);
    expect(lines[0]).toBe(
      "Upstox market feed: ✅ connected · 2,000 instruments (12 more instruments over the feed's limit, polled over REST) · last message 0 s ago · 2 reconnects today",
    );
    expect(lines[1]).toBe("Upstox order updates: ⚠️ down · 0 traders · nothing received yet · 0 reconnects today; the order-book poll and the postback cover");
    expect(describeFeeds([])).toEqual(["Live feeds: no process holds them right now; REST polling covers"]);
    expect(describeFeeds(undefined)).toEqual(["Live feeds: off (MARKET_DATA_MODE=poll), prices come from REST polls"]);
  });
});
