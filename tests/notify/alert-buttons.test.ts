import type { InlineKeyboardButton, InlineKeyboardMarkup } from "grammy/types";
import { describe, expect, it } from "vitest";
import { alertButtons, alertCallbackData, MAX_BUTTONS } from "../../src/notify/alert-buttons.js";

const priceAlert = (signalId: number, symbol = "SBIN", ruleId: number | null = 7) => ({
  kind: "price_alert",
  payload: { symbol, instrumentKey: "NSE_EQ|INE062A01020", ...(ruleId === null ? {} : { ruleId }), ruleKind: "cross_up", price: 815.4, signalId },
});
const indicatorAlert = (signalId: number) => ({
  kind: "indicator_alert",
  payload: { symbol: "INFY", ruleId: 9, ruleKind: "rsi_below", price: 1500, signalId },
});
const orderUpdate = { kind: "order_filled", payload: { orderId: "250115000000001", symbol: "SBIN", signalId: 3 } };
const digest = { kind: "portfolio_digest", payload: { holdings: [] } };

const texts = (kb: InlineKeyboardMarkup | undefined) => kb?.inline_keyboard.map((row) => row.map((b) => b.text));
const data = (kb: InlineKeyboardMarkup | undefined) =>
  kb?.inline_keyboard.map((row) => row.map((b) => (b as InlineKeyboardButton.CallbackButton).callback_data));
const buttons = (kb: InlineKeyboardMarkup | undefined) => kb?.inline_keyboard.flat() ?? [];

describe("alert buttons", () => {
  it("one alert with trading: Buy / Sell / Set GTT, then Snooze and Delete, each naming the signal", () => {
    const kb = alertButtons([priceAlert(41)], { trading: true });
    expect(texts(kb)).toEqual([
      ["Buy", "Sell", "Set GTT"],
      ["😴 1 h", "🗑 Delete"],
    ]);
    expect(data(kb)).toEqual([
      ["al:buy:41", "al:sell:41", "al:gtt:41"],
      ["al:snz:41", "al:del:41"],
    ]);
  });

  it("one alert without trading: only Snooze and Delete", () => {
    expect(data(alertButtons([indicatorAlert(5)], { trading: false }))).toEqual([["al:snz:5", "al:del:5"]]);
  });

  it("rows that are not alerts, or alerts written without a signal, add no buttons", () => {
    expect(alertButtons([], { trading: true })).toBeUndefined();
    expect(alertButtons([orderUpdate, digest], { trading: true })).toBeUndefined();
    const noSignal = { kind: "price_alert", payload: { symbol: "SBIN", ruleId: 1 } };
    const badSignal = { kind: "price_alert", payload: { symbol: "SBIN", ruleId: 1, signalId: "12" } };
    expect(alertButtons([noSignal, badSignal], { trading: true })).toBeUndefined();
  });

  it("several alerts: each one's buttons in message order, labelled with its symbol and rule number", () => {
    const kb = alertButtons([priceAlert(10, "SBIN", 7), orderUpdate, priceAlert(11, "SBIN", 8), indicatorAlert(12)], { trading: true });
    expect(texts(kb)).toEqual([
      ["Buy SBIN #7", "Sell SBIN #7", "GTT SBIN #7"],
      ["😴 1 h SBIN #7", "🗑 Delete SBIN #7"],
      ["Buy SBIN #8", "Sell SBIN #8", "GTT SBIN #8"],
      ["😴 1 h SBIN #8", "🗑 Delete SBIN #8"],
      ["Buy INFY #9", "Sell INFY #9", "GTT INFY #9"],
      ["😴 1 h INFY #9", "🗑 Delete INFY #9"],
    ]);
    expect(data(kb)!.flat()).toEqual([10, 11, 12].flatMap((id) => (["buy", "sell", "gtt", "snz", "del"] as const).map((a) => alertCallbackData(a, id))));
  });

  it("one alert beside an order update or digest is labelled too, so its Buy is not taken for the order's", () => {
    expect(texts(alertButtons([orderUpdate, priceAlert(20, "TCS", 3)], { trading: false }))).toEqual([["😴 1 h TCS #3", "🗑 Delete TCS #3"]]);
    expect(texts(alertButtons([digest, priceAlert(20, "TCS", null)], { trading: false }))).toEqual([["😴 1 h TCS", "🗑 Delete TCS"]]);
  });

  it("a long name is cut so its label still fits a button", () => {
    const kb = alertButtons([priceAlert(1, "NIFTY FINANCIAL SERVICES", 2), priceAlert(2)], { trading: true });
    expect(texts(kb)?.[0]?.[0]).toBe("Buy NIFTY FINAN… #2");
  });

  it("the fullest message (20 alerts) carries every button within Telegram's limits", () => {
    const rows = Array.from({ length: 20 }, (_, i) => priceAlert(100_000_000 + i, `S${i}`, i));
    const kb = alertButtons(rows, { trading: true })!;
    expect(buttons(kb)).toHaveLength(MAX_BUTTONS);
    for (const row of kb.inline_keyboard) expect(row.length).toBeLessThanOrEqual(8);
    for (const b of buttons(kb)) expect(Buffer.byteLength((b as InlineKeyboardButton.CallbackButton).callback_data)).toBeLessThanOrEqual(64);
  });

  it("past 100 buttons the oldest alerts lose their trade buttons first, never Snooze or Delete", () => {
    const rows = Array.from({ length: 24 }, (_, i) => priceAlert(i + 1, `S${i}`, i));
    const kb = alertButtons(rows, { trading: true })!;
    const all = buttons(kb).map((b) => (b as InlineKeyboardButton.CallbackButton).callback_data);
    expect(all.length).toBeLessThanOrEqual(MAX_BUTTONS);
    // 24 × (Snooze, Delete) = 48; 52 left make 17 trade rows: the 7 oldest alerts lose theirs.
    for (let id = 1; id <= 24; id++) {
      expect(all).toContain(`al:snz:${id}`);
      expect(all).toContain(`al:del:${id}`);
      expect(all.includes(`al:buy:${id}`)).toBe(id > 7);
    }
    expect(all).toHaveLength(48 + 17 * 3);
  });

  it("past 50 alerts only the newest 50 keep Snooze and Delete (a message never holds that many)", () => {
    const rows = Array.from({ length: 55 }, (_, i) => priceAlert(i + 1));
    const all = buttons(alertButtons(rows, { trading: true })).map((b) => (b as InlineKeyboardButton.CallbackButton).callback_data);
    expect(all).toHaveLength(MAX_BUTTONS);
    expect(all[0]).toBe("al:snz:6");
    expect(all.some((d) => d.startsWith("al:buy:"))).toBe(false);
  });
});
