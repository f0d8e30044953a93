import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gttEpochMs, parseGttUpdate, snapshotFromGtt, type GttSnapshot } from "../../src/orders/gtt-update.js";
import { InvalidOrderSnapshotError } from "../../src/orders/snapshot.js";
import { parseOrderWebhook, WebhookPayloadError } from "../../src/orders/webhook.js";
import { parseGttUpdate as clientParseGttUpdate } from "../../src/upstox/client.js";

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fakes/upstox/fixtures/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;
/** The documented gtt_order update (no trading_symbol, no user id). */
const UPDATE = fixture("webhook_gtt_update.json");
/** The details endpoint's GTT, as an update would carry it. */
const DETAILS = { update_type: "gtt_order", ...(fixture("gtt_order_details_v3.json").data as Record<string, unknown>[])[0] };

function gtt(body: unknown): GttSnapshot {
  const r = parseGttUpdate(body);
  if (!r.ok) throw new Error(`expected a GTT: ${r.issues.join("; ")}`);
  return r.snapshot;
}
const issues = (body: unknown): string[] => {
  const r = parseGttUpdate(body);
  if (r.ok) throw new Error("expected the update to be refused");
  return r.issues;
};
const rule = (over: Record<string, unknown> = {}) => ({
  strategy: "ENTRY",
  status: "SCHEDULED",
  trigger_type: "ABOVE",
  trigger_price: 1500,
  transaction_type: "BUY",
  message: "",
  order_id: null,
  trailing_gap: null,
  ...over,
});

describe("parseGttUpdate", () => {
  it("reads the documented update: µs to ms, no symbol, Upstox's empty message as null", () => {
    expect(gtt(UPDATE)).toEqual({
      gttOrderId: "GTT-CU25270200024002",
      type: "MULTIPLE",
      segment: "NSE_EQ",
      instrumentKey: "NSE_EQ|INE806A01020",
      symbol: null,
      quantity: 1,
      product: "D",
      transactionType: "BUY",
      rules: [
        {
          strategy: "ENTRY",
          status: "FAILED",
          triggerType: "IMMEDIATE",
          triggerPrice: 7.7,
          transactionType: "BUY",
          message: "The price set should be within the circuit limits. Please modify your order price.",
          orderId: "250228010168535",
          trailingGap: null,
        },
        {
          strategy: "STOPLOSS",
          status: "CANCELLED",
          triggerType: "IMMEDIATE",
          triggerPrice: 7.6,
          transactionType: "SELL",
          message: null,
          orderId: null,
          trailingGap: 1,
        },
        {
          strategy: "TARGET",
          status: "CANCELLED",
          triggerType: "IMMEDIATE",
          triggerPrice: 7.64,
          transactionType: "SELL",
          message: null,
          orderId: null,
          trailingGap: null,
        },
      ],
      expiresAt: 1772216999000,
      createdAt: 1740641185000,
      upstoxUserId: null,
    });
    // 2026-02-27 23:59:59 IST, as the intraday-or-a-year rule implies.
    expect(new Date(gtt(UPDATE).expiresAt!).toISOString()).toBe("2026-02-27T18:29:59.000Z");
  });

  it("reads the details object (trading_symbol, no trailing_gap) the same way", () => {
    const s = gtt(DETAILS);
    expect(s).toMatchObject({ gttOrderId: "GTT-CU25280200021010", symbol: "IDEA", product: "I", instrumentKey: "NSE_EQ|INE669E01016" });
    expect(s.rules.map((r) => [r.strategy, r.status, r.trailingGap])).toEqual([
      ["ENTRY", "FAILED", null],
      ["STOPLOSS", "CANCELLED", null],
      ["TARGET", "CANCELLED", null],
    ]);
  });

  it("takes numbers as strings, lower-case words, nulls and an -EQ symbol", () => {
    const s = gtt({
      update_type: "gtt_order",
      gtt_order_id: " GTT-C1 ",
      type: "single",
      exchange: null,
      instrument_key: "NSE_EQ|INE002A01018",
      tradingsymbol: "RELIANCE-EQ",
      quantity: "10",
      product: null,
      expires_at: "1772216999000000",
      created_at: null,
      user_id: "UPX5",
      rules: [rule({ status: "triggered", trigger_type: "above", trigger_price: "1500.5", transaction_type: "buy", message: null, order_id: 250101000001 })],
    });
    expect(s).toMatchObject({
      gttOrderId: "GTT-C1",
      type: "SINGLE",
      segment: null,
      instrumentKey: "NSE_EQ|INE002A01018",
      symbol: "RELIANCE",
      quantity: 10,
      product: null,
      expiresAt: 1772216999000,
      createdAt: null,
      upstoxUserId: "UPX5",
    });
    expect(s.rules).toEqual([
      {
        strategy: "ENTRY",
        status: "TRIGGERED",
        triggerType: "ABOVE",
        triggerPrice: 1500.5,
        transactionType: "BUY",
        message: null,
        orderId: "250101000001",
        trailingGap: null,
      },
    ]);
  });

  it("gives an exit leg without a side the opposite of the entry's, and a GTT without a type one by its legs", () => {
    const s = gtt({
      ...UPDATE,
      type: undefined,
      rules: [rule({ transaction_type: "SELL" }), rule({ strategy: "TARGET", trigger_type: "IMMEDIATE", trigger_price: 1400, transaction_type: undefined })],
    });
    expect(s.type).toBe("MULTIPLE");
    expect(s.transactionType).toBe("SELL");
    expect(s.rules.map((r) => r.transactionType)).toEqual(["SELL", "BUY"]);
  });

  it("reads epoch µs, ms and seconds by their size", () => {
    expect(gttEpochMs(1772216999000000)).toBe(1772216999000);
    expect(gttEpochMs(1772216999000)).toBe(1772216999000);
    expect(gttEpochMs(1772216999)).toBe(1772216999000);
    expect([gttEpochMs(null), gttEpochMs(undefined), gttEpochMs(0), gttEpochMs(-5), gttEpochMs(Number.NaN)]).toEqual([null, null, null, null, null]);
  });

  it("refuses what a GTT cannot be told without", () => {
    expect(issues({ ...UPDATE, gtt_order_id: undefined })[0]).toMatch(/^gtt_order_id/);
    expect(issues({ ...UPDATE, rules: [] })[0]).toMatch(/^rules/);
    expect(issues({ ...UPDATE, quantity: "ten" })[0]).toMatch(/^quantity/);
    expect(issues({ ...UPDATE, instrument_token: " " })).toEqual(["instrument_token / instrument_key: required"]);
    expect(issues({ ...UPDATE, rules: [rule({ transaction_type: "HOLD" })] })[0]).toMatch(/ENTRY leg's transaction_type must be BUY or SELL/);
    expect(issues({ ...UPDATE, rules: [rule({ trigger_price: null })] })[0]).toMatch(/^rules\.0\.trigger_price/);
    expect(issues(null)).toHaveLength(1);
    expect(issues("GTT")).toHaveLength(1);
  });
});

describe("parseOrderWebhook routes gtt_order updates", () => {
  it("to a GTT snapshot, from parsed JSON, text or bytes, whatever the update_type's case", () => {
    const expected = { kind: "gtt", updateType: "gtt_order", snapshot: gtt(UPDATE) };
    expect(parseOrderWebhook(UPDATE)).toEqual(expected);
    expect(parseOrderWebhook(JSON.stringify(UPDATE))).toEqual(expected);
    expect(parseOrderWebhook(Buffer.from(JSON.stringify({ ...UPDATE, update_type: "GTT_ORDER" })))).toEqual(expected);
  });

  it("to a typed refusal that says it was a GTT update", () => {
    const r = parseOrderWebhook({ update_type: "gtt_order", gtt_order_id: "GTT-1", rules: [] });
    if (r.kind !== "invalid") throw new Error(`expected invalid, got ${r.kind}`);
    expect(r.updateType).toBe("gtt_order");
    expect(r.error).toBeInstanceOf(WebhookPayloadError);
    expect(r.error.message).toMatch(/^invalid GTT update: /);
  });

  it("leaves position and holding updates ignored", () => {
    expect(parseOrderWebhook({ update_type: "holding", isin: "INE002A01018" })).toEqual({ kind: "ignored", updateType: "holding" });
  });
});

describe("snapshotFromGtt", () => {
  it("gives the Upstox client's GTT the same snapshot as the update it came from", () => {
    for (const body of [UPDATE, DETAILS]) expect(snapshotFromGtt(clientParseGttUpdate(body))).toEqual(gtt(body));
  });

  it("refuses an entry leg without a side", () => {
    const g = clientParseGttUpdate(UPDATE);
    expect(() => snapshotFromGtt({ ...g, rules: g.rules.map((r) => ({ ...r, transactionType: "" })) })).toThrow(InvalidOrderSnapshotError);
  });
});
