import { afterEach, describe, expect, it } from "vitest";
import type { FetchCandlesResult } from "../../../jobs/fetch-candles.js";
import type { RunningApp } from "../../../src/app.js";
import { startTestApp } from "../../support/app.js";
import { startAppFixture, type AppFixture } from "../../support/fixture.js";
import { runJob } from "../../support/queues.js";
import { sleep, waitUntil } from "../../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const INFY = "NSE_EQ|INE009A01021";
const MINUTE = 60_000;

/**
 * The stream closes minutes from its own bars, and one process holds the sockets. Real
 * timers, the app's clock moved by the test (so minutes close when the test says), the fake
 * Upstox's feeds over the wire.
 */
describe("the stream's minutes and its one holder", () => {
  let f: AppFixture | undefined;
  let other: RunningApp | undefined;

  afterEach(async () => {
    await other?.stop();
    await f?.close();
    other = f = undefined;
  });

  it("closes each minute from the feed's bars for the instruments it covered all minute; the REST fetch does only the rest", async () => {
    let now = Date.parse("2026-12-07T10:30:20+05:30");
    f = await startAppFixture({
      clock: () => now,
      upstox: true,
      env: { MARKET_DATA_MODE: "stream", SIMULATOR_ALWAYS_OPEN: "true", FEED_STALL_SECONDS: "300" },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    const fx = f;
    fx.fake.setPrice(RELIANCE, 1490);
    fx.linkTrader({ watch: [RELIANCE] });
    // The app's own history load for the new instrument is not what this test counts.
    await waitUntil(async () => ((await fx.services.feedStatus.liveCoverage(now, 300_000))?.has(RELIANCE) ? true : undefined), {
      what: "RELIANCE streamed",
      timeoutMs: 15_000,
    });
    const minute = Date.parse("2026-12-07T10:30:00+05:30");
    // Covered since 10:30:20, not the whole 10:30 minute: that minute stays REST's.
    now = minute + MINUTE + 2_000;
    // The stream looks for minutes to close twice a second.
    await sleep(1_500);
    expect(await fx.services.feedStatus.minuteClaim(minute)).toBeNull();

    // 10:31 is covered throughout: prices move in it, and its bar is closed from the stream.
    now = minute + MINUTE + 10_000;
    fx.fake.setPrice(RELIANCE, 1496);
    now = minute + MINUTE + 30_000;
    fx.fake.setPrice(RELIANCE, 1493.5);
    // INFY comes in mid-minute: 10:31 is not the stream's for it.
    fx.linkTrader({ watch: [INFY] });
    await waitUntil(async () => ((await fx.services.feedStatus.liveCoverage(now, 300_000))?.has(INFY) ? true : undefined), {
      what: "INFY streamed",
      timeoutMs: 10_000,
    });
    const ohlcCalls = () => fx.fake.requestsTo("/v3/market-quote/ohlc").length + fx.fake.requestsTo("/v2/market-quote/ohlc").length;
    const before = ohlcCalls();
    now = minute + 2 * MINUTE + 2_000;
    const closed = minute + MINUTE;
    const claim = await waitUntil(() => fx.services.feedStatus.minuteClaim(closed), { what: "the 10:31 close", timeoutMs: 10_000 });
    expect(claim).toEqual({ by: "stream", keys: new Set([RELIANCE]) });
    const [bar] = fx.services.candles.recent(RELIANCE, "1m", 1);
    expect(bar).toMatchObject({ ts: closed, close: 1493.5 });
    expect(bar!.high).toBeGreaterThanOrEqual(1496);
    expect((await fx.services.pollState.latestIndicators(RELIANCE))?.ts).toBe(closed);
    // No REST call made that bar.
    expect(ohlcCalls()).toBe(before);

    // The REST candle fetch at second 5 takes only what the stream did not close.
    const { result } = await runJob<FetchCandlesResult>(fx.services.queues["fetch-candles"]);
    expect(result).toMatchObject({ streamed: 1 });
    expect(ohlcCalls()).toBe(before + 1);
    const last = fx.fake.requestsTo("/v3/market-quote/ohlc").at(-1) ?? fx.fake.requestsTo("/v2/market-quote/ohlc").at(-1);
    expect(last!.query.get("instrument_key")).toBe(INFY);
  });

  it("only one process holds the feed sockets; when it stops, another takes over within seconds", async () => {
    f = await startAppFixture({
      upstox: true,
      env: { MARKET_DATA_MODE: "stream", SIMULATOR_ALWAYS_OPEN: "true" },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    const fx = f;
    fx.fake.setPrice(RELIANCE, 1490);
    const trader = fx.linkTrader({
      watch: [RELIANCE],
      rules: [{ instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1500 }, frequency: "every", cooldownSeconds: 0 }],
    });
    other = await startTestApp(fx.config, { role: "worker" });
    const marketSockets = () => fx.fake.feedConnections().filter((c) => c.kind === "market");
    await waitUntil(() => (marketSockets().length === 1 && marketSockets()[0]!.subscriptions.size === 1 ? true : undefined), {
      what: "one market socket",
      timeoutMs: 15_000,
    });
    // Read through the worker's connection: the first app's closes with it.
    const holders = async () => (await other!.services.feedStatus.read(Date.now())).map((x) => x.holder);
    const [first] = await holders();
    expect(first).toBeDefined();
    await sleep(2_500);
    expect(marketSockets()).toHaveLength(1);

    // The holder (the first app: it started first) stops; the worker takes the lease and the sockets.
    await fx.app.stop();
    const t0 = Date.now();
    await waitUntil(async () => ((await holders()).some((h) => h !== first) && marketSockets().length === 1 ? true : undefined), {
      what: "the worker holding the feeds",
      timeoutMs: 15_000,
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await waitUntil(() => (marketSockets()[0]?.subscriptions.size === 1 ? true : undefined), { what: "re-subscribed" });
    fx.fake.setPrice(RELIANCE, 1503);
    const signal = await waitUntil(
      () => other!.services.db.prepare("SELECT rule_id, price FROM signals").get() as { rule_id: number; price: number } | undefined,
      { what: "the worker's alert", timeoutMs: 5_000 },
    );
    expect(signal).toEqual({ rule_id: trader.rules[0]!.id, price: 1503 });
  });

  it("the exchange's segment status from market_info decides whether the market is open, in every process", async () => {
    // No SIMULATOR_ALWAYS_OPEN: the calendar's answer depends on when the test runs; the feed's word must win either way.
    f = await startAppFixture({ upstox: true, env: { MARKET_DATA_MODE: "stream" }, takeOver: ["poll-quotes", "fetch-candles"] });
    const fx = f;
    fx.linkTrader({ watch: [RELIANCE] });
    await waitUntil(() => (fx.fake.feedConnections().some((c) => c.kind === "market") ? true : undefined), { what: "the market socket", timeoutMs: 15_000 });
    other = await startTestApp(fx.config, { role: "worker" });
    const openIn = async (app: RunningApp) => {
      await app.services.calendar.sync();
      return app.services.marketOpen(new Date());
    };
    fx.fake.setSegmentStatus("NSE_EQ", "NORMAL_CLOSE");
    await waitUntil(async () => ((await openIn(fx.app)) === false && (await openIn(other!)) === false ? true : undefined), { what: "closed by the feed" });
    fx.fake.setSegmentStatus("NSE_EQ", "NORMAL_OPEN");
    await waitUntil(async () => ((await openIn(fx.app)) && (await openIn(other!)) ? true : undefined), { what: "open by the feed" });
  });
});
