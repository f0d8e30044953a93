import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { InstrumentRepository } from "../../src/db/repositories/instruments.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { createLogger } from "../../src/log/logger.js";
import { UpstoxClient } from "../../src/upstox/client.js";
import {
  OrderOutcomeUnknownError,
  traderMessage,
  UpstoxNetworkError,
  UpstoxRateLimitError,
  UpstoxRequestError,
  UpstoxTokenError,
  UpstoxUnavailableError,
} from "../../src/upstox/errors.js";
import { RateLimiter } from "../../src/redis/rate-limit.js";
import { UPSTOX_LIMITS } from "../../src/upstox/limits.js";
import { ShuttingDownError } from "../../src/lifecycle/abort.js";
import { TokenStore, type UpstoxSession } from "../../src/upstox/token-store.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
const NIFTY = "NSE_INDEX|Nifty 50";
const log = createLogger({ level: "silent", format: "json" });

describe("UpstoxClient over the fake Upstox server", () => {
  let fake: FakeUpstox;
  let session: UpstoxSession;
  let throttled: number;
  let rejected: number[];

  const makeClient = (extra: Partial<ConstructorParameters<typeof UpstoxClient>[0]> = {}) =>
    new UpstoxClient({
      apiBase: fake.apiBase,
      hftBase: fake.hftBase,
      assetsBase: fake.apiBase,
      apiKey: "test-client-id",
      apiSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1:9/upstox/callback",
      log,
      reconcileDelaysMs: [0, 100],
      transport: {
        backoffMs: 20,
        timeoutMs: 2000,
        onThrottled: () => throttled++,
        onTokenRejected: (userId) => rejected.push(userId),
      },
      ...extra,
    });
  let client: UpstoxClient;

  beforeAll(async () => {
    fake = await FakeUpstox.start({
      instruments: 1200,
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1:9/upstox/callback",
    });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    throttled = 0;
    rejected = [];
    fake.clearRequests();
    session = { userId: 7, accessToken: fake.issueToken({ userId: "UPX7" }) };
    client = makeClient();
  });
  afterEach(async () => {
    await client.close();
  });

  describe("auth", () => {
    it("builds the login link with the app's client id, redirect and state", () => {
      const url = new URL(client.loginUrl("st4te"));
      expect(url.origin + url.pathname).toBe(`${fake.apiBase}/v2/login/authorization/dialog`);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        response_type: "code",
        client_id: "test-client-id",
        redirect_uri: "http://127.0.0.1:9/upstox/callback",
        state: "st4te",
      });
    });

    it("exchanges a code once for a token that works, and refuses the code a second time", async () => {
      fake.addAuthCode("code-1", { userId: "UPX42" });
      const grant = await client.exchangeCode("code-1");
      expect(grant.accessToken.length).toBeGreaterThan(8);
      expect(grant.upstoxUserId).toBe("UPX42");
      const req = fake.requestsTo("/v2/login/authorization/token")[0]!;
      expect(req.headers["content-type"]).toContain("application/x-www-form-urlencoded");
      expect(req.body).toMatchObject({ code: "code-1", grant_type: "authorization_code", client_id: "test-client-id" });
      const profile = await client.getProfile({ userId: 1, accessToken: grant.accessToken });
      expect(profile.userId).toBe("UPX42");
      await expect(client.exchangeCode("code-1")).rejects.toBeInstanceOf(UpstoxRequestError);
      // The code exchange is never retried: exactly two requests were made.
      expect(fake.requestsTo("/v2/login/authorization/token")).toHaveLength(2);
    });
  });

  describe("market quotes", () => {
    it("indexes full quotes by instrument key, not by the EXCHANGE:SYMBOL response key", async () => {
      fake.setPrevClose(RELIANCE, 1400);
      fake.setPrice(RELIANCE, 1421.5);
      const quotes = await client.getFullQuotes(session, [RELIANCE, TCS, "NSE_EQ|UNKNOWN00000"]);
      expect([...quotes.keys()].sort()).toEqual([RELIANCE, TCS]);
      const q = quotes.get(RELIANCE)!;
      expect(q.symbol).toBe("RELIANCE");
      expect(q.lastPrice).toBe(1421.5);
      expect(q.prevClose).toBeCloseTo(1400, 2);
      expect(q.high).toBeGreaterThanOrEqual(q.low);
      expect(q.lastTradeAt).toBeGreaterThan(0);
      const req = fake.requestsTo("/v2/market-quote/quotes")[0]!;
      expect(req.rawPath).toContain("NSE_EQ%7CINE002A01018");
      expect(req.rawPath).not.toContain("|");
      expect(req.headers.authorization).toBe(`Bearer ${session.accessToken}`);
    });

    it("costs ceil(N/500) calls for N distinct keys and merges them", async () => {
      const keys = fake.instrumentKeys().slice(0, 1201);
      expect(keys).toHaveLength(1201);
      const quotes = await client.getFullQuotes(session, [...keys, ...keys.slice(0, 50)]);
      expect(quotes.size).toBe(1201);
      const calls = fake.requestsTo("/v2/market-quote/quotes");
      expect(calls).toHaveLength(3);
      for (const c of calls) expect(c.query.get("instrument_key")!.split(",").length).toBeLessThanOrEqual(500);
    });

    it("reads LTP and OHLC from the v3 endpoints, with index keys encoded", async () => {
      const ltp = await client.getLtp(session, [RELIANCE, NIFTY]);
      expect(ltp.get(RELIANCE)!.lastPrice).toBe(fake.getPrice(RELIANCE));
      expect(ltp.has(NIFTY)).toBe(true);
      expect(fake.requestsTo("/v3/market-quote/ltp")[0]!.rawPath).toContain("NSE_INDEX%7CNifty%2050");
      const ohlc = await client.getOhlc(session, [RELIANCE], "I1");
      const bar = ohlc.get(RELIANCE)!;
      expect(bar.lastPrice).toBe(fake.getPrice(RELIANCE));
      expect(bar.live?.high).toBeGreaterThanOrEqual(bar.live?.low ?? Infinity);
      expect(fake.requestsTo("/v3/market-quote/ohlc")[0]!.query.get("interval")).toBe("I1");
    });
  });

  describe("candles", () => {
    it("returns historical candles oldest-first although Upstox sends newest-first", async () => {
      const candles = await client.getHistoricalCandles(session, RELIANCE, "minutes", 15, "2026-11-20", "2026-11-18");
      expect(candles.length).toBeGreaterThan(10);
      for (let i = 1; i < candles.length; i++) expect(candles[i]!.ts).toBeGreaterThan(candles[i - 1]!.ts);
      for (const c of candles) expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
      const req = fake.requestsTo("/v3/historical-candle/")[0]!;
      expect(req.rawPath).toContain("/v3/historical-candle/NSE_EQ%7CINE002A01018/minutes/15/2026-11-20/2026-11-18");
    });

    it("reads today's intraday candles", async () => {
      const candles = await client.getIntradayCandles(session, RELIANCE, "minutes", 1);
      for (let i = 1; i < candles.length; i++) expect(candles[i]!.ts).toBeGreaterThan(candles[i - 1]!.ts);
      expect(fake.requestsTo("/v3/historical-candle/intraday/")).toHaveLength(1);
    });

    it("turns a bad instrument into a request error a trader can read", async () => {
      const err = await client.getHistoricalCandles(session, "NSE_EQ|NOPE", "days", 1, "2026-11-20").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxRequestError);
      expect(traderMessage(err)).toMatch(/didn't recognise that instrument|refused/);
    });
  });

  describe("portfolio and account", () => {
    it("reads holdings, positions, funds and profile into our types", async () => {
      const holdings = await client.getHoldings(session);
      expect(holdings.length).toBeGreaterThan(0);
      expect(holdings[0]).toMatchObject({ instrumentKey: expect.stringContaining("|"), symbol: expect.any(String), quantity: expect.any(Number) });
      const positions = await client.getPositions(session);
      expect(positions.some((p) => p.averagePrice === null)).toBe(true);
      const funds = await client.getFunds(session);
      expect(funds.equity?.availableMargin).toEqual(expect.any(Number));
      const profile = await client.getProfile(session);
      expect(profile.userId).toBe("UPX7");
    });
  });

  describe("orders", () => {
    it("places, modifies and cancels on the HFT host only, and reads back on the main host", async () => {
      const placed = await client.placeOrder(session, {
        instrumentKey: RELIANCE,
        quantity: 2,
        transactionType: "BUY",
        orderType: "LIMIT",
        product: "D",
        price: 1300,
        tag: "uab-test-1",
      });
      expect(placed.reconciled).toBe(false);
      const id = placed.orderIds[0]!;
      const writes = fake.requests.filter((r) => r.path.includes("/order/place"));
      expect(writes.map((r) => r.host)).toEqual(["hft"]);
      expect(writes[0]!.body).toMatchObject({ instrument_token: RELIANCE, quantity: 2, order_type: "LIMIT", price: 1300, tag: "uab-test-1" });

      const details = await client.getOrderDetails(session, id);
      expect(details).toMatchObject({ orderId: id, status: "open", tag: "uab-test-1", quantity: 2 });
      expect(await client.modifyOrder(session, { orderId: id, orderType: "LIMIT", price: 1310 })).toBe(id);
      const book = await client.getOrderBook(session);
      expect(book.find((o) => o.orderId === id)).toBeTruthy();
      expect(await client.cancelOrder(session, id)).toBe(id);
      const history = await client.getOrderHistory(session, { orderId: id });
      expect(history.at(-1)!.status).toBe("cancelled");
      expect(fake.requests.filter((r) => /\/order\/(modify|cancel)/.test(r.path)).every((r) => r.host === "hft")).toBe(true);
      expect(fake.requests.filter((r) => /\/order\/(details|retrieve-all|history)/.test(r.path)).every((r) => r.host === "api")).toBe(true);
    });

    it("fills a market order and lists its trades", async () => {
      const { orderIds } = await client.placeOrder(session, {
        instrumentKey: TCS,
        quantity: 1,
        transactionType: "BUY",
        orderType: "MARKET",
        product: "I",
        tag: "uab-mkt",
      });
      const o = await client.getOrderDetails(session, orderIds[0]!);
      expect(o.status).toBe("complete");
      expect(o.filledQuantity).toBe(1);
      const trades = await client.getTrades(session);
      expect(trades.some((t) => t.orderId === orderIds[0])).toBe(true);
    });

    it("says in words why Upstox refused an order", async () => {
      const err = await client
        .placeOrder(session, { instrumentKey: RELIANCE, quantity: 0, transactionType: "BUY", orderType: "MARKET", product: "D", tag: "uab-q0" })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxRequestError);
      expect(traderMessage(err)).toBe("The quantity must be more than zero.");
      const cancelUnknown = await client.cancelOrder(session, "999999999").catch((e: unknown) => e);
      expect(traderMessage(cancelUnknown)).toBe("Upstox can't find that order.");
    });

    it("a placement cut off by the shutdown while on the wire is reported unclear with its tag, never as not placed", async () => {
      const stopping = new AbortController();
      const cutOff = new AbortController();
      const stoppable = makeClient({ transport: { backoffMs: 20, timeoutMs: 5000, signals: { stopping: stopping.signal, cutOff: cutOff.signal } } });
      fake.delayNext({ ms: 3000, pathPrefix: "/v3/order/place" });
      const placing = stoppable.placeOrder(session, {
        instrumentKey: RELIANCE,
        quantity: 1,
        transactionType: "BUY",
        orderType: "MARKET",
        product: "D",
        tag: "uab-cut-1",
      });
      await new Promise((r) => setTimeout(r, 300));
      cutOff.abort(new ShuttingDownError());
      const err = await placing.catch((e: unknown) => e);
      // Upstox may have the order: never "not placed", never sent again; the tag finds it later.
      expect(err).toBeInstanceOf(OrderOutcomeUnknownError);
      expect((err as OrderOutcomeUnknownError).tag).toBe("uab-cut-1");
      expect(fake.requestsTo("/v3/order/place").length).toBeLessThanOrEqual(1);
      await stoppable.close();
    });

    it("never retries a failed placement blindly: it reconciles by tag", async () => {
      fake.failNext({ status: 503, pathPrefix: "/v3/order/place" });
      const err = await client
        .placeOrder(session, { instrumentKey: RELIANCE, quantity: 1, transactionType: "BUY", orderType: "MARKET", product: "D", tag: "uab-lost-1" })
        .catch((e: unknown) => e);
      // The fake dropped the request, so nothing carries the tag: outcome unknown, not a second order.
      expect(err).toBeInstanceOf(OrderOutcomeUnknownError);
      expect(traderMessage(err)).toMatch(/couldn't confirm.*\/orders/);
      expect(fake.requestsTo("/v3/order/place")).toHaveLength(1);
      expect(fake.requestsTo("/v2/order/history").length).toBeGreaterThanOrEqual(1);
    });

    it("finds the order by tag when the placement answer was lost after Upstox took it", async () => {
      const slow = makeClient({ reconcileDelaysMs: [0, 300, 800], transport: { timeoutMs: 200, backoffMs: 10 } });
      try {
        fake.delayNext({ ms: 600, pathPrefix: "/v3/order/place" });
        const placed = await slow.placeOrder(session, {
          instrumentKey: RELIANCE,
          quantity: 1,
          transactionType: "BUY",
          orderType: "MARKET",
          product: "D",
          tag: "uab-slow-1",
        });
        expect(placed.reconciled).toBe(true);
        expect(placed.orderIds).toHaveLength(1);
        expect(fake.requestsTo("/v3/order/place")).toHaveLength(1);
      } finally {
        await slow.close();
      }
    });
  });

  describe("errors and limits", () => {
    it("maps an expired token to UpstoxTokenError and reports the user, without retrying", async () => {
      fake.expireToken(session.accessToken);
      const err = await client.getHoldings(session).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxTokenError);
      expect((err as UpstoxTokenError).code).toBe("UDAPI100050");
      expect(traderMessage(err)).toMatch(/login has expired.*\/login/);
      expect(rejected).toEqual([7]);
      expect(fake.requestsTo("/v2/portfolio/long-term-holdings")).toHaveLength(1);
    });

    it("retries reads after 5xx and 429 with backoff, and counts the 429", async () => {
      fake.failNext({ status: 500, count: 1, pathPrefix: "/v2/user/profile" });
      fake.failNext({ status: 429, count: 1, pathPrefix: "/v2/user/profile" });
      const profile = await client.getProfile(session);
      expect(profile.userId).toBe("UPX7");
      expect(fake.requestsTo("/v2/user/profile")).toHaveLength(3);
      expect(throttled).toBe(1);
    });

    it("gives up after the retry budget with UpstoxUnavailableError", async () => {
      fake.failNext({ status: 503, count: 4, pathPrefix: "/v2/user/get-funds-and-margin" });
      const err = await client.getFunds(session).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxUnavailableError);
      expect(fake.requestsTo("/v2/user/get-funds-and-margin")).toHaveLength(4);
      expect(traderMessage(err)).toMatch(/trouble/);
    });

    it("reports a 423 funds maintenance window in plain words", async () => {
      fake.failNext({ status: 423, count: 4, pathPrefix: "/v2/user/get-funds-and-margin" });
      const err = await client.getFunds(session).catch((e: unknown) => e);
      expect(traderMessage(err)).toMatch(/maintenance/);
    });

    it("times out a read that never answers, retries it, and surfaces a network error", async () => {
      const slow = makeClient({ transport: { timeoutMs: 150, backoffMs: 10, readRetries: 1 } });
      try {
        fake.delayNext({ ms: 500, count: 2, pathPrefix: "/v2/portfolio/short-term-positions" });
        const err = await slow.getPositions(session).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UpstoxNetworkError);
        expect(fake.requestsTo("/v2/portfolio/short-term-positions").length).toBe(2);
        expect(traderMessage(err)).toMatch(/couldn't reach Upstox/);
      } finally {
        await slow.close();
      }
    });

    it("surfaces a rate-limit error to order writes instead of retrying them", async () => {
      fake.failNext({ status: 429, pathPrefix: "/v3/order/cancel" });
      const err = await client.cancelOrder(session, "123").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxRateLimitError);
      expect(fake.requestsTo("/v3/order/cancel")).toHaveLength(1);
    });
  });

  describe("client-side rate limiting shared through Redis", () => {
    let redis: Redis;
    let prefix: string;
    beforeEach(() => {
      redis = new Redis(TEST_REDIS_URL);
      prefix = uniquePrefix();
    });
    afterEach(async () => {
      await deletePrefix(prefix);
      redis.disconnect();
    });

    it("keeps 120 rapid calls under the server's 50/s, so Upstox never answers 429", async () => {
      const limited = makeClient({ limiter: new RateLimiter({ redis, prefix, limits: UPSTOX_LIMITS }) });
      try {
        const started = Date.now();
        await Promise.all(Array.from({ length: 120 }, () => limited.getLtp(session, [RELIANCE])));
        const elapsed = Date.now() - started;
        const statuses = fake.requestsTo("/v3/market-quote/ltp").map((r) => r.status);
        expect(statuses).toHaveLength(120);
        expect(statuses.filter((s) => s === 429)).toHaveLength(0);
        expect(throttled).toBe(0);
        // 120 calls at 50 per second need at least two full windows.
        expect(elapsed).toBeGreaterThanOrEqual(2000);
      } finally {
        await limited.close();
      }
    });

    it("without the limiter, the same burst is throttled by the server and backs off", async () => {
      const burst = await Promise.allSettled(Array.from({ length: 60 }, () => client.getLtp(session, [RELIANCE])));
      expect(burst.every((r) => r.status === "fulfilled")).toBe(true);
      expect(throttled).toBeGreaterThan(0);
    });
  });

  describe("market information and instruments", () => {
    it("reads holidays, timings and status", async () => {
      const holidays = await client.getHolidays();
      expect(holidays.find((h) => h.date === "2024-01-26")?.closedExchanges).toContain("NSE");
      const weekday = await client.getTimings("2026-11-25");
      expect(weekday.find((t) => t.exchange === "NSE")).toBeTruthy();
      expect(await client.getTimings("2026-11-28")).toEqual([]);
      const status = await client.getMarketStatus(session, "NSE");
      expect(["NORMAL_OPEN", "NORMAL_CLOSE", "PRE_OPEN_START", "PRE_OPEN_END", "CLOSING_START", "CLOSING_END"]).toContain(status.status);
      await expect(client.getMarketStatus(session, "NOPE")).rejects.toBeInstanceOf(UpstoxRequestError);
    });

    it("loads the instruments master into SQLite and resolves RELIANCE to its key", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "uab-instr-"));
      const db: Database = openDatabase(path.join(dir, "bot.sqlite"));
      try {
        const list = await client.downloadInstruments("complete");
        expect(list.length).toBeGreaterThan(1200);
        const repo = new InstrumentRepository(db);
        repo.upsertMany(list);
        expect(repo.findBySymbol("RELIANCE")?.instrumentKey).toBe(RELIANCE);
        expect(repo.findBySymbol("reliance")?.instrumentKey).toBe(RELIANCE);
        expect(repo.findBySymbol("RELIANCE")?.tickSize).toBeCloseTo(0.05, 5);
        expect(fake.requestsTo("/market-quote/instruments/")[0]!.headers.authorization).toBeUndefined();
      } finally {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it("marks the token expired in the store exactly once across repeated 401s", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "uab-tok401-"));
    const db = openDatabase(path.join(dir, "bot.sqlite"));
    try {
      const users = new UserRepository(db);
      const store = new TokenStore(db, randomBytes(32));
      const u = users.create({ telegramId: 55 });
      const token = fake.issueToken({ userId: "UPX55" });
      store.save(u.id, token, "UPX55");
      const reports: number[] = [];
      const c = makeClient({ transport: { onTokenRejected: (id) => store.markExpired(id) && reports.push(id) } });
      fake.expireToken(token);
      const s = store.session(u.id)!;
      await Promise.allSettled([c.getHoldings(s), c.getPositions(s), c.getFunds(s)]);
      expect(reports).toEqual([u.id]);
      expect(store.session(u.id)).toBeUndefined();
      await c.close();
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
