import { describe, expect, it } from "vitest";
import { escapeHtml, httpUrl } from "../../src/format/html.js";
import { formatPrice, formatRupees, rupees, signedRupees } from "../../src/format/money.js";
import { formatCount, formatQuantity, signedPct } from "../../src/format/numbers.js";
import { describeFrequency, describeRule, indicatorFiredWording, priceFiredHeadline } from "../../src/format/rules.js";
import { splitMessage, TELEGRAM_LIMIT } from "../../src/format/telegram.js";
import { formatDate, formatIstClock, formatIstMinute, formatIstTime } from "../../src/format/time.js";

describe("money", () => {
  it("groups lakhs and crores, always to the paisa", () => {
    expect(formatPrice(0)).toBe("0.00");
    expect(formatPrice(818.35)).toBe("818.35");
    expect(formatPrice(1450)).toBe("1,450.00");
    expect(formatPrice(123456.5)).toBe("1,23,456.50");
    expect(formatPrice(12345678.9)).toBe("1,23,45,678.90");
    expect(formatPrice(999.999)).toBe("1,000.00");
    expect(rupees(1450)).toBe("₹1,450.00");
    expect(rupees(12345678.9)).toBe("₹1,23,45,678.90");
  });

  it("writes a loss with a real minus sign before the rupee sign", () => {
    expect(formatRupees(-452)).toBe("−₹452.00");
    expect(formatRupees(-12345678.9)).toBe("−₹1,23,45,678.90");
    expect(signedRupees(-452)).toBe("−₹452.00");
  });

  it("signs gains only when asked, and never signs zero or what rounds to it", () => {
    expect(formatRupees(1200)).toBe("₹1,200.00");
    expect(formatRupees(1200, true)).toBe("+₹1,200.00");
    expect(signedRupees(1200)).toBe("+₹1,200.00");
    expect(signedRupees(0.01)).toBe("+₹0.01");
    for (const zero of [0, -0, 0.004, -0.004]) {
      expect(formatRupees(zero)).toBe("₹0.00");
      expect(formatRupees(zero, true)).toBe("₹0.00");
      expect(signedRupees(zero)).toBe("₹0.00");
    }
    expect(rupees(0)).toBe("₹0.00");
  });
});

describe("numbers", () => {
  it("signs percentages with a real minus, and zero (or what rounds to it) not at all", () => {
    expect(signedPct(1.254)).toBe("+1.25%");
    expect(signedPct(-3.456)).toBe("−3.46%");
    expect(signedPct(0)).toBe("0.00%");
    expect(signedPct(0.004)).toBe("0.00%");
    expect(signedPct(-0.004)).toBe("0.00%");
  });

  it("counts shares and volumes with Indian grouping", () => {
    expect(formatQuantity(10)).toBe("10");
    expect(formatQuantity(1500)).toBe("1,500");
    expect(formatQuantity(100000)).toBe("1,00,000");
    expect(formatCount(1234567)).toBe("12,34,567");
  });
});

describe("IST time and date", () => {
  const AT = Date.UTC(2025, 0, 6, 4, 0, 7); // 2025-01-06 09:30:07 IST

  it("shows an instant as IST wall-clock time", () => {
    expect(formatIstTime(AT)).toBe("2025-01-06 09:30:07");
    // 20:00:59 UTC is 01:30:59 IST the next day.
    expect(formatIstTime(Date.UTC(2025, 0, 5, 20, 0, 59, 999))).toBe("2025-01-06 01:30:59");
    expect(formatIstMinute(AT)).toBe("2025-01-06 09:30");
    expect(formatIstClock(AT)).toBe("09:30");
  });

  it("writes a trading date in words, and leaves anything else as given", () => {
    expect(formatDate("2025-01-06")).toBe("Mon, 6 Jan 2025");
    expect(formatDate("2024-12-31")).toBe("Tue, 31 Dec 2024");
    expect(formatDate("2025-02-30")).toBe("2025-02-30");
    expect(formatDate("tomorrow")).toBe("tomorrow");
    expect(formatDate("")).toBe("");
  });
});

describe("HTML", () => {
  it("escapes text for element content and attributes", () => {
    expect(escapeHtml(`a < b && c > "d"`)).toBe("a &lt; b &amp;&amp; c &gt; &quot;d&quot;");
    expect(escapeHtml("&lt;")).toBe("&amp;lt;");
    expect(escapeHtml("P&L")).toBe("P&amp;L");
  });

  it("lets only http(s) links into an href", () => {
    expect(httpUrl("https://example.in/a?b=1")).toBe("https://example.in/a?b=1");
    expect(httpUrl("http://example.in")).toBe("http://example.in");
    expect(httpUrl("javascript:alert(1)")).toBe("");
    expect(httpUrl("https://example.in/a b")).toBe("");
    expect(httpUrl(undefined)).toBe("");
  });
});

describe("Telegram's limit", () => {
  it("is 4,096 characters, and a shorter message stays whole", () => {
    expect(TELEGRAM_LIMIT).toBe(4096);
    const exact = "x".repeat(TELEGRAM_LIMIT);
    expect(splitMessage(exact)).toEqual([exact]);
  });

  it("splits at line breaks, every part under the limit, nothing lost", () => {
    const lines = Array.from({ length: 400 }, (_, i) => `<b>LINE${i}</b> ₹1,450.00 · P&amp;L +₹12.00`);
    const parts = splitMessage(lines.join("\n"));
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(TELEGRAM_LIMIT);
    expect(parts.join("\n")).toBe(lines.join("\n"));
  });

  it("cuts an over-long line on a space, and never inside an HTML entity", () => {
    const parts = splitMessage(`${"a".repeat(95)} &amp;${"b".repeat(50)}`, 100);
    expect(parts).toEqual(["a".repeat(95), `&amp;${"b".repeat(50)}`]);
    const noSpace = `${"a".repeat(97)}&amp;bbb`;
    expect(splitMessage(noSpace, 100)).toEqual(["a".repeat(97), "&amp;bbb"]);
  });
});

describe("rule wording", () => {
  const once = { frequency: "once", cooldownSeconds: 0 } as const;

  it("describes a rule as the trader set it", () => {
    expect(describeRule({ kind: "price_above", params: { level: 1450 }, ...once })).toBe("price at or above ₹1,450.00, once");
    expect(describeRule({ kind: "cross_down", params: { level: 123456.5 }, ...once })).toBe("crosses below ₹1,23,456.50, once");
    expect(describeRule({ kind: "change_pct", params: { pct: 3 }, ...once })).toBe("moves 3% from the previous close, once");
    expect(describeRule({ kind: "rsi_below", params: { level: 30 }, frequency: "once_per_bar", cooldownSeconds: 0 })).toBe(
      "RSI(14) falls below 30, once per candle",
    );
    expect(describeRule({ kind: "ma_cross_up", params: { ma: "sma", fast: 9, slow: 21 }, frequency: "every", cooldownSeconds: 900 })).toBe(
      "SMA 9 crosses above SMA 21, every time (at most every 15 min)",
    );
    expect(describeRule({ kind: "volume_spike", params: { multiple: 3 }, ...once })).toBe("volume 3× the average, once");
    expect(describeFrequency({ frequency: "every", cooldownSeconds: 90 })).toBe("every time (at most every 2 min)");
  });

  it("describes and words the rules on Supertrend, VWAP, ATR, the band and gaps", () => {
    expect(describeRule({ kind: "supertrend_up", params: { period: 10, multiplier: 3 }, ...once })).toBe("Supertrend(10, 3) flips up, once");
    expect(describeRule({ kind: "vwap_cross_down", params: {}, ...once })).toBe("price crosses below VWAP, once");
    expect(describeRule({ kind: "atr_move", params: { multiple: 2, period: 14 }, ...once })).toBe("a one-candle move of 2× ATR(14) or more, once");
    expect(describeRule({ kind: "bb_enter", params: {}, ...once })).toBe("closes back inside the Bollinger band, once");
    expect(describeRule({ kind: "gap_down", params: { pct: 1.5 }, ...once })).toBe("opens 1.5% or more below the previous close, once");
    expect(
      describeRule({
        kind: "all_of",
        params: {
          timeframe: "15m",
          conditions: [
            { kind: "rsi_below", params: { level: 30, period: 14 } },
            { kind: "price_vs", params: { side: "above", ref: "ema", period: 200 } },
          ],
        },
        ...once,
      }),
    ).toBe("RSI(14) below 30 and price above EMA 200 (all at once) on 15m candles, once");
    expect(indicatorFiredWording("supertrend_down", { period: 10, multiplier: 3 }, { supertrend: 1512.3 })).toEqual({
      headline: "Supertrend(10, 3) flipped down",
      valuesLine: "Supertrend ₹1512.30",
    });
    expect(indicatorFiredWording("atr_move", { period: 14 }, { move: -6.3, atr: 2.1 })).toEqual({
      headline: "moved 3.0× ATR(14) in one candle",
      valuesLine: "Move −₹6.30 · ATR ₹2.10",
    });
    expect(indicatorFiredWording("gap_down", {}, { gapPct: -2.25, open: 97.75, previousClose: 100 })).toEqual({
      headline: "opened 2.25% below the previous close",
      valuesLine: "Open ₹97.75 · previous close ₹100.00",
    });
  });

  it("says what a fired price rule did", () => {
    expect(priceFiredHeadline("price_above", { level: 1450 })).toBe("is at or above ₹1,450.00");
    expect(priceFiredHeadline("cross_up", { level: 1450 })).toBe("crossed above ₹1,450.00");
    expect(priceFiredHeadline("change_pct", { changePct: -3.456 })).toBe("moved −3.46% from the previous close");
    expect(priceFiredHeadline("rsi_above", {})).toBeUndefined();
  });

  it("says what a fired candle rule did, with the values behind it", () => {
    expect(indicatorFiredWording("rsi_below", { period: 14, level: 30 }, { rsi: 28.4 })).toEqual({
      headline: "RSI(14) fell below 30",
      valuesLine: "RSI 28.40",
    });
    expect(indicatorFiredWording("ma_cross_up", { ma: "ema", fast: 9, slow: 21 }, { fast: 818.35, slow: 812 })).toEqual({
      headline: "EMA 9 crossed above EMA 21",
      valuesLine: "EMA 9: ₹818.35, EMA 21: ₹812.00",
    });
    expect(indicatorFiredWording("volume_spike", { period: 20 }, { volume: 1234567, averageVolume: 400000 })).toEqual({
      headline: "volume spike: 3.1× the 20-candle average",
      valuesLine: "Volume 12,34,567 vs average 4,00,000",
    });
    expect(indicatorFiredWording("price_above", {}, {})).toEqual({ headline: undefined, valuesLine: undefined });
  });
});
