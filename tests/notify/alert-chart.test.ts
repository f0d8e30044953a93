import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { CandleRepository } from "../../src/db/repositories/candles.js";
import { InstrumentRepository } from "../../src/db/repositories/instruments.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { istInstant, sessionOn } from "../../src/market/calendar.js";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { MarketCandle } from "../../src/market/types.js";
import { ALERT_CHART_BARS, alertChartTimeframe, htmlWithChart, makeAlertChart, wantsAlertChart, type AlertChartDeps } from "../../src/notify/alert-chart.js";
import { CAPTION_LIMIT, captionFits } from "../../src/notify/telegram.js";
import { priceAlert } from "../../templates/price-alert.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("which alerts carry a chart, on which bars", () => {
  it("only price and indicator alerts of a user who turned charts on", () => {
    expect(wantsAlertChart({ prefs: { alertCharts: true } }, { kind: "price_alert" })).toBe(true);
    expect(wantsAlertChart({ prefs: { alertCharts: true } }, { kind: "indicator_alert" })).toBe(true);
    expect(wantsAlertChart({ prefs: { alertCharts: true } }, { kind: "order_filled" })).toBe(false);
    expect(wantsAlertChart({ prefs: { alertCharts: false } }, { kind: "price_alert" })).toBe(false);
    expect(wantsAlertChart({ prefs: {} }, { kind: "price_alert" })).toBe(false);
  });

  it("the rule's timeframe; one-minute bars for an indicator rule without one; 15m for a price alert; a bad value is ignored", () => {
    expect(alertChartTimeframe({ kind: "indicator_alert", payload: { params: { timeframe: "1h" } } })).toBe("1h");
    expect(alertChartTimeframe({ kind: "indicator_alert", payload: { params: { level: 30 } } })).toBe("1m");
    expect(alertChartTimeframe({ kind: "price_alert", payload: { level: 1500 } })).toBe("15m");
    expect(alertChartTimeframe({ kind: "indicator_alert", payload: { params: { timeframe: "7m" } } })).toBe("1m");
    expect(alertChartTimeframe({ kind: "indicator_alert", payload: { params: "rsi" } })).toBe("1m");
  });
});

describe("the alert email's HTML with its chart", () => {
  const cid = "alert-chart-7@upstox-alert-bot";

  it("goes above the template's footer", () => {
    const out = htmlWithChart(priceAlert.html, cid, "INFY 15m chart");
    expect(out.indexOf(`<img src="cid:${cid}" alt="INFY 15m chart"`)).toBeGreaterThan(out.indexOf("Last price"));
    expect(out.indexOf("cid:")).toBeLessThan(out.indexOf("You get this because"));
  });

  it("goes at the end of a message without a footer, inside its closing </div>, and its alt text cannot break out", () => {
    expect(htmlWithChart("<div><p>hi</p></div>", cid, 'A"<b>')).toBe(
      `<div><p>hi</p><p><img src="cid:${cid}" alt="Ab" width="640" style="max-width:100%;height:auto;border:1px solid #eee"></p></div>`,
    );
    expect(htmlWithChart("<p>hi</p>", cid, "x")).toMatch(/^<p>hi<\/p><p><img src="cid:/);
  });
});

describe("a caption fits Telegram's 1,024 characters", () => {
  it("counts what Telegram shows: tags and escapes do not count, characters do", () => {
    expect(captionFits("x".repeat(CAPTION_LIMIT))).toBe(true);
    expect(captionFits("x".repeat(CAPTION_LIMIT + 1))).toBe(false);
    expect(captionFits(`<b>${"x".repeat(CAPTION_LIMIT - 4)}</b>&amp;&lt;&gt;&quot;`)).toBe(true);
    expect(captionFits(`<b>${"x".repeat(CAPTION_LIMIT)}</b>&amp;`)).toBe(false);
  });
});

/** makeAlertChart over a real SQLite database: the candle store and the rules as the notify job reads them. */
describe("an alert's chart from the candle store", () => {
  let dir: string;
  let db: Database;
  let deps: AlertChartDeps;
  let userId: number;
  let rules: AlertRuleRepository;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "uab-alert-chart-"));
    db = openDatabase(path.join(dir, "bot.sqlite"));
    new InstrumentRepository(db).upsertMany(SIMULATED_INSTRUMENTS);
    userId = new UserRepository(db).create({ telegramId: 42 }).id;
    rules = new AlertRuleRepository(db);
    const candles = new CandleRepository(db);
    const minutes: Array<readonly [string, MarketCandle]> = [];
    let price = 1400;
    for (const date of ["2025-01-13", "2025-01-14"])
      for (let m = 9 * 60 + 15; m < 15 * 60 + 30; m++) {
        const open = price;
        price += Math.cos(m / 11) * 0.9;
        minutes.push([
          RELIANCE,
          { ts: istInstant(date, m).getTime(), open, high: Math.max(open, price) + 0.3, low: Math.min(open, price) - 0.3, close: price, volume: 900 },
        ]);
      }
    candles.upsert("1m", minutes);
    // Delivered after the close, hours after the firings below.
    const now = istInstant("2025-01-14", 16 * 60).getTime();
    deps = { candles, rules, calendar: { session: (at) => sessionOn(at, new Set(), new Map()) }, clock: () => now };
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an indicator alert on one-minute bars: 120 of them, up to the firing (later candles are not drawn)", async () => {
    const rule = rules.create({ userId, instrumentKey: RELIANCE, kind: "rsi_below", params: { level: 30 } });
    const firedAt = istInstant("2025-01-14", 12 * 60).getTime();
    const payload = { symbol: "RELIANCE", instrumentKey: RELIANCE, ruleId: rule.id, params: rule.params, firedAt };
    const chart = await makeAlertChart(deps, { kind: "indicator_alert", userId, payload });
    expect(chart).toMatchObject({ ok: true, timeframe: "1m", bars: ALERT_CHART_BARS, filename: "RELIANCE-1m.png" });
    expect(chart.ok && chart.png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    // The same chart whatever came after the firing.
    const later = await makeAlertChart(deps, { kind: "indicator_alert", userId, payload: { ...payload, firedAt: firedAt + 30 * 60_000 } });
    expect(later.ok && chart.ok && later.png.equals(chart.png)).toBe(false);
    const again = await makeAlertChart(deps, { kind: "indicator_alert", userId, payload });
    expect(again.ok && chart.ok && again.png.equals(chart.png)).toBe(true);
  });

  it("a rule on 1h bars is drawn on hours; so few of them before the firing that the chart has what there is", async () => {
    const rule = rules.create({ userId, instrumentKey: RELIANCE, kind: "rsi_below", params: { level: 30, timeframe: "1h" } });
    const payload = {
      symbol: "RELIANCE",
      instrumentKey: RELIANCE,
      ruleId: rule.id,
      params: rule.params,
      firedAt: istInstant("2025-01-14", 15 * 60 + 30).getTime(),
    };
    // Two sessions of 7 hourly bars each (the last one short).
    expect(await makeAlertChart(deps, { kind: "indicator_alert", userId, payload })).toMatchObject({ ok: true, timeframe: "1h", bars: 14 });
  });

  it("says why there is no chart: no candles, no instrument, not an alert", async () => {
    const tcs = "NSE_EQ|INE467B01029";
    expect(
      await makeAlertChart(deps, { kind: "price_alert", userId, payload: { symbol: "TCS", instrumentKey: tcs, level: 4000, firedAt: Date.now() } }),
    ).toEqual({
      ok: false,
      reason: "no 15m candles of TCS yet",
    });
    expect(await makeAlertChart(deps, { kind: "price_alert", userId, payload: { level: 4000 } })).toEqual({
      ok: false,
      reason: "the alert names no instrument",
    });
    expect(await makeAlertChart(deps, { kind: "order_filled", userId, payload: { symbol: "TCS", instrumentKey: tcs } })).toEqual({
      ok: false,
      reason: "a order_filled carries no chart",
    });
  });
});
