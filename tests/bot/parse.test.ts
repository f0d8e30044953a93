import { describe, expect, it } from "vitest";
import { COMMANDS, usageOf } from "../../src/bot/commands.js";
import { parseAlert, parseDuration, parsePrice } from "../../src/bot/parse-alert.js";
import { editDistance } from "../../src/bot/symbols.js";
import { splitMessage } from "../../src/bot/text.js";

describe("parseAlert", () => {
  const ok = (text: string) => {
    const r = parseAlert(text);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };

  it.each([
    ["RELIANCE above 1500", { kind: "price_above", params: { level: 1500 } }],
    ["reliance below 1,450.50", { kind: "price_below", params: { level: 1450.5 } }],
    ["TCS cross 3500", { kind: "cross", params: { level: 3500 } }],
    ["TCS cross up 3500", { kind: "cross_up", params: { level: 3500 } }],
    ["TCS crosses below ₹3500", { kind: "cross_down", params: { level: 3500 } }],
    ["INFY change 3%", { kind: "change_pct", params: { pct: 3 } }],
    ["INFY rsi below 30", { kind: "rsi_below", params: { level: 30, period: 14 } }],
    ["INFY rsi above 70 period 9", { kind: "rsi_above", params: { level: 70, period: 9 } }],
    ["SBIN macd up", { kind: "macd_cross_up", params: {} }],
    ["SBIN ema 9 21 down", { kind: "ma_cross_down", params: { ma: "ema", fast: 9, slow: 21 } }],
    ["SBIN sma 50 200 up", { kind: "ma_cross_up", params: { ma: "sma", fast: 50, slow: 200 } }],
    ["SBIN bb up", { kind: "bb_break_up", params: { period: 20, stdDev: 2 } }],
    ["SBIN volume 3x", { kind: "volume_spike", params: { multiple: 3, period: 20 } }],
  ])("%s", (text, expected) => {
    expect(ok(text)).toMatchObject({ ...expected, frequency: "once" });
  });

  it("reads frequency and expiry options at the end", () => {
    expect(ok("RELIANCE above 1500 every")).toMatchObject({ frequency: "every", cooldownSeconds: 300 });
    expect(ok("RELIANCE above 1500 every 15m")).toMatchObject({ frequency: "every", cooldownSeconds: 900 });
    expect(ok("RELIANCE rsi below 30 bar")).toMatchObject({ frequency: "once_per_bar" });
    expect(ok("RELIANCE above 1500 expires 2d every 1h")).toMatchObject({ frequency: "every", cooldownSeconds: 3600, expiresInMs: 2 * 86_400_000 });
  });

  it.each([
    ["", /Which symbol/],
    ["RELIANCE", /what to watch/],
    ["RELIANCE above", /not a price/],
    ["RELIANCE above abc", /not a price/],
    ["RELIANCE above -5", /not a price/],
    ["RELIANCE above 1500 please", /didn't understand "please"/],
    ["RELIANCE change 300%", /percent between/],
    ["RELIANCE rsi 30", /above or below/],
    ["RELIANCE rsi below 130", /RSI level/],
    ["RELIANCE ema 21 9 up", /must be shorter/],
    ["RELIANCE ema 9 21", /up or down/],
    ["RELIANCE macd sideways", /up or down/],
    ["RELIANCE volume 1x", /multiple/],
    ["RELIANCE moon 5", /don't know the alert type "moon"/],
    ["RELIANCE above 1500 expires soon", /not a duration/],
  ])("rejects %j with a reason", (text, reason) => {
    const r = parseAlert(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(reason);
  });

  it("parses prices and durations strictly", () => {
    expect(parsePrice("1,234.5")).toBe(1234.5);
    expect(parsePrice("1.234")).toBeUndefined();
    expect(parsePrice("0")).toBeUndefined();
    expect(parsePrice("99999999")).toBeUndefined();
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("0m")).toBeUndefined();
    expect(parseDuration("1y")).toBeUndefined();
  });
});

describe("commands table", () => {
  it("has a usage line for every command and refuses unknown ones", () => {
    for (const c of COMMANDS) expect(usageOf(c.command)).toMatch(new RegExp(`^/${c.command}`));
    expect(() => usageOf("nope")).toThrow();
    expect(new Set(COMMANDS.map((c) => c.command)).size).toBe(COMMANDS.length);
    for (const c of COMMANDS) expect(c.description.length).toBeLessThanOrEqual(256);
  });
});

describe("splitMessage", () => {
  it("keeps short messages whole and splits long ones at line breaks under 4096", () => {
    expect(splitMessage("hello")).toEqual(["hello"]);
    const lines = Array.from({ length: 400 }, (_, i) => `<b>line ${i}</b> ${"x".repeat(20)}`);
    const parts = splitMessage(lines.join("\n"));
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(4096);
    expect(parts.join("\n")).toBe(lines.join("\n"));
  });

  it("cuts a single huge line without breaking an HTML entity", () => {
    const line = "a&amp;b ".repeat(1200);
    const parts = splitMessage(line, 100);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(100);
      expect(p).not.toMatch(/&[a-z]*$/);
    }
  });
});

describe("editDistance", () => {
  it("ranks typos", () => {
    expect(editDistance("RELIANCE", "RELIANCE")).toBe(0);
    expect(editDistance("RELAINCE", "RELIANCE")).toBe(2);
    expect(editDistance("RELIANC", "RELIANCE")).toBe(1);
  });
});
