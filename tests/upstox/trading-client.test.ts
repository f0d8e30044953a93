import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { RateLimiter, RateLimitWaitTooLongError } from "../../src/redis/rate-limit.js";
import { MAX_MARGIN_ITEMS, parseGttUpdate, UpstoxClient, type UpstoxClientOptions } from "../../src/upstox/client.js";
import { UpstoxRequestError, UpstoxResponseError, UpstoxUnavailableError } from "../../src/upstox/errors.js";
import type { UpstoxSession } from "../../src/upstox/token-store.js";
import type { GttPlaceRequest, MarginItem } from "../../src/upstox/types.js";
import { FakeUpstox, charges } from "../fakes/upstox/index.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
const log = createLogger({ level: "silent", format: "json" });
const webhookGtt: unknown = JSON.parse(readFileSync(new URL("../fakes/upstox/fixtures/webhook_gtt_update.json", import.meta.url), "utf8"));

/** A two-leg BUY GTT on RELIANCE: entry below 1300, target 1400, stop-loss 1250. */
const twoLeg: GttPlaceRequest = {
  type: "MULTIPLE",
  quantity: 2,
  product: "D",
  instrumentKey: RELIANCE,
  transactionType: "BUY",
  rules: [
    { strategy: "ENTRY", triggerType: "BELOW", triggerPrice: 1300 },
    { strategy: "TARGET", triggerType: "IMMEDIATE", triggerPrice: 1400 },
    { strategy: "STOPLOSS", triggerType: "IMMEDIATE", triggerPrice: 1250 },
  ],
};

const item = (over: Partial<MarginItem> = {}): MarginItem => ({
  instrumentKey: RELIANCE,
  quantity: 10,
  transactionType: "BUY",
  product: "D",
  price: 1300,
  ...over,
});

describe("UpstoxClient trading calls over the fake Upstox", () => {
  let fake: FakeUpstox;
  let session: UpstoxSession;
  let client: UpstoxClient;
  const clients: UpstoxClient[] = [];

  const makeClient = (extra: Partial<UpstoxClientOptions> = {}) => {
    const c = new UpstoxClient({
      apiBase: fake.apiBase,
      hftBase: fake.hftBase,
      assetsBase: fake.apiBase,
      log,
      algoName: "uab-algo",
      reconcileDelaysMs: [0, 100],
      transport: { backoffMs: 20, timeoutMs: 2000 },
      ...extra,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    fake = await FakeUpstox.start();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.clearRequests();
    fake.resetRateLimits();
    session = { userId: 7, accessToken: fake.issueToken({ userId: "UPX7" }) };
    client = makeClient();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  describe("GTT", () => {
    it("places on the main host with X-Algo-Name, and reads it back with µs turned into ms", async () => {
      const before = Date.now();
      const ids = await client.placeGtt(session, twoLeg);
      expect(ids).toHaveLength(1);
      const [id] = ids as [string];
      expect(id).toMatch(/^GTT-/);

      const [rec] = fake.requestsTo("/v3/order/gtt/place");
      expect(rec).toMatchObject({ host: "api", method: "POST" });
      expect(rec!.headers["x-algo-name"]).toBe("uab-algo");
      expect(rec!.body).toEqual({
        type: "MULTIPLE",
        quantity: 2,
        product: "D",
        rules: [
          { strategy: "ENTRY", trigger_type: "BELOW", trigger_price: 1300 },
          { strategy: "TARGET", trigger_type: "IMMEDIATE", trigger_price: 1400 },
          { strategy: "STOPLOSS", trigger_type: "IMMEDIATE", trigger_price: 1250 },
        ],
        instrument_token: RELIANCE,
        transaction_type: "BUY",
      });

      const [gtt] = await client.getGtts(session, id);
      expect(gtt).toEqual({
        gttOrderId: id,
        type: "MULTIPLE",
        segment: "NSE_EQ",
        quantity: 2,
        product: "D",
        instrumentKey: RELIANCE,
        symbol: "RELIANCE",
        rules: [
          {
            strategy: "ENTRY",
            status: "SCHEDULED",
            triggerType: "BELOW",
            triggerPrice: 1300,
            transactionType: "BUY",
            message: null,
            orderId: null,
            trailingGap: null,
          },
          {
            strategy: "TARGET",
            status: "PENDING",
            triggerType: "IMMEDIATE",
            triggerPrice: 1400,
            transactionType: "SELL",
            message: null,
            orderId: null,
            trailingGap: null,
          },
          {
            strategy: "STOPLOSS",
            status: "PENDING",
            triggerType: "IMMEDIATE",
            triggerPrice: 1250,
            transactionType: "SELL",
            message: null,
            orderId: null,
            trailingGap: null,
          },
        ],
        expiresAt: fake.getGtt(id)!.expires_at / 1000,
        createdAt: fake.getGtt(id)!.created_at / 1000,
      });
      expect(gtt!.createdAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(gtt!.createdAt).toBeLessThanOrEqual(Date.now());
      expect(gtt!.expiresAt! - gtt!.createdAt!).toBeGreaterThan(364 * 86_400_000);
      expect((await client.getGtts(session)).map((g) => g.gttOrderId)).toContain(id);
      expect(fake.requests.filter((r) => r.host === "hft")).toEqual([]);
    });

    it("modifies, then cancels with the id in a DELETE's JSON body", async () => {
      const [id] = (await client.placeGtt(session, twoLeg)) as [string];
      const modified = await client.modifyGtt(session, {
        gttOrderId: id,
        type: "SINGLE",
        quantity: 1,
        rules: [{ strategy: "ENTRY", triggerType: "ABOVE", triggerPrice: 1500 }],
      });
      expect(modified).toEqual([id]);
      expect(fake.requestsTo("/v3/order/gtt/modify")[0]!.body).toEqual({
        type: "SINGLE",
        quantity: 1,
        rules: [{ strategy: "ENTRY", trigger_type: "ABOVE", trigger_price: 1500 }],
        gtt_order_id: id,
      });

      expect(await client.cancelGtt(session, id)).toEqual([id]);
      const [rec] = fake.requestsTo("/v3/order/gtt/cancel");
      expect(rec).toMatchObject({ host: "api", method: "DELETE", body: { gtt_order_id: id } });
      expect(rec!.query.toString()).toBe("");
      const [gtt] = await client.getGtts(session, id);
      expect(gtt!.rules.map((r) => [r.strategy, r.status, r.triggerType, r.triggerPrice])).toEqual([["ENTRY", "CANCELLED", "ABOVE", 1500]]);
      expect(fake.orderWriteHeaders().map((w) => [w.path, w.algoName])).toEqual([
        ["/v3/order/gtt/place", "uab-algo"],
        ["/v3/order/gtt/modify", "uab-algo"],
        ["/v3/order/gtt/cancel", "uab-algo"],
      ]);
    });

    it("surfaces Upstox's refusals as UpstoxRequestError with its message and code", async () => {
      const single = { ...twoLeg, type: "SINGLE" as const };
      const err = await client.placeGtt(session, single).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxRequestError);
      expect(err).toMatchObject({ status: 400, code: "UDAPI100036", message: "A SINGLE GTT takes exactly one rule, ENTRY" });

      await expect(client.cancelGtt(session, "12345")).rejects.toMatchObject({
        name: "UpstoxRequestError",
        code: "UDAPI1135",
        message: "GTT order ID must start with 'GTT-'",
      });
      const [theirs] = (await client.placeGtt({ userId: 8, accessToken: fake.issueToken({ userId: "OTHER" }) }, twoLeg)) as [string];
      await expect(client.getGtts(session, theirs)).rejects.toBeInstanceOf(UpstoxRequestError);
      await expect(client.cancelGtt(session, theirs)).rejects.toMatchObject({ code: "UDAPI1136" });
    });

    it("never retries a GTT write after a 5xx", async () => {
      fake.failNext({ status: 503, pathPrefix: "/v3/order/gtt/place", afterHandling: true });
      await expect(client.placeGtt(session, twoLeg)).rejects.toBeInstanceOf(UpstoxUnavailableError);
      expect(fake.requestsTo("/v3/order/gtt/place")).toHaveLength(1);
      // The GTT exists all the same: the caller looks it up rather than placing it again.
      expect((await client.getGtts(session)).map((g) => g.gttOrderId)).toContain(fake.allGtts().at(-1)!.gtt_order_id);
    });

    it("reads the gtt_order update of a triggered GTT, and the documented webhook sample", async () => {
      const [id] = (await client.placeGtt(session, twoLeg)) as [string];
      const child = fake.triggerGtt(id);
      const update = parseGttUpdate(fake.gttUpdatePayload(id));
      expect(update.gttOrderId).toBe(id);
      expect(update.rules[0]).toMatchObject({ strategy: "ENTRY", status: "COMPLETED", orderId: child.order_id });
      // The update has no trading_symbol: the key stands in.
      expect(update.symbol).toBe(RELIANCE);

      const sample = parseGttUpdate(webhookGtt);
      expect(sample).toMatchObject({ gttOrderId: "GTT-CU25270200024002", segment: "NSE_EQ", expiresAt: 1772216999000, createdAt: 1740641185000 });
      expect(sample.rules.map((r) => [r.status, r.message, r.orderId, r.trailingGap])).toEqual([
        ["FAILED", "The price set should be within the circuit limits. Please modify your order price.", "250228010168535", null],
        ["CANCELLED", null, null, 1],
        ["CANCELLED", null, null, null],
      ]);
      expect(() => parseGttUpdate({ update_type: "gtt_order" })).toThrow(UpstoxResponseError);
    });

    it("accepts Upstox's partial_success answer to a GTT write", async () => {
      const server = http.createServer((_req, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "partial_success", data: { gtt_order_ids: ["GTT-C1"] }, errors: [{ message: "one leg refused" }] }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const partial = makeClient({ apiBase: base, hftBase: base });
        expect(await partial.placeGtt(session, twoLeg)).toEqual(["GTT-C1"]);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe("margin and brokerage", () => {
    it("gets the margin of a basket, one entry per item in order", async () => {
      const m = await client.getMargin(session, [item(), item({ product: "I" }), item({ instrumentKey: TCS, quantity: 1, price: undefined })]);
      const tcs = fake.getPrice(TCS);
      expect(m.margins).toEqual([
        { totalMargin: 13000, equityMargin: 13000, spanMargin: 0, exposureMargin: 0 },
        { totalMargin: 2600, equityMargin: 2600, spanMargin: 0, exposureMargin: 0 },
        { totalMargin: tcs, equityMargin: tcs, spanMargin: 0, exposureMargin: 0 },
      ]);
      expect(m.requiredMargin).toBeCloseTo(15600 + tcs, 2);
      expect(m.finalMargin).toBe(m.requiredMargin);
      const [rec] = fake.requestsTo("/v2/charges/margin");
      expect(rec).toMatchObject({ host: "api", method: "POST" });
      // Not an order write: no algo header.
      expect(rec!.headers["x-algo-name"]).toBeUndefined();
      expect((rec!.body as { instruments: unknown[] }).instruments[2]).toEqual({ instrument_key: TCS, quantity: 1, transaction_type: "BUY", product: "D" });
    });

    it(`refuses ${MAX_MARGIN_ITEMS + 1} items before calling Upstox, and none`, async () => {
      expect(
        (
          await client.getMargin(
            session,
            Array.from({ length: MAX_MARGIN_ITEMS }, () => item()),
          )
        ).margins,
      ).toHaveLength(MAX_MARGIN_ITEMS);
      fake.clearRequests();
      const err = await client
        .getMargin(
          session,
          Array.from({ length: MAX_MARGIN_ITEMS + 1 }, () => item()),
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstoxRequestError);
      expect((err as Error).message).toBe("the margin calculator takes 1 to 20 instruments at once, not 21");
      await expect(client.getMargin(session, [])).rejects.toBeInstanceOf(UpstoxRequestError);
      expect(fake.requestsTo("/v2/charges/margin")).toEqual([]);
    });

    it("gets the charges of one side of an order, summing the other charges", async () => {
      const b = await client.getBrokerage(session, { instrumentKey: RELIANCE, quantity: 100, product: "D", transactionType: "BUY", price: 1750 });
      const expected = charges({ product: "D", transactionType: "BUY", quantity: 100, price: 1750 });
      expect(b).toEqual({
        total: expected.total,
        brokerage: 0,
        gst: expected.gst,
        stt: 175,
        stampDuty: expected.stampDuty,
        otherCharges: Math.round((expected.other.transaction + expected.other.clearing + expected.other.ipft + expected.other.sebi_turnover) * 100) / 100,
      });
      expect(b.total).toBeCloseTo(b.brokerage + b.gst + b.stt + b.stampDuty + b.otherCharges, 2);
      const [rec] = fake.requestsTo("/v2/charges/brokerage");
      expect(rec!.host).toBe("api");
      expect(rec!.rawPath).toContain("instrument_token=NSE_EQ%7CINE002A01018");
      expect(Object.fromEntries(rec!.query)).toEqual({ instrument_token: RELIANCE, quantity: "100", product: "D", transaction_type: "BUY", price: "1750" });
    });

    it("surfaces a refused brokerage query with Upstox's code", async () => {
      await expect(
        client.getBrokerage(session, { instrumentKey: RELIANCE, quantity: 1, product: "D", transactionType: "BUY", price: 0 }),
      ).rejects.toMatchObject({
        name: "UpstoxRequestError",
        code: "UDAPI1065",
      });
      await expect(
        client.getBrokerage(session, { instrumentKey: RELIANCE, quantity: 1, product: "Z", transactionType: "SELL", price: 10 }),
      ).rejects.toMatchObject({
        code: "UDAPI1054",
      });
    });
  });

  describe("order writes", () => {
    const limit = { instrumentKey: RELIANCE, quantity: 1, transactionType: "BUY" as const, orderType: "LIMIT" as const, product: "D" as const, price: 1200 };

    it("sends X-Algo-Name on place, modify and cancel when configured, and none otherwise", async () => {
      const { orderIds } = await client.placeOrder(session, { ...limit, tag: "algo-1" });
      await client.modifyOrder(session, { orderId: orderIds[0]!, orderType: "LIMIT", price: 1210 });
      await client.cancelOrder(session, orderIds[0]!);
      const plain = makeClient({ algoName: undefined });
      await plain.placeOrder(session, { ...limit, tag: "plain-1" });
      expect(fake.orderWriteHeaders()).toEqual([
        { path: "/v3/order/place", algoName: "uab-algo" },
        { path: "/v3/order/modify", algoName: "uab-algo" },
        { path: "/v3/order/cancel", algoName: "uab-algo" },
        { path: "/v3/order/place", algoName: undefined },
      ]);
      expect(fake.requests.filter((r) => r.path.startsWith("/v3/order/")).every((r) => r.host === "hft")).toBe(true);
    });

    it("reconciles by tag an order the fake accepted behind a 500, with no second order", async () => {
      fake.failNext({ status: 500, pathPrefix: "/v3/order/place", afterHandling: true });
      const r = await client.placeOrder(session, { ...limit, tag: "card-500" });
      expect(r.reconciled).toBe(true);
      expect(r.orderIds).toEqual(
        fake
          .allOrders()
          .filter((o) => o.tag === "card-500")
          .map((o) => o.order_id),
      );
      expect(r.orderIds).toHaveLength(1);
      expect(fake.requestsTo("/v3/order/place")).toHaveLength(1);
    });

    it("reconciles by tag an order the fake accepted but answered after the client's timeout", async () => {
      fake.delayNext({ ms: 1500, pathPrefix: "/v3/order/place" });
      const impatient = makeClient({ transport: { timeoutMs: 300, backoffMs: 20 } });
      const r = await impatient.placeOrder(session, { ...limit, tag: "card-slow" });
      expect(r).toMatchObject({ reconciled: true });
      expect(fake.allOrders().filter((o) => o.tag === "card-slow")).toHaveLength(1);
      expect(fake.requestsTo("/v3/order/place")).toHaveLength(1);
    });
  });

  describe("rate-limit categories", () => {
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

    it("takes GTT writes from the order budget, margin, brokerage and GTT reads from the standard one", async () => {
      // One order write a minute: the second would wait a minute, which a live call refuses.
      const limiter = new RateLimiter({
        redis,
        prefix,
        limits: { standard: [{ ms: 60_000, limit: 100 }], order: [{ ms: 60_000, limit: 1 }] },
      });
      const limited = makeClient({ limiter });
      const [id] = (await limited.placeGtt(session, twoLeg)) as [string];
      await expect(limited.cancelGtt(session, id)).rejects.toBeInstanceOf(RateLimitWaitTooLongError);
      await expect(
        limited.placeOrder(session, { instrumentKey: RELIANCE, quantity: 1, transactionType: "BUY", orderType: "MARKET", product: "D", tag: "t1" }),
      ).rejects.toBeInstanceOf(RateLimitWaitTooLongError);
      expect(await limited.getGtts(session, id)).toHaveLength(1);
      expect((await limited.getMargin(session, [item()])).margins).toHaveLength(1);
      expect((await limited.getBrokerage(session, { instrumentKey: RELIANCE, quantity: 1, product: "D", transactionType: "BUY", price: 10 })).brokerage).toBe(
        0,
      );
      expect(fake.requestsTo("/v3/order/gtt/cancel")).toEqual([]);
    });
  });
});
