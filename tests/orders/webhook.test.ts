import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { snapshotFromOrder, parseIstTimestamp, InvalidOrderSnapshotError } from "../../src/orders/snapshot.js";
import { parseOrderWebhook, WebhookPayloadError, type WebhookParseResult } from "../../src/orders/webhook.js";
import type { Order } from "../../src/upstox/types.js";

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;
const CURRENT = fixture("webhook_order_update.json");
const LEGACY = fixture("webhook_order_update_legacy_2023.json");

function order(r: WebhookParseResult) {
  if (r.kind !== "order") throw new Error(`expected an order, got ${r.kind}: ${r.kind === "invalid" ? r.error.message : r.updateType}`);
  return r.snapshot;
}

function invalid(r: WebhookParseResult): WebhookPayloadError {
  if (r.kind !== "invalid") throw new Error(`expected invalid, got ${r.kind}`);
  expect(r.error).toBeInstanceOf(WebhookPayloadError);
  return r.error;
}

describe("parseOrderWebhook", () => {
  it("parses the current payload (update_type order)", () => {
    expect(order(parseOrderWebhook(CURRENT))).toEqual({
      orderId: "240221025997024",
      status: "put order req received",
      quantity: 1,
      filledQuantity: 0,
      averagePrice: 0,
      price: 0,
      triggerPrice: 0,
      symbol: "NHPC",
      instrumentKey: "NSE_EQ|INE848E01016",
      transactionType: "BUY",
      orderType: "MARKET",
      product: "D",
      statusMessage: null,
      upstoxUserId: "******",
      tag: null,
      at: Date.parse("2024-02-21T14:40:02+05:30"),
    });
  });

  it("parses the 2023 payload (no update_type, userId only, instrument_token only, null average price)", () => {
    expect(order(parseOrderWebhook(LEGACY))).toEqual({
      orderId: "230822025708869",
      status: "cancelled after market order",
      quantity: 1,
      filledQuantity: 0,
      averagePrice: null,
      price: 16.78,
      triggerPrice: 0,
      symbol: "BAJAJHIND",
      instrumentKey: "BSE_EQ|INE306A01021",
      transactionType: "BUY",
      orderType: "LIMIT",
      product: "D",
      statusMessage: null,
      upstoxUserId: "******",
      tag: null,
      at: Date.parse("2023-08-23T08:11:57+05:30"),
    });
  });

  it("accepts the raw body text or a Buffer", () => {
    expect(order(parseOrderWebhook(JSON.stringify(CURRENT))).orderId).toBe("240221025997024");
    expect(order(parseOrderWebhook(Buffer.from(JSON.stringify(LEGACY)))).orderId).toBe("230822025708869");
  });

  it("prefers user_id, instrument_key and exchange_timestamp; normalises the status", () => {
    const s = order(
      parseOrderWebhook({
        ...CURRENT,
        user_id: "AB1234",
        userId: "ZZ9999",
        instrument_key: "NSE_EQ|INE848E01016",
        instrument_token: "NSE_EQ|OTHER",
        status: " Open ",
        exchange_timestamp: "2024-02-21 14:40:05",
        status_message: "  ",
        tag: "bot-7",
      }),
    );
    expect(s.upstoxUserId).toBe("AB1234");
    expect(s.instrumentKey).toBe("NSE_EQ|INE848E01016");
    expect(s.status).toBe("open");
    expect(s.at).toBe(Date.parse("2024-02-21T14:40:05+05:30"));
    expect(s.statusMessage).toBeNull();
    expect(s.tag).toBe("bot-7");
  });

  it("lets unknown fields through and takes numbers sent as strings", () => {
    const s = order(parseOrderWebhook({ ...CURRENT, something_new: { a: 1 }, quantity: "10", filled_quantity: "4", average_price: "101.5" }));
    expect(s).toMatchObject({ quantity: 10, filledQuantity: 4, averagePrice: 101.5 });
  });

  it("ignores other update types with a typed result, and hands gtt_order updates to the GTT parser", () => {
    const gtt = parseOrderWebhook({ update_type: "gtt_order", gtt_order_id: "GTT-1", type: "SINGLE", exchange: "NSE_EQ", rules: [] });
    expect(gtt.kind === "invalid" && gtt.updateType).toBe("gtt_order");
    expect(parseOrderWebhook({ ...CURRENT, update_type: "position" })).toEqual({ kind: "ignored", updateType: "position" });
  });

  it("rejects garbage with a typed error", () => {
    expect(invalid(parseOrderWebhook("not json {")).issues).toEqual(["body is not JSON"]);
    invalid(parseOrderWebhook(null));
    invalid(parseOrderWebhook(42));
    invalid(parseOrderWebhook([CURRENT]));
    invalid(parseOrderWebhook({}));
    invalid(parseOrderWebhook({ update_type: 7 }));
  });

  it("names the missing essentials", () => {
    const { order_id: _id, status: _status, ...rest } = CURRENT;
    const err = invalid(parseOrderWebhook(rest));
    expect(err.issues.join(" ")).toMatch(/order_id/);
    expect(err.issues.join(" ")).toMatch(/status/);
    expect(err.message).toMatch(/^invalid order update: /);

    expect(invalid(parseOrderWebhook({ ...CURRENT, transaction_type: "HOLD" })).issues).toEqual(['transaction_type: expected BUY or SELL, got "HOLD"']);
    expect(invalid(parseOrderWebhook({ ...CURRENT, instrument_key: null, instrument_token: "" })).issues).toEqual([
      "instrument_key / instrument_token: required",
    ]);
    expect(invalid(parseOrderWebhook({ ...CURRENT, quantity: "ten" })).issues.join(" ")).toMatch(/quantity/);
  });
});

describe("snapshots from the order book", () => {
  const base: Order = {
    orderId: "231019025057849",
    instrumentKey: "BSE_EQ|INE220J01025",
    symbol: "FCONSUMER-EQ",
    exchange: "BSE",
    product: "D",
    orderType: "LIMIT",
    transactionType: "BUY",
    quantity: 1,
    price: 0.8,
    triggerPrice: 0,
    averagePrice: 0.8,
    filledQuantity: 1,
    pendingQuantity: 0,
    status: "complete",
    statusMessage: null,
    tag: null,
    placedAt: "2023-10-19 09:23:23",
  };

  it("maps an Order the way the webhook does", () => {
    expect(snapshotFromOrder(base)).toMatchObject({
      orderId: "231019025057849",
      symbol: "FCONSUMER",
      status: "complete",
      upstoxUserId: null,
      at: Date.parse("2023-10-19T09:23:23+05:30"),
    });
  });

  it("refuses a transaction type other than BUY/SELL", () => {
    expect(() => snapshotFromOrder({ ...base, transactionType: "X" })).toThrow(InvalidOrderSnapshotError);
  });

  it("parses IST timestamps and nothing else", () => {
    expect(parseIstTimestamp("2023-10-19 13:25:56")).toBe(Date.parse("2023-10-19T07:55:56Z"));
    expect(parseIstTimestamp("03-Aug-2017 15:03:42")).toBeNull();
    expect(parseIstTimestamp("2023-13-01 00:00:00")).toBeNull();
    expect(parseIstTimestamp(null)).toBeNull();
  });
});
