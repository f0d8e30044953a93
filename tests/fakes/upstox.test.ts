import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeUpstox, istMs, type Candle } from "./upstox/index.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./upstox/fixtures/${name}`, import.meta.url), "utf8"));

// Wednesday 2025-01-15 10:30 IST: a normal NSE session.
const START = istMs(2025, 1, 15, 10, 30);
let clock = START;
let fake: FakeUpstox;
let token: string;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(
  base: string,
  path: string,
  init: { method?: "GET" | "POST" | "PUT" | "DELETE"; token?: string | null; json?: unknown; form?: Record<string, string> } = {},
): Promise<Res> {
  const headers: Record<string, string> = { accept: "application/json" };
  const t = init.token === undefined ? token : init.token;
  if (t) headers.authorization = `Bearer ${t}`;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(init.form).toString();
  }
  const res = await request(base + path, { method: init.method ?? "GET", headers, body });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, headers: res.headers, body: parsed };
}

const q = (keys: string[]) => `instrument_key=${keys.map(encodeURIComponent).join(",")}`;

beforeAll(async () => {
  fake = await FakeUpstox.start({ now: () => clock, instruments: 600 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  clock += 60 * 60_000; // a fresh hour: every test starts with empty rate-limit windows
  token = fake.issueToken({ userId: "AB1234" });
  fake.clearRequests();
});

describe("fake Upstox: market quotes", () => {
  it("keys the full-quote map by segment:symbol and carries instrument_token", async () => {
    clock = START;
    fake.setPrice("NSE_EQ|INE002A01018", 1425.5);
    fake.setPrevClose("NSE_EQ|INE002A01018", 1400);
    const res = await call(fake.apiBase, `/v2/market-quote/quotes?${q(["NSE_EQ|INE002A01018", "NSE_INDEX|Nifty 50", "NSE_EQ|INE000000000"])}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("success");
    expect(Object.keys(res.body.data).sort()).toEqual(["NSE_EQ:RELIANCE", "NSE_INDEX:Nifty 50"]);
    const rel = res.body.data["NSE_EQ:RELIANCE"];
    expect(rel.instrument_token).toBe("NSE_EQ|INE002A01018");
    expect(rel.last_price).toBe(1425.5);
    expect(rel.ohlc.close).toBe(1400);
    expect(rel.net_change).toBe(25.5);
    expect(rel.depth.buy).toHaveLength(5);
    expect(rel.depth.sell).toHaveLength(5);
    expect(typeof rel.last_trade_time).toBe("string");
    expect(rel.timestamp).toMatch(/\+05:30$/);
    // Same field set as the documented sample.
    const sample = Object.values((fixture("market_quote_full_v2.json") as { data: Record<string, object> }).data)[0]!;
    expect(Object.keys(rel).sort()).toEqual(Object.keys(sample).sort());
    const [rec] = fake.requestsTo("/v2/market-quote/quotes");
    expect(rec?.rawPath).toContain("NSE_EQ%7CINE002A01018");
    expect(rec?.headers.accept).toBe("application/json");
    expect(rec?.status).toBe(200);
  });

  it("serves v3 LTP and OHLC (interval required)", async () => {
    const ltp = await call(fake.apiBase, `/v3/market-quote/ltp?${q(["NSE_EQ|INE467B01029"])}`);
    expect(ltp.body.data["NSE_EQ:TCS"]).toMatchObject({ instrument_token: "NSE_EQ|INE467B01029", last_price: fake.getPrice("NSE_EQ|INE467B01029") });
    expect(ltp.body.data["NSE_EQ:TCS"]).toHaveProperty("cp");
    const ohlc = await call(fake.apiBase, `/v3/market-quote/ohlc?${q(["NSE_EQ|INE009A01021"])}&interval=I1`);
    expect(ohlc.status).toBe(200);
    const infy = ohlc.body.data["NSE_EQ:INFY"];
    expect(infy.live_ohlc.ts - infy.prev_ohlc.ts).toBe(60_000);
    const sample = Object.values((fixture("market_quote_ohlc_v3.json") as { data: Record<string, Record<string, object>> }).data)[0]!;
    expect(Object.keys(infy).sort()).toEqual(Object.keys(sample).sort());
    expect(Object.keys(infy.live_ohlc).sort()).toEqual(Object.keys(sample.live_ohlc!).sort());
    const noInterval = await call(fake.apiBase, `/v3/market-quote/ohlc?${q(["NSE_EQ|INE009A01021"])}`);
    expect(noInterval.status).toBe(400);
    expect(noInterval.body.errors[0].error_code).toBe("UDAPI1011");
  });

  it("refuses more than 500 keys", async () => {
    const keys = fake
      .instrumentKeys()
      .filter((k) => k.startsWith("NSE_EQ|"))
      .slice(0, 501);
    expect(keys).toHaveLength(501);
    const full = await call(fake.apiBase, `/v2/market-quote/quotes?${q(keys)}`);
    expect(full.status).toBe(400);
    expect(full.body.errors[0]).toMatchObject({ error_code: "UDAPI100042", errorCode: "UDAPI100042", message: "Maximum instrument key limit exceeded" });
    const ltp = await call(fake.apiBase, `/v3/market-quote/ltp?${q(keys)}`);
    expect(ltp.body.errors[0].error_code).toBe("UDAPI100043");
    const ok = await call(fake.apiBase, `/v2/market-quote/quotes?${q(keys.slice(0, 500))}`);
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body.data)).toHaveLength(500);
  });

  it("refuses an unencoded pipe", async () => {
    const res = await call(fake.apiBase, "/v3/market-quote/ltp?instrument_key=NSE_EQ|INE002A01018");
    expect(res.status).toBe(400);
    expect(res.body.errors[0].error_code).toBe("UDAPI10000");
  });
});

describe("fake Upstox: auth", () => {
  it("answers 401 UDAPI100050 (fixture body) for expired, unknown and missing tokens", async () => {
    const path = "/v2/user/profile";
    const good = await call(fake.apiBase, path);
    expect(good.status).toBe(200);
    expect(good.body.data.user_id).toBe("AB1234");
    fake.expireToken(token);
    const expired = await call(fake.apiBase, path);
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual(fixture("error_invalid_token_401.json"));
    expect((await call(fake.apiBase, path, { token: "nope" })).status).toBe(401);
    expect((await call(fake.apiBase, path, { token: null })).status).toBe(401);
    const timed = fake.issueToken({ expiresAt: clock + 1000 });
    expect((await call(fake.apiBase, path, { token: timed })).status).toBe(200);
    clock += 1000;
    expect((await call(fake.apiBase, path, { token: timed })).status).toBe(401);
  });

  it("exchanges a single-use auth code for a bare token object", async () => {
    fake.addAuthCode("code-1", { userId: "ZX9876" });
    const form = {
      code: "code-1",
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
      redirect_uri: fake.redirectUri,
      grant_type: "authorization_code",
    };
    const res = await call(fake.apiBase, "/v2/login/authorization/token", { method: "POST", token: null, form });
    expect(res.status).toBe(200);
    expect(res.body.status).toBeUndefined();
    expect(res.body.user_id).toBe("ZX9876");
    const profile = await call(fake.apiBase, "/v2/user/profile", { token: res.body.access_token });
    expect(profile.body.data.user_id).toBe("ZX9876");
    const again = await call(fake.apiBase, "/v2/login/authorization/token", { method: "POST", token: null, form });
    expect(again.status).toBe(400);
    expect(again.body.errors[0].error_code).toBe("UDAPI100057");
    fake.addAuthCode("code-2");
    const badSecret = await call(fake.apiBase, "/v2/login/authorization/token", {
      method: "POST",
      token: null,
      form: { ...form, code: "code-2", client_secret: "x" },
    });
    expect(badSecret.status).toBe(401);
    expect(badSecret.body.errors[0].error_code).toBe("UDAPI100016");
  });
});

describe("fake Upstox: rate limits", () => {
  it("allows 50 standard calls per second per token, then 429 with retry-after", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await call(fake.apiBase, "/v2/user/profile")).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const limited = await call(fake.apiBase, "/v2/user/profile");
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual(fixture("error_rate_limit_429.json"));
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // Another token has its own budget; the same token recovers when the second passes.
    expect((await call(fake.apiBase, "/v2/user/profile", { token: fake.issueToken() })).status).toBe(200);
    clock += 1000;
    expect((await call(fake.apiBase, "/v2/user/profile")).status).toBe(200);
  });

  it("allows 10 order writes per second", async () => {
    const body = {
      quantity: 1,
      product: "D",
      validity: "DAY",
      price: 1000,
      tag: "rl",
      instrument_token: "NSE_EQ|INE002A01018",
      order_type: "LIMIT",
      transaction_type: "BUY",
      disclosed_quantity: 0,
      trigger_price: 0,
      is_amo: false,
    };
    const results = await Promise.all(Array.from({ length: 11 }, () => call(fake.hftBase, "/v3/order/place", { method: "POST", json: body })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    expect(results.filter((r) => r.status === 429)).toHaveLength(1);
  });
});

describe("fake Upstox: orders", () => {
  const order = (over: Record<string, unknown> = {}) => ({
    quantity: 2,
    product: "D",
    validity: "DAY",
    price: 0,
    tag: "alert-1",
    instrument_token: "NSE_EQ|INE062A01020",
    order_type: "MARKET",
    transaction_type: "BUY",
    disclosed_quantity: 0,
    trigger_price: 0,
    is_amo: false,
    ...over,
  });

  it("places orders only on the HFT host", async () => {
    const wrongHost = await call(fake.apiBase, "/v3/order/place", { method: "POST", json: order() });
    expect(wrongHost.status).toBe(404);
    expect(wrongHost.body.status).toBe("error");
    const notOnHft = await call(fake.hftBase, "/v2/user/profile");
    expect(notOnHft.status).toBe(404);

    fake.setPrice("NSE_EQ|INE062A01020", 820.35);
    const placed = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order() });
    expect(placed.status).toBe(200);
    expect(placed.body.metadata.latency).toBeGreaterThanOrEqual(1);
    const [id] = placed.body.data.order_ids as string[];
    const details = await call(fake.apiBase, `/v2/order/details?order_id=${id}`);
    expect(details.body.data).toMatchObject({
      order_id: id,
      status: "complete",
      filled_quantity: 2,
      average_price: 820.35,
      tag: "alert-1",
      exchange: "NSE",
      trading_symbol: "SBIN",
    });
    const history = await call(fake.apiBase, "/v2/order/history?tag=alert-1");
    expect(history.body.data.map((r: { status: string }) => r.status)).toEqual([
      "put order req received",
      "validation pending",
      "open pending",
      "open",
      "complete",
    ]);
    const trades = await call(fake.apiBase, `/v2/order/trades?order_id=${id}`);
    expect(trades.body.data[0]).toMatchObject({ order_id: id, quantity: 2, average_price: 820.35 });
    const sampleOrder = (fixture("order_details.json") as { data: object }).data;
    for (const k of Object.keys(sampleOrder)) expect(details.body.data).toHaveProperty(k);
    const sampleRow = (fixture("order_history.json") as { data: object[] }).data[0]!;
    expect(Object.keys(history.body.data[0]).sort()).toEqual(Object.keys(sampleRow).sort());
    const cancelDone = await call(fake.hftBase, `/v3/order/cancel?order_id=${id}`, { method: "DELETE" });
    expect(cancelDone.status).toBe(400);
    expect(cancelDone.body.errors[0].error_code).toBe("UDAPI100040");
  });

  it("keeps LIMIT orders open, modifies, cancels and follows setOrderStatus", async () => {
    const placed = await call(fake.hftBase, "/v2/order/place", { method: "POST", json: order({ order_type: "LIMIT", price: 800, tag: "lim" }) });
    const id = placed.body.data.order_id as string;
    expect((await call(fake.apiBase, `/v2/order/details?order_id=${id}`)).body.data.status).toBe("open");
    const mod = await call(fake.hftBase, "/v3/order/modify", {
      method: "PUT",
      json: { order_id: id, order_type: "LIMIT", validity: "DAY", price: 805, trigger_price: 0 },
    });
    expect(mod.body).toMatchObject({ status: "success", data: { order_id: id } });
    fake.setOrderStatus(id, "open", { filledQuantity: 1, averagePrice: 805 });
    const cancel = await call(fake.hftBase, `/v3/order/cancel?order_id=${id}`, { method: "DELETE" });
    expect(cancel.body.data.order_id).toBe(id);
    const after = (await call(fake.apiBase, `/v2/order/details?order_id=${id}`)).body.data;
    expect(after).toMatchObject({ status: "cancelled", filled_quantity: 1, pending_quantity: 1, price: 805 });
    const unknown = await call(fake.hftBase, "/v3/order/cancel?order_id=999", { method: "DELETE" });
    expect(unknown.body.errors[0].error_code).toBe("UDAPI100010");
    // Another user cannot see it.
    const other = fake.issueToken({ userId: "OTHER1" });
    expect((await call(fake.apiBase, `/v2/order/details?order_id=${id}`, { token: other })).body.errors[0].error_code).toBe("UDAPI100010");
  });

  it("can fail an order write after placing it (outcome unclear)", async () => {
    fake.failNext({ status: 502, pathPrefix: "/v3/order/place", afterHandling: true });
    const res = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order({ tag: "unclear-1" }) });
    expect(res.status).toBe(502);
    const byTag = await call(fake.apiBase, "/v2/order/history?tag=unclear-1");
    expect(byTag.body.data.at(-1).status).toBe("complete");
    fake.failNext({ status: 500, pathPrefix: "/v3/order/place" });
    await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order({ tag: "unclear-2" }) });
    expect((await call(fake.apiBase, "/v2/order/history?tag=unclear-2")).body.data).toEqual([]);
  });

  it("validates the order body", async () => {
    const zero = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order({ quantity: 0 }) });
    expect(zero.body.errors[0].error_code).toBe("UDAPI1052");
    const badType = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order({ order_type: "STOP" }) });
    expect(badType.body.errors[0].error_code).toBe("UDAPI1056");
    const noKey = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order({ instrument_token: undefined }) });
    expect(noKey.body.errors[0].error_code).toBe("UDAPI1026");
    const limitNoPrice = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order({ order_type: "LIMIT", price: 0 }) });
    expect(limitNoPrice.status).toBe(400);
  });
});

describe("fake Upstox: candles, market info, instruments", () => {
  it("returns candles newest first, within market hours, ISO +05:30", async () => {
    clock = istMs(2025, 1, 17, 16, 0); // Friday after the close
    const key = encodeURIComponent("NSE_EQ|INE002A01018");
    const res = await call(fake.apiBase, `/v3/historical-candle/${key}/minutes/30/2025-01-17/2025-01-13`);
    expect(res.status).toBe(200);
    const candles = res.body.data.candles as Candle[];
    expect(candles).toHaveLength(5 * 13); // 09:15 … 15:15, 13 half-hour candles a day
    expect(candles[0]![0]).toBe("2025-01-17T15:15:00+05:30");
    expect(candles.at(-1)![0]).toBe("2025-01-13T09:15:00+05:30");
    const ts = candles.map((c) => Date.parse(c[0]));
    expect(ts.every((t, i) => i === 0 || t < ts[i - 1]!)).toBe(true);
    for (const [, o, h, l, c, v, oi] of candles) {
      expect(h).toBeGreaterThanOrEqual(Math.max(o, c));
      expect(l).toBeLessThanOrEqual(Math.min(o, c));
      expect(v).toBeGreaterThan(0);
      expect(oi).toBe(0);
    }
    const days = await call(fake.apiBase, `/v3/historical-candle/${key}/days/1/2025-01-19/2025-01-01`);
    expect(days.body.data.candles[0][0]).toBe("2025-01-17T00:00:00+05:30");
    expect(days.body.data.candles).toHaveLength(13); // weekdays 1–17 Jan 2025
    const intraday = await call(fake.apiBase, `/v3/historical-candle/intraday/${key}/minutes/1`);
    expect(intraday.body.data.candles).toHaveLength(375);
    const unknown = await call(fake.apiBase, `/v3/historical-candle/${encodeURIComponent("NSE_EQ|INE000000000")}/days/1/2025-01-17`);
    expect(unknown.body.errors[0].error_code).toBe("UDAPI100011");
    const badUnit = await call(fake.apiBase, `/v3/historical-candle/${key}/minutes/301/2025-01-17`);
    expect(badUnit.status).toBe(400);
  });

  it("reports timings and status from the clock", async () => {
    clock = istMs(2025, 1, 15, 11, 0);
    const timings = await call(fake.apiBase, "/v2/market/timings/2025-01-15", { token: null });
    expect(timings.body.data.find((t: { exchange: string }) => t.exchange === "NSE")).toEqual({
      exchange: "NSE",
      start_time: istMs(2025, 1, 15, 9, 15),
      end_time: istMs(2025, 1, 15, 15, 30),
    });
    expect((await call(fake.apiBase, "/v2/market/timings/2025-01-18", { token: null })).body.data).toEqual([]);
    expect((await call(fake.apiBase, "/v2/market/status/NSE")).body.data.status).toBe("NORMAL_OPEN");
    clock = istMs(2025, 1, 15, 16, 0);
    expect((await call(fake.apiBase, "/v2/market/status/NSE")).body.data).toEqual({
      exchange: "NSE",
      status: "NORMAL_CLOSE",
      last_updated: istMs(2025, 1, 15, 15, 30),
    });
    expect((await call(fake.apiBase, "/v2/market/status/XYZ")).body.errors[0].error_code).toBe("UDAPI1089");
    expect((await call(fake.apiBase, "/v2/market/timings/2025-13-01", { token: null })).body.errors[0].error_code).toBe("UDAPI1088");
  });

  it("serves a gzip instruments master without auth", async () => {
    const res = await request(`${fake.apiBase}/market-quote/instruments/exchange/complete.json.gz`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/gzip");
    const records = JSON.parse(gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString("utf8")) as Array<Record<string, unknown>>;
    const keys = new Set(records.map((r) => r.instrument_key));
    for (const k of ["NSE_EQ|INE002A01018", "NSE_EQ|INE467B01029", "NSE_INDEX|Nifty 50", "NSE_FO|36702", "NSE_EQ|INEGEN000600"]) expect(keys.has(k)).toBe(true);
    expect(records.length).toBe(fake.instrumentKeys().length);
    const nse = await request(`${fake.apiBase}/market-quote/instruments/exchange/NSE.json.gz`);
    const nseRecords = JSON.parse(gunzipSync(Buffer.from(await nse.body.arrayBuffer())).toString("utf8")) as Array<{ exchange: string }>;
    expect(nseRecords.every((r) => r.exchange === "NSE")).toBe(true);
  });
});

describe("fake Upstox: plumbing", () => {
  it("404s unknown paths, 405s wrong methods, injects failures and delays", async () => {
    const nf = await call(fake.apiBase, "/v2/nope");
    expect(nf.status).toBe(404);
    expect(nf.body.errors[0].error_code).toBe("UDAPI100060");
    expect((await call(fake.apiBase, "/v2/user/profile", { method: "POST", json: {} })).status).toBe(405);

    fake.failNext({ status: 503, count: 2, pathPrefix: "/v2/user" });
    expect((await call(fake.apiBase, "/v2/user/profile")).status).toBe(503);
    expect((await call(fake.apiBase, "/v2/portfolio/long-term-holdings")).status).toBe(200);
    expect((await call(fake.apiBase, "/v2/user/profile")).status).toBe(503);
    expect((await call(fake.apiBase, "/v2/user/profile")).status).toBe(200);
    fake.failNext({ status: 429 });
    const throttled = await call(fake.apiBase, "/v2/user/profile");
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("1");

    fake.delayNext({ ms: 150 });
    const t0 = performance.now();
    await call(fake.apiBase, "/v2/user/profile");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it("closes cleanly with pending delayed requests and open keep-alive sockets", async () => {
    const other = await FakeUpstox.start({ enforceRateLimits: false });
    const t = other.issueToken();
    const r = await call(other.apiBase, "/v2/user/profile", { token: t });
    expect(r.status).toBe(200);
    other.delayNext({ ms: 60_000 });
    const pending = call(other.apiBase, "/v2/user/profile", { token: t }).catch((e: Error) => e);
    await new Promise((res) => setTimeout(res, 50));
    const t0 = performance.now();
    await other.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
