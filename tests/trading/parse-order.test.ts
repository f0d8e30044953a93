import { describe, expect, it } from "vitest";
import { usageOf } from "../../src/bot/commands.js";
import { effectiveLimits, refusal } from "../../src/trading/limits.js";
import { parseGtt, parseModify, parseOrder } from "../../src/trading/parse-order.js";
import { modifiedOrderType } from "../../src/trading/trading-desk.js";

const ok = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const error = (r: { ok: boolean; error?: string }) => (r.ok ? undefined : r.error);

describe("/buy and /sell", () => {
  it("reads every form of the usage line", () => {
    expect(ok(parseOrder("BUY", "INFY 10"))).toEqual({
      symbol: "INFY",
      side: "BUY",
      quantity: 10,
      orderType: "MARKET",
      price: undefined,
      triggerPrice: undefined,
      product: "D",
    });
    expect(ok(parseOrder("BUY", "INFY 10 at 1,450.50"))).toMatchObject({ orderType: "LIMIT", price: 1450.5 });
    expect(ok(parseOrder("SELL", "INFY 10 market intraday"))).toMatchObject({ orderType: "MARKET", product: "I", side: "SELL" });
    expect(ok(parseOrder("SELL", "INFY 10 at market"))).toMatchObject({ orderType: "MARKET" });
    expect(ok(parseOrder("BUY", "INFY 10 at 1450 sl 1440 delivery"))).toMatchObject({ orderType: "SL", price: 1450, triggerPrice: 1440, product: "D" });
    expect(ok(parseOrder("SELL", "INFY 10 sl 1400"))).toMatchObject({ orderType: "SL-M", price: undefined, triggerPrice: 1400 });
    expect(ok(parseOrder("BUY", "infy 1 @ ₹99"))).toMatchObject({ symbol: "infy", price: 99 });
    // The usage line's own example parses.
    const example = usageOf("buy").split("e.g. /buy ")[1]!;
    expect(parseOrder("BUY", example).ok).toBe(true);
  });

  it("says what is wrong", () => {
    expect(error(parseOrder("BUY", ""))).toBe("Say what to trade and how many.");
    expect(error(parseOrder("BUY", "INFY"))).toBe("Say how many.");
    expect(error(parseOrder("BUY", "INFY 0"))).toMatch(/"0" is not a quantity/);
    expect(error(parseOrder("BUY", "INFY 1.5"))).toMatch(/"1.5" is not a quantity/);
    expect(error(parseOrder("BUY", "INFY 1000001"))).toMatch(/not a quantity/);
    expect(error(parseOrder("BUY", "INFY 10 at"))).toMatch(/"at" needs a price/);
    expect(error(parseOrder("BUY", "INFY 10 at -5"))).toMatch(/got "-5"/);
    expect(error(parseOrder("BUY", "INFY 10 at 100 market"))).toBe("Say either at PRICE or market, not both.");
    expect(error(parseOrder("BUY", "INFY 10 intraday delivery"))).toBe("Say intraday or delivery once.");
    expect(error(parseOrder("BUY", "INFY 10 now"))).toBe('I don\'t understand "now".');
    expect(error(parseOrder("BUY", "INFY 10 at 1400 sl 1450"))).toMatch(/trigger must be at or below the limit/);
    expect(error(parseOrder("SELL", "INFY 10 at 1450 sl 1400"))).toMatch(/trigger must be at or above the limit/);
  });
});

describe("/gtt", () => {
  it("reads single and two-leg GTTs", () => {
    expect(ok(parseGtt("INFY buy 10 below 1400"))).toEqual({
      symbol: "INFY",
      side: "BUY",
      quantity: 10,
      direction: "BELOW",
      trigger: 1400,
      target: undefined,
      stopLoss: undefined,
      product: "D",
    });
    expect(ok(parseGtt("INFY buy 10 below 1400 target 1500 sl 1350 intraday"))).toMatchObject({ target: 1500, stopLoss: 1350, product: "I" });
    expect(ok(parseGtt("INFY sell 5 above 1600 target 1500 sl 1650"))).toMatchObject({ side: "SELL", direction: "ABOVE", target: 1500, stopLoss: 1650 });
    expect(parseGtt(usageOf("gtt").split("e.g. /gtt ")[1]!).ok).toBe(true);
  });

  it("refuses exits on the wrong side of the trigger and other slips", () => {
    expect(error(parseGtt("INFY hold 10 below 1400"))).toMatch(/Say buy or sell/);
    expect(error(parseGtt("INFY buy ten below 1400"))).toMatch(/"ten" is not a quantity/);
    expect(error(parseGtt("INFY buy 10 near 1400"))).toMatch(/Say above or below/);
    expect(error(parseGtt("INFY buy 10 below"))).toMatch(/needs a trigger price/);
    expect(error(parseGtt("INFY buy 10 below 1400 target 1300"))).toBe("A buy's target must be above its trigger (1400).");
    expect(error(parseGtt("INFY buy 10 below 1400 sl 1450"))).toBe("A buy's stop-loss must be below its trigger (1400).");
    expect(error(parseGtt("INFY sell 10 above 1400 target 1450"))).toBe("A sell's target must be below its trigger (1400).");
    expect(error(parseGtt("INFY buy 10 below 1400 target"))).toMatch(/"target" needs a price/);
  });
});

describe("/modify", () => {
  it("reads what changes", () => {
    expect(ok(parseModify("250115000123 price 1440 qty 5"))).toEqual({
      orderId: "250115000123",
      price: 1440,
      quantity: 5,
      triggerPrice: undefined,
      market: false,
    });
    expect(ok(parseModify("250115000123 trigger 1430"))).toMatchObject({ triggerPrice: 1430 });
    expect(ok(parseModify("250115000123 market"))).toMatchObject({ market: true });
    expect(error(parseModify("12ab price 1"))).toMatch(/is not an order id/);
    expect(error(parseModify("250115000123"))).toBe("Say what to change: price, qty or trigger.");
    expect(error(parseModify("250115000123 price 1 market"))).toBe("Say either a price or market, not both.");
  });

  it("keeps the order type unless the change implies another", () => {
    expect(modifiedOrderType("LIMIT", { market: false, price: 10, triggerPrice: undefined })).toBe("LIMIT");
    expect(modifiedOrderType("LIMIT", { market: true, price: undefined, triggerPrice: undefined })).toBe("MARKET");
    expect(modifiedOrderType("MARKET", { market: false, price: 10, triggerPrice: undefined })).toBe("LIMIT");
    expect(modifiedOrderType("SL-M", { market: false, price: 10, triggerPrice: undefined })).toBe("SL");
    expect(modifiedOrderType("SL", { market: true, price: undefined, triggerPrice: undefined })).toBe("SL-M");
    expect(modifiedOrderType("LIMIT", { market: false, price: undefined, triggerPrice: 1440 })).toBe("SL");
    expect(modifiedOrderType("MARKET", { market: false, price: undefined, triggerPrice: 1440 })).toBe("SL-M");
  });
});

describe("limits", () => {
  const operator = { maxOrderValue: 100_000, maxOrdersPerDay: 20 };
  it("a trader may lower the operator's limits, never raise them", () => {
    expect(effectiveLimits(operator, {})).toEqual(operator);
    expect(effectiveLimits(operator, { maxOrderValue: 5000 })).toEqual({ maxOrderValue: 5000, maxOrdersPerDay: 20 });
    expect(effectiveLimits(operator, { maxOrderValue: 1e9, maxOrdersPerDay: 100 })).toEqual(operator);
  });
  it("names whose limit refused", () => {
    expect(refusal({ value: 100_000, ordersToday: 19 }, operator, {})).toBeUndefined();
    expect(refusal({ value: 100_000.01, ordersToday: 0 }, operator, {})).toMatch(/the limit this bot's operator set of ₹1,00,000\.00/);
    expect(refusal({ value: 6000, ordersToday: 0 }, effectiveLimits(operator, { maxOrderValue: 5000 }), { maxOrderValue: 5000 })).toMatch(/your own limit/);
    expect(refusal({ value: 1, ordersToday: 20 }, operator, {})).toMatch(/placed 20 orders from chat today/);
  });
});
