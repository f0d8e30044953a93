import { readFileSync } from "node:fs";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { waitUntil } from "../support/wait.js";
import { charges, FakeUpstox, istMs, MAX_MARGIN_INSTRUMENTS } from "./upstox/index.js";

// Wednesday 2025-01-15 10:30 IST: a normal NSE session.
const START = istMs(2025, 1, 15, 10, 30);
const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
const NIFTY = "NSE_INDEX|Nifty 50";

// Bodies and updates are JSON the fake wrote; the tests assert their fields.
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`./upstox/fixtures/${name}`, import.meta.url), "utf8"));

let clock = START;
let fake: FakeUpstox;
let token: string;
const sockets: WebSocket[] = [];

async function call(
  base: string,
  path: string,
  init: { method?: "GET" | "POST" | "PUT" | "DELETE"; token?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { accept: "application/json", authorization: `Bearer ${init.token ?? token}`, ...init.headers };
  if (init.json !== undefined) headers["content-type"] = "application/json";
  const res = await request(base + path, {
    method: init.method ?? "GET",
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  return { status: res.statusCode, body: await res.body.json() };
}

const rule = (strategy: string, trigger_type: string, trigger_price: number) => ({ strategy, trigger_type, trigger_price });

/** A two-leg BUY GTT on RELIANCE: entry below 1300, target 1400, stop-loss 1250. */
const multipleBody = (over: Record<string, unknown> = {}) => ({
  type: "MULTIPLE",
  quantity: 2,
  product: "D",
  rules: [rule("ENTRY", "BELOW", 1300), rule("TARGET", "IMMEDIATE", 1400), rule("STOPLOSS", "IMMEDIATE", 1250)],
  instrument_token: RELIANCE,
  transaction_type: "BUY",
  ...over,
});

async function placeGtt(body: unknown = multipleBody(), t = token): Promise<string> {
  const res = await call(fake.apiBase, "/v3/order/gtt/place", { method: "POST", json: body, token: t });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.gtt_order_ids[0] as string;
}

const details = async (id?: string, t = token) =>
  call(fake.apiBase, `/v3/order/gtt${id === undefined ? "" : `?gtt_order_id=${encodeURIComponent(id)}`}`, { token: t });

const firstError = (body: Json) => ({ code: body.errors[0].error_code, message: body.errors[0].message });

/** A portfolio socket of the token's user, keeping every update it receives. */
async function portfolioSocket(types: string, t = token): Promise<Json[]> {
  const auth = await call(fake.apiBase, `/v2/feed/portfolio-stream-feed/authorize?update_types=${types}`, { token: t });
  const ws = new WebSocket(auth.body.data.authorized_redirect_uri as string);
  const updates: Json[] = [];
  ws.on("message", (data: Buffer) => updates.push(JSON.parse(data.toString("utf8"))));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  sockets.push(ws);
  return updates;
}

beforeAll(async () => {
  fake = await FakeUpstox.start({ now: () => clock });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  clock += 60 * 60_000; // a fresh hour: empty rate-limit windows
  token = fake.issueToken({ userId: "AB1234" });
  fake.clearRequests();
});
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await waitUntil(() => fake.feedConnections().length === 0, { what: "the fake to see every socket closed" });
});

describe("fake Upstox: GTT orders", () => {
  it("places a GTT on the main host only, with the documented answer and details shapes", async () => {
    const res = await call(fake.apiBase, "/v3/order/gtt/place", { method: "POST", json: multipleBody() });
    expect(res.status).toBe(200);
    const placeFixture = fixture("gtt_place_v3_response.json");
    expect(Object.keys(res.body)).toEqual(Object.keys(placeFixture));
    expect(res.body.data.gtt_order_ids).toHaveLength(1);
    const id = res.body.data.gtt_order_ids[0] as string;
    expect(id).toMatch(/^GTT-CU\d+$/);
    expect(res.body.metadata.latency).toBeGreaterThan(0);

    expect((await call(fake.hftBase, "/v3/order/gtt/place", { method: "POST", json: multipleBody() })).status).toBe(404);

    const got = await details(id);
    expect(got.status).toBe(200);
    const detailsFixture = fixture("gtt_order_details_v3.json");
    expect(Object.keys(got.body)).toEqual(Object.keys(detailsFixture));
    const g = got.body.data[0];
    expect(Object.keys(g)).toEqual(Object.keys(detailsFixture.data[0]));
    // The rule model has trailing_gap (REFERENCE §5.5.3) though the details sample omits it.
    expect(Object.keys(g.rules[0])).toEqual([...Object.keys(detailsFixture.data[0].rules[0]), "trailing_gap"]);
    expect(g).toMatchObject({
      type: "MULTIPLE",
      exchange: "NSE_EQ",
      quantity: 2,
      product: "D",
      trading_symbol: "RELIANCE",
      instrument_token: RELIANCE,
      gtt_order_id: id,
    });
    expect(g.rules.map((r: Json) => [r.strategy, r.status, r.trigger_type, r.trigger_price, r.transaction_type, r.order_id])).toEqual([
      ["ENTRY", "SCHEDULED", "BELOW", 1300, "BUY", null],
      ["TARGET", "PENDING", "IMMEDIATE", 1400, "SELL", null],
      ["STOPLOSS", "PENDING", "IMMEDIATE", 1250, "SELL", null],
    ]);
    // Epoch µs: created now (whole seconds); a delivery GTT lasts a year, to 23:59:59 IST.
    const d = new Date(clock + 330 * 60_000);
    expect(g.created_at).toBe(Math.floor(clock / 1000) * 1_000_000);
    expect(g.expires_at).toBe(istMs(d.getUTCFullYear() + 1, d.getUTCMonth() + 1, d.getUTCDate(), 23, 59, 59) * 1000);
  });

  it("makes an intraday GTT expire at 23:59:59 IST the same day and lists the user's GTTs only", async () => {
    const intraday = await placeGtt({
      type: "SINGLE",
      quantity: 1,
      product: "I",
      rules: [rule("ENTRY", "ABOVE", 4000)],
      instrument_token: TCS,
      transaction_type: "SELL",
    });
    const other = fake.issueToken({ userId: "ZZ9999" });
    const theirs = await placeGtt(multipleBody(), other);
    const d = new Date(clock + 330 * 60_000);
    const mine = (await details()).body.data as Json[];
    expect(mine.map((g) => g.gtt_order_id)).toContain(intraday);
    expect(mine.map((g) => g.gtt_order_id)).not.toContain(theirs);
    const g = mine.find((x) => x.gtt_order_id === intraday);
    expect(g.expires_at).toBe(istMs(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), 23, 59, 59) * 1000);
    expect(g.rules).toEqual([
      {
        strategy: "ENTRY",
        status: "SCHEDULED",
        trigger_type: "ABOVE",
        trigger_price: 4000,
        transaction_type: "SELL",
        message: "",
        order_id: null,
        trailing_gap: null,
      },
    ]);

    const res = await details(theirs);
    expect(res.status).toBe(400);
    expect(res.body.status).toBe("error");
    expect(Object.keys(res.body.errors[0])).toEqual(Object.keys(fixture("error_order_not_found.json").errors[0]));
    expect(firstError(res.body)).toEqual({ code: "UDAPI1136", message: "GTT order not found" });
  });

  it.each([
    ["SINGLE with two rules", { type: "SINGLE", rules: [rule("ENTRY", "BELOW", 1300), rule("TARGET", "IMMEDIATE", 1400)] }, "UDAPI100036", "exactly one rule"],
    ["SINGLE without ENTRY", { type: "SINGLE", rules: [rule("TARGET", "IMMEDIATE", 1400)] }, "UDAPI100036", "ENTRY rule is mandatory"],
    ["MULTIPLE with one rule", { rules: [rule("ENTRY", "BELOW", 1300)] }, "UDAPI100036", "2 or 3 rules"],
    ["MULTIPLE without ENTRY", { rules: [rule("TARGET", "IMMEDIATE", 1400), rule("STOPLOSS", "IMMEDIATE", 1250)] }, "UDAPI100036", "ENTRY rule is mandatory"],
    [
      "a strategy twice",
      { rules: [rule("ENTRY", "BELOW", 1300), rule("TARGET", "IMMEDIATE", 1400), rule("TARGET", "IMMEDIATE", 1450)] },
      "UDAPI100036",
      "only once",
    ],
    ["a TARGET that is not IMMEDIATE", { rules: [rule("ENTRY", "BELOW", 1300), rule("TARGET", "ABOVE", 1400)] }, "UDAPI100036", "only the IMMEDIATE"],
    ["an unknown type", { type: "OCO" }, "UDAPI1126", "Invalid GTT type"],
    ["quantity 0", { quantity: 0 }, "UDAPI1052", "greater than zero"],
    ["product CO", { product: "CO" }, "UDAPI100036", "Invalid product"],
    ["an unknown instrument", { instrument_token: "NSE_EQ|INE000000000" }, "UDAPI1087", "Invalid instrument key"],
    ["an index", { instrument_token: NIFTY }, "UDAPI100036", "index"],
    ["no side", { transaction_type: undefined }, "UDAPI100036", "transaction_type"],
    ["a zero trigger price", { rules: [rule("ENTRY", "BELOW", 0), rule("TARGET", "IMMEDIATE", 1400)] }, "UDAPI100036", "trigger_price"],
  ])("refuses a GTT with %s", async (_what, over, code, words) => {
    const before = fake.allGtts().length;
    const res = await call(fake.apiBase, "/v3/order/gtt/place", { method: "POST", json: multipleBody(over) });
    expect(res.status).toBe(400);
    const err = firstError(res.body);
    expect(err.code).toBe(code);
    expect(err.message).toContain(words);
    expect(fake.allGtts()).toHaveLength(before);
  });

  it("modifies and cancels with a JSON body, checking the id as Upstox does", async () => {
    const id = await placeGtt();
    const modified = await call(fake.apiBase, "/v3/order/gtt/modify", {
      method: "PUT",
      json: { type: "MULTIPLE", quantity: 3, gtt_order_id: id, rules: [rule("ENTRY", "BELOW", 1290), rule("STOPLOSS", "IMMEDIATE", 1240)] },
    });
    expect(modified.status).toBe(200);
    expect(modified.body.data.gtt_order_ids).toEqual([id]);
    expect(fake.getGtt(id)).toMatchObject({
      quantity: 3,
      rules: [
        { strategy: "ENTRY", status: "SCHEDULED", trigger_price: 1290 },
        { strategy: "STOPLOSS", status: "PENDING", trigger_price: 1240 },
      ],
    });

    const cancelIt = (json: unknown, t = token) => call(fake.apiBase, "/v3/order/gtt/cancel", { method: "DELETE", json, token: t });
    expect(firstError((await cancelIt({})).body)).toEqual({ code: "UDAPI1134", message: "gtt_order_id is required" });
    expect(firstError((await cancelIt({ gtt_order_id: "123" })).body)).toEqual({ code: "UDAPI1135", message: "GTT order ID must start with 'GTT-'" });
    expect(firstError((await cancelIt({ gtt_order_id: "GTT-NOPE" })).body).code).toBe("UDAPI1136");
    expect((await cancelIt({ gtt_order_id: id }, fake.issueToken({ userId: "ZZ9999" }))).status).toBe(400);
    // The id in the query, as an order cancel has it, is not how GTT cancel works.
    expect((await call(fake.apiBase, `/v3/order/gtt/cancel?gtt_order_id=${id}`, { method: "DELETE" })).status).toBe(400);

    const cancelled = await cancelIt({ gtt_order_id: id });
    expect(cancelled.status).toBe(200);
    expect(Object.keys(cancelled.body)).toEqual(Object.keys(fixture("gtt_cancel_v3_response.json")));
    expect(cancelled.body.data.gtt_order_ids).toEqual([id]);
    const after = (await details(id)).body.data;
    expect(after.map((g: Json) => g.rules.map((r: Json) => r.status))).toEqual([["CANCELLED", "CANCELLED"]]);
    expect((await cancelIt({ gtt_order_id: id })).status).toBe(400);
    const again = await call(fake.apiBase, "/v3/order/gtt/modify", {
      method: "PUT",
      json: { type: "SINGLE", quantity: 1, gtt_order_id: id, rules: [rule("ENTRY", "BELOW", 1)] },
    });
    expect(firstError(again.body).message).toContain("no longer active");
  });

  it("modifies only the exit legs of an open GTT (ENTRY done), and takes a trailing gap on the stop-loss only", async () => {
    const id = await placeGtt(
      multipleBody({ rules: [rule("ENTRY", "BELOW", 1300), rule("TARGET", "IMMEDIATE", 1400), { ...rule("STOPLOSS", "IMMEDIATE", 1250), trailing_gap: 5 }] }),
    );
    expect(fake.getGtt(id)!.rules[2]).toMatchObject({ strategy: "STOPLOSS", trailing_gap: 5 });
    const gapOnTarget = multipleBody({ rules: [rule("ENTRY", "BELOW", 1300), { ...rule("TARGET", "IMMEDIATE", 1400), trailing_gap: 5 }] });
    expect(firstError((await call(fake.apiBase, "/v3/order/gtt/place", { method: "POST", json: gapOnTarget })).body).message).toContain("trailing_gap");

    const child = fake.triggerGtt(id);
    const modify = (quantity: number, entryType: string) =>
      call(fake.apiBase, "/v3/order/gtt/modify", {
        method: "PUT",
        json: { type: "MULTIPLE", quantity, gtt_order_id: id, rules: [rule("ENTRY", entryType, 1300), rule("TARGET", "IMMEDIATE", 1450)] },
      });
    expect(firstError((await modify(2, "BELOW")).body)).toEqual({
      code: "UDAPI1150",
      message: "Only the IMMEDIATE trigger type is allowed for an open GTT order",
    });
    expect(firstError((await modify(3, "IMMEDIATE")).body).message).toContain("quantity of an open GTT");
    expect((await modify(2, "IMMEDIATE")).status).toBe(200);
    expect(fake.getGtt(id)!.rules.map((r) => [r.strategy, r.status, r.trigger_type, r.trigger_price, r.order_id])).toEqual([
      ["ENTRY", "COMPLETED", "BELOW", 1300, child.order_id],
      ["TARGET", "PENDING", "IMMEDIATE", 1450, null],
    ]);
  });

  it("counts GTT writes in the order budget with the HFT writes (10 a second), the details read in the standard one", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await call(fake.hftBase, "/v3/order/place", {
        method: "POST",
        json: { instrument_token: RELIANCE, quantity: 1, product: "D", validity: "DAY", price: 1200, order_type: "LIMIT", transaction_type: "BUY" },
      });
      expect(res.status).toBe(200);
    }
    for (let i = 0; i < 5; i++) await placeGtt();
    const eleventh = await call(fake.apiBase, "/v3/order/gtt/place", { method: "POST", json: multipleBody() });
    expect(eleventh.status).toBe(429);
    expect(firstError(eleventh.body).code).toBe("UDAPI10005");
    expect((await details()).status).toBe(200);
  });
});

describe("fake Upstox: GTT controls and updates", () => {
  it("triggers the ENTRY leg: TRIGGERED, a LIMIT child order, COMPLETED, each pushed to gtt_order sockets", async () => {
    const updates = await portfolioSocket("order,gtt_order");
    const ordersOnly = await portfolioSocket("order");
    const id = await placeGtt();
    await waitUntil(() => updates.length === 1);
    expect(updates[0]).toMatchObject({
      update_type: "gtt_order",
      gtt_order_id: id,
      rules: [{ status: "SCHEDULED" }, { status: "PENDING" }, { status: "PENDING" }],
    });
    expect(Object.keys(updates[0])).toEqual(Object.keys(fixture("webhook_gtt_update.json")));
    expect(Object.keys(updates[0].rules[0])).toEqual(Object.keys(fixture("webhook_gtt_update.json").rules[0]));

    const child = fake.triggerGtt(id);
    expect(child).toMatchObject({
      order_type: "LIMIT",
      price: 1300,
      quantity: 2,
      transaction_type: "BUY",
      product: "D",
      status: "open",
      instrument_token: RELIANCE,
    });
    expect(fake.getOrder(child.order_id)?.status).toBe("open");
    await waitUntil(() => updates.length === 4);
    expect(updates.slice(1).map((u) => [u.update_type, u.update_type === "order" ? u.status : u.rules[0].status])).toEqual([
      ["gtt_order", "TRIGGERED"],
      ["order", "open"],
      ["gtt_order", "COMPLETED"],
    ]);
    expect(updates[1].rules[0].order_id).toBeNull();
    expect(updates[3].rules.map((r: Json) => [r.strategy, r.status, r.order_id])).toEqual([
      ["ENTRY", "COMPLETED", child.order_id],
      ["TARGET", "PENDING", null],
      ["STOPLOSS", "PENDING", null],
    ]);
    expect(fake.gttUpdatePayload(id)).toEqual(updates[3]);
    await waitUntil(() => ordersOnly.length === 1);
    expect(ordersOnly.map((u) => u.update_type)).toEqual(["order"]);

    // The exit legs wait; the TARGET filling cancels the STOPLOSS, and the GTT leaves the details.
    expect((await details(id)).body.data).toHaveLength(1);
    const exit = fake.triggerGtt(id, { strategy: "TARGET" });
    expect(exit).toMatchObject({ transaction_type: "SELL", price: 1400, quantity: 2 });
    expect(fake.getGtt(id)!.rules.map((r) => r.status)).toEqual(["COMPLETED", "COMPLETED", "CANCELLED"]);
    expect((await details(id)).body.data).toEqual([]);
    expect((await details()).body.data.map((g: Json) => g.gtt_order_id)).not.toContain(id);
    expect(() => fake.triggerGtt(id, { strategy: "STOPLOSS" })).toThrow(/cannot trigger/);
  });

  it("fails the ENTRY leg with the message, rejecting the child order and cancelling the other legs", async () => {
    const updates = await portfolioSocket("gtt_order");
    const id = await placeGtt();
    const reason = "The price set should be within the circuit limits. Please modify your order price.";
    const child = fake.triggerGtt(id, { fail: reason });
    expect(child.status).toBe("rejected");
    expect(fake.getOrder(child.order_id)).toMatchObject({ status: "rejected", status_message: reason });
    await waitUntil(() => updates.length === 3);
    expect(updates[2].rules).toEqual([
      {
        strategy: "ENTRY",
        status: "FAILED",
        trigger_type: "BELOW",
        trigger_price: 1300,
        transaction_type: "BUY",
        message: reason,
        order_id: child.order_id,
        trailing_gap: null,
      },
      {
        strategy: "TARGET",
        status: "CANCELLED",
        trigger_type: "IMMEDIATE",
        trigger_price: 1400,
        transaction_type: "SELL",
        message: "",
        order_id: null,
        trailing_gap: null,
      },
      {
        strategy: "STOPLOSS",
        status: "CANCELLED",
        trigger_type: "IMMEDIATE",
        trigger_price: 1250,
        transaction_type: "SELL",
        message: "",
        order_id: null,
        trailing_gap: null,
      },
    ]);
    // A failed GTT is not a completed one: the details still show it, as the sample does.
    expect((await details(id)).body.data[0].rules[0].status).toBe("FAILED");
  });

  it("expires the legs still waiting and pushes it; cancelling pushes too", async () => {
    const updates = await portfolioSocket("gtt_order");
    const expiring = await placeGtt();
    fake.expireGtt(expiring);
    const cancelled = await placeGtt();
    await call(fake.apiBase, "/v3/order/gtt/cancel", { method: "DELETE", json: { gtt_order_id: cancelled } });
    await waitUntil(() => updates.length === 4);
    expect(updates.map((u) => [u.gtt_order_id, u.rules.map((r: Json) => r.status).join(",")])).toEqual([
      [expiring, "SCHEDULED,PENDING,PENDING"],
      [expiring, "EXPIRED,EXPIRED,EXPIRED"],
      [cancelled, "SCHEDULED,PENDING,PENDING"],
      [cancelled, "CANCELLED,CANCELLED,CANCELLED"],
    ]);
    expect(() => fake.expireGtt(expiring)).toThrow(/no leg left/);
  });

  it("pushes nothing when order updates are off", async () => {
    const quiet = await FakeUpstox.start({ now: () => clock, pushOrderUpdates: false });
    try {
      const t = quiet.issueToken({ userId: "AB1234" });
      const auth = await call(quiet.apiBase, "/v2/feed/portfolio-stream-feed/authorize?update_types=gtt_order", { token: t });
      const ws = new WebSocket(auth.body.data.authorized_redirect_uri as string);
      const got: unknown[] = [];
      ws.on("message", (m) => got.push(m));
      await new Promise<void>((resolve) => ws.once("open", () => resolve()));
      const res = await call(quiet.apiBase, "/v3/order/gtt/place", { method: "POST", json: multipleBody(), token: t });
      quiet.triggerGtt(res.body.data.gtt_order_ids[0]);
      // A sentinel pushed by hand arrives: anything the GTT had sent would have come before it.
      quiet.pushPortfolioUpdate({ update_type: "gtt_order", sentinel: true });
      await waitUntil(() => got.length === 1);
      expect(JSON.parse(String(got[0]))).toEqual({ update_type: "gtt_order", sentinel: true });
      ws.terminate();
    } finally {
      await quiet.close();
    }
  });
});

describe("fake Upstox: margin and brokerage", () => {
  const item = (over: Record<string, unknown> = {}) => ({
    instrument_key: RELIANCE,
    quantity: 10,
    transaction_type: "BUY",
    product: "D",
    price: 1300,
    ...over,
  });
  const margin = (instruments: unknown) => call(fake.apiBase, "/v2/charges/margin", { method: "POST", json: { instruments } });

  it("computes equity margins in the documented shape: the order value for delivery, a fifth of it intraday", async () => {
    const res = await margin([item(), item({ product: "I" }), item({ instrument_key: TCS, quantity: 3, price: undefined })]);
    expect(res.status).toBe(200);
    const f = fixture("charges_margin_response.json");
    expect(Object.keys(res.body.data)).toEqual(Object.keys(f.data));
    expect(Object.keys(res.body.data.margins[0])).toEqual(Object.keys(f.data.margins[0]));
    const tcsValue = Math.round(fake.getPrice(TCS) * 3 * 100) / 100;
    expect(res.body.data.margins.map((m: Json) => [m.equity_margin, m.total_margin, m.span_margin, m.exposure_margin])).toEqual([
      [13000, 13000, 0, 0],
      [2600, 2600, 0, 0],
      [tcsValue, tcsValue, 0, 0],
    ]);
    expect(res.body.data.required_margin).toBeCloseTo(15600 + tcsValue, 2);
    expect(res.body.data.final_margin).toBe(res.body.data.required_margin);
  });

  it(`takes ${MAX_MARGIN_INSTRUMENTS} instruments and refuses ${MAX_MARGIN_INSTRUMENTS + 1}, and bad lines`, async () => {
    expect((await margin(Array.from({ length: MAX_MARGIN_INSTRUMENTS }, () => item()))).status).toBe(200);
    const tooMany = await margin(Array.from({ length: MAX_MARGIN_INSTRUMENTS + 1 }, () => item()));
    expect(tooMany.status).toBe(400);
    expect(firstError(tooMany.body)).toEqual({ code: "UDAPI100036", message: "Maximum 20 instruments are allowed in a margin request" });
    expect((await margin([])).status).toBe(400);
    expect(firstError((await margin([item({ instrument_key: "NSE_EQ|INE000000000" })])).body).code).toBe("UDAPI1087");
    expect(firstError((await margin([item({ product: "X" })])).body).message).toContain("Invalid product");
    expect(firstError((await margin([item({ quantity: 0 })])).body).message).toContain("greater than zero");
  });

  const brokerage = (q: Record<string, string>) => call(fake.apiBase, `/v2/charges/brokerage?${new URLSearchParams(q).toString()}`);
  const full = { instrument_token: RELIANCE, quantity: "100", product: "D", transaction_type: "BUY", price: "1750" };

  it("computes charges in the documented shape, camelCase copies included", async () => {
    const res = await brokerage(full);
    expect(res.status).toBe(200);
    const f = fixture("charges_brokerage.json");
    expect(Object.keys(res.body.data.charges)).toEqual(Object.keys(f.data.charges));
    expect(Object.keys(res.body.data.charges.taxes)).toEqual(Object.keys(f.data.charges.taxes));
    expect(Object.keys(res.body.data.charges.other_charges)).toEqual(Object.keys(f.data.charges.other_charges));
    const c = res.body.data.charges;
    expect(c.otherTaxes).toEqual(c.other_charges);
    expect(c.dpPlan).toEqual(c.dp_plan);
    // ₹1,75,000 delivery buy: no brokerage, STT 0.1 %, stamp 0.015 %, exchange 0.00297 %, GST on it.
    expect(c).toMatchObject({
      brokerage: 0,
      taxes: { stt: 175, stamp_duty: 26.25, gst: 0.94 },
      other_charges: { transaction: 5.2, clearing: 0, ipft: 0.18, sebi_turnover: 0.18 },
    });
    expect(c.total).toBe(207.75);

    // Intraday sell: ₹20 brokerage cap, STT on the sell side only, no stamp duty.
    const intraday = await brokerage({ ...full, product: "I", transaction_type: "SELL" });
    expect(intraday.body.data.charges).toMatchObject({ brokerage: 20, taxes: { stt: 44, stamp_duty: 0 } });
    expect(intraday.body.data.charges.total).toBe(charges({ product: "I", transactionType: "SELL", quantity: 100, price: 1750 }).total);
    // A small intraday order pays 0.1 %.
    expect((await brokerage({ ...full, product: "I", quantity: "1", price: "1000" })).body.data.charges.brokerage).toBe(1);
  });

  it.each([
    ["instrument_token", "UDAPI1059"],
    ["quantity", "UDAPI1060"],
    ["product", "UDAPI1063"],
    ["transaction_type", "UDAPI1062"],
    ["price", "UDAPI1061"],
  ])("refuses a brokerage query without %s", async (name, code) => {
    const q: Record<string, string> = { ...full };
    delete q[name];
    const res = await brokerage(q);
    expect(res.status).toBe(400);
    expect(firstError(res.body)).toEqual({ code, message: `${name} is required` });
  });

  it.each([
    [{ quantity: "0" }, "UDAPI1064"],
    [{ price: "0" }, "UDAPI1065"],
    [{ product: "X" }, "UDAPI1054"],
    [{ transaction_type: "HOLD" }, "UDAPI1057"],
    [{ instrument_token: "NSE_EQ|INE000000000" }, "UDAPI1059"],
  ])("refuses brokerage with %o", async (over, code) => {
    const res = await brokerage({ ...full, ...over });
    expect(res.status).toBe(400);
    expect(firstError(res.body).code).toBe(code);
  });
});

describe("fake Upstox: order writes", () => {
  it("records the X-Algo-Name of every order write, HFT and GTT, and of nothing else", async () => {
    const order = { instrument_token: RELIANCE, quantity: 1, product: "D", validity: "DAY", price: 1200, order_type: "LIMIT", transaction_type: "BUY" };
    const placed = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order, headers: { "x-algo-name": "bot-algo" } });
    const orderId = placed.body.data.order_ids[0] as string;
    await call(fake.hftBase, `/v3/order/cancel?order_id=${orderId}`, { method: "DELETE" });
    const gttId = await placeGtt();
    await call(fake.apiBase, "/v3/order/gtt/cancel", { method: "DELETE", json: { gtt_order_id: gttId }, headers: { "x-algo-name": "bot-algo" } });
    await details();
    expect(fake.orderWriteHeaders()).toEqual([
      { path: "/v3/order/place", algoName: "bot-algo" },
      { path: "/v3/order/cancel", algoName: undefined },
      { path: "/v3/order/gtt/place", algoName: undefined },
      { path: "/v3/order/gtt/cancel", algoName: "bot-algo" },
    ]);
  });

  it("places the order and still answers 500 with failNext afterHandling, so a lookup by tag finds it", async () => {
    fake.failNext({ status: 500, pathPrefix: "/v3/order/place", afterHandling: true });
    const order = {
      instrument_token: RELIANCE,
      quantity: 1,
      product: "D",
      validity: "DAY",
      price: 1200,
      order_type: "LIMIT",
      transaction_type: "BUY",
      tag: "card-42",
    };
    const res = await call(fake.hftBase, "/v3/order/place", { method: "POST", json: order });
    expect(res.status).toBe(500);
    const byTag = await call(fake.apiBase, "/v2/order/history?tag=card-42");
    expect(byTag.status).toBe(200);
    expect(new Set(byTag.body.data.map((r: Json) => r.order_id)).size).toBe(1);
    expect(fake.allOrders().filter((o) => o.tag === "card-42")).toHaveLength(1);
  });
});
