import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { User } from "../../src/db/repositories/users.js";
import { getJson } from "../support/app.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
const ist = (s: string) => Date.parse(`${s}+05:30`);

/**
 * The market pipeline against the fake Upstox over real HTTP and real Redis: polling only
 * while NSE is open (holidays from the Upstox API), one alert per real crossing, no
 * duplicate after a restart, and one-minute candles stored with history warmed up.
 */
describe("market data pipeline over the fake Upstox", () => {
  let f: AppFixture;
  let now: number;
  let token: string;

  const poll = async () => (await runJob<Record<string, unknown>>(f.services.queues["poll-quotes"])).result;
  const signals = () => f.services.db.prepare("SELECT rule_id, price FROM signals ORDER BY id").all() as Array<{ rule_id: number; price: number }>;
  const linkTrader = (email: string): User => f.linkTrader({ email, upstoxUserId: "UPX", token }).user;

  beforeEach(async () => {
    now = ist("2025-01-15T10:30:00"); // a Wednesday, market open
    f = await startAppFixture({
      clock: () => now,
      upstox: true,
      env: { INSTRUMENT_FILES: "NSE", POLL_INTERVAL: "15" },
      delivery: { attempts: 2, backoffMs: 50 },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    token = f.fake.issueToken({ userId: "UPX" });
  });

  afterEach(() => f.close());

  it("a price path that crosses a level once fires exactly one alert", async () => {
    const s = f.services;
    const user = linkTrader("path@example.com");
    s.rules.create({ userId: user.id, instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1450 }, frequency: "every" });
    // Up through the level, then hovering around it inside the re-arm band (0.1 % = ₹1.45).
    for (const price of [1440, 1445, 1449.9, 1450.5, 1452, 1449.2, 1450.1, 1451, 1449.5, 1453]) {
      f.fake.setPrice(RELIANCE, price);
      await poll();
      now += 15_000;
    }
    expect(signals()).toEqual([{ rule_id: 1, price: 1450.5 }]);
    const mails = await f.smtp.waitForMessages(1);
    expect(mails[0]!.parsed.subject).toContain("RELIANCE crossed above ₹1,450.00");
    // One batched quote call per poll, whatever the number of rules.
    expect(f.fake.requestsTo("/v2/market-quote/quotes")).toHaveLength(10);
  });

  it("coalesces: many traders on the same instruments cost one quote call per poll", async () => {
    const s = f.services;
    for (let i = 0; i < 5; i++) {
      const u = linkTrader(`t${i}@example.com`);
      s.watchlists.add(u.id, RELIANCE);
      s.watchlists.add(u.id, TCS);
      s.rules.create({ userId: u.id, instrumentKey: RELIANCE, kind: "price_above", params: { level: 99_999 } });
    }
    f.fake.clearRequests();
    const result = await poll();
    expect(result).toMatchObject({ instruments: 2, quotes: 2, fired: 0 });
    const calls = f.fake.requestsTo("/v2/market-quote/quotes");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.query.get("instrument_key")!.split(",").sort()).toEqual([RELIANCE, TCS].sort());
    // The latest quotes are cached in Redis for every process.
    const cached = await s.pollState.latestQuotes([RELIANCE, TCS]);
    expect(cached.get(RELIANCE)?.lastPrice).toBe(f.fake.getPrice(RELIANCE));
  });

  it("a restart mid-session fires no duplicate", async () => {
    const user = linkTrader("restart@example.com");
    f.services.rules.create({ userId: user.id, instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1450 }, frequency: "every" });
    f.fake.setPrice(RELIANCE, 1445);
    await poll();
    now += 15_000;
    f.fake.setPrice(RELIANCE, 1452);
    expect(await poll()).toMatchObject({ fired: 1 });
    await f.smtp.waitForMessages(1);

    await f.app.stop();
    now += 15_000;
    await f.restart();
    // Same session, price still above the level, and again a little higher: no new alert.
    for (const price of [1452, 1455, 1451]) {
      f.fake.setPrice(RELIANCE, price);
      expect(await poll()).toMatchObject({ fired: 0 });
      now += 15_000;
    }
    expect(signals()).toHaveLength(1);
    const rows = f.services.db.prepare("SELECT COUNT(*) AS n FROM notifications").get() as { n: number };
    expect(rows.n).toBe(1);
    // A real new crossing after the restart still fires.
    f.fake.setPrice(RELIANCE, 1440);
    await poll();
    now += 15_000;
    f.fake.setPrice(RELIANCE, 1451);
    expect(await poll()).toMatchObject({ fired: 1 });
    expect(signals()).toHaveLength(2);
  });

  it("polls nothing outside market hours and says so in /healthz", async () => {
    const user = linkTrader("closed@example.com");
    f.services.watchlists.add(user.id, RELIANCE);
    now = ist("2025-01-15T16:05:00");
    f.fake.clearRequests();
    expect(await poll()).toEqual({ skipped: "market closed" });
    now = ist("2025-01-18T11:00:00"); // Saturday
    expect(await poll()).toEqual({ skipped: "market closed" });
    expect(f.fake.requestsTo("/v2/market-quote/quotes")).toHaveLength(0);
    const health = await getJson(`${f.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect((health.body as { checks: { marketPoll: { state: string } } }).checks.marketPoll.state).toBe("market closed");
  });

  it("takes holidays and special sessions from the Upstox holidays API", async () => {
    const user = linkTrader("holiday@example.com");
    f.services.watchlists.add(user.id, RELIANCE);
    f.fake.addHoliday("2025-02-26", { description: "Mahashivratri", closedExchanges: ["NSE", "BSE", "NFO"] });
    // A Saturday special session, 09:15-12:30 IST.
    f.fake.addHoliday("2025-02-01", {
      description: "Budget day session",
      closedExchanges: [],
      openExchanges: [{ exchange: "NSE", start_time: ist("2025-02-01T09:15:00"), end_time: ist("2025-02-01T12:30:00") }],
    });
    await runJob(f.services.queues["refresh-calendar"]);

    now = ist("2025-02-26T11:00:00"); // a Wednesday, but a holiday
    expect(await poll()).toEqual({ skipped: "market closed" });
    now = ist("2025-02-01T10:00:00"); // Saturday special session
    // Upstox tokens die at 03:30 IST each day: the trader logs in again that morning.
    f.services.upstox!.tokens.save(user.id, token, "UPX", new Date(now));
    expect(await poll()).toMatchObject({ instruments: 1 });
    now = ist("2025-02-01T13:00:00"); // after the special session closed
    expect(await poll()).toEqual({ skipped: "market closed" });
    now = ist("2025-02-27T11:00:00");
    f.services.upstox!.tokens.save(user.id, token, "UPX", new Date(now));
    expect(await poll()).toMatchObject({ instruments: 1 });
  });

  it("stores each closed one-minute candle and warms up history for instruments with candle rules", async () => {
    const s = f.services;
    const user = linkTrader("candles@example.com");
    s.watchlists.add(user.id, RELIANCE);
    now = ist("2025-01-15T10:31:05");
    // Watched only: its default indicators fill in from live candles, no history is fetched.
    expect(await runJob<Record<string, number>>(s.queues["fetch-candles"]).then((r) => r.result)).toMatchObject({ candles: 1, warmUps: 0 });
    s.rules.create({ userId: user.id, instrumentKey: RELIANCE, kind: "rsi_below", params: { level: 30 } });
    now += 60_000;
    const { result } = await runJob<Record<string, number>>(s.queues["fetch-candles"]);
    expect(result).toMatchObject({ candles: 1, warmUps: 1 });
    const stored = s.candles.recent(RELIANCE, "1m", 5);
    expect(stored.at(-1)!.ts).toBe(ist("2025-01-15T10:31:00"));
    // One OHLC I1 call for the closed candle, batched like quotes.
    expect(f.fake.requestsTo("/v3/market-quote/ohlc")[0]!.query.get("interval")).toBe("I1");

    const warm = await runJob<{ stored: number }>(s.queues["warm-up-candles"], { instrumentKey: RELIANCE });
    expect(warm.result.stored).toBeGreaterThan(375);
    expect(f.fake.requestsTo("/v3/historical-candle/").length).toBeGreaterThanOrEqual(1);
    expect(s.candles.stats(RELIANCE, "1m").count).toBeGreaterThan(375);

    // The next minute's candle feeds indicators rebuilt from that history.
    now += 60_000;
    await runJob(s.queues["fetch-candles"]);
    const values = s.indicators.valuesOf(RELIANCE)!;
    expect(values["rsi:14"]).toEqual(expect.any(Number));
    expect(values["ema:20"]).toEqual(expect.any(Number));
  });
});
