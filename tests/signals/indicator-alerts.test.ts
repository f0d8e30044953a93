import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import { aggregate } from "../../src/market/timeframes.js";
import type { MarketCandle } from "../../src/market/types.js";
import { specsFor } from "../../src/signals/indicator-engine.js";
import { candlesNeeded, computeFull } from "../../src/signals/indicators/index.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { ScriptedCandles, ScriptedQuotes } from "../support/quotes.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const MIN = 60_000;
const OPEN = Date.parse("2025-01-15T09:15:00+05:30");

/**
 * Candle rules end to end: closed candles -> SQLite -> streaming indicators -> candle
 * rules -> signal + outbox -> a real email with the values that triggered it.
 */
describe("indicator alerts on closed candles", () => {
  let f: AppFixture;
  let candles: ScriptedCandles;
  let now: number;
  let ts: number;
  let price: number;

  const next = (move: number, volume = 1000): MarketCandle => {
    const open = price;
    price = Math.round((price + move) * 100) / 100;
    const c = { ts, open, high: Math.max(open, price) + 0.5, low: Math.min(open, price) - 0.5, close: price, volume };
    candles.push(RELIANCE, c);
    ts += MIN;
    now = ts + 5000;
    return c;
  };
  const fetch = async () => (await runJob<Record<string, number>>(f.services.queues["fetch-candles"])).result;

  beforeEach(async () => {
    candles = new ScriptedCandles();
    ts = OPEN;
    now = OPEN;
    price = 1400;
    const clock = () => now;
    f = await startAppFixture({
      clock,
      quoteSource: new ScriptedQuotes(clock),
      candleSource: candles,
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    f.services.instruments.upsertMany(SIMULATED_INSTRUMENTS);
  });

  afterEach(() => f.close());

  it("fires 'RSI below 30' once when RSI crosses under, with the RSI in the message", async () => {
    const s = f.services;
    f.addTrader({
      telegramId: 1,
      email: "rsi@example.com",
      rules: [{ instrumentKey: RELIANCE, kind: "rsi_below", params: { level: 30 }, frequency: "every" }],
    });
    // History first (the warm-up reads it), gently rising: RSI well above 30.
    for (let i = 0; i < 120; i++) next(i % 3 === 0 ? -0.4 : 0.5);
    await runJob(s.queues["warm-up-candles"], { instrumentKey: RELIANCE });
    let fired = 0;
    let firstFireAt = -1;
    for (let i = 0; i < 30; i++) {
      next(-3);
      const r = await fetch();
      if (r.fired) {
        fired += r.fired;
        if (firstFireAt < 0) firstFireAt = i;
      }
    }
    // RSI went below 30 during the slide and stayed there: exactly one alert.
    expect(fired).toBe(1);
    expect(firstFireAt).toBeGreaterThanOrEqual(0);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("RELIANCE: RSI(14) fell below 30");
    expect(mail!.parsed.text).toMatch(/RSI \d+\.\d\d/);
    const payload = JSON.parse((s.db.prepare("SELECT payload FROM signals").get() as { payload: string }).payload) as { values: { rsi: number } };
    expect(payload.values.rsi).toBeLessThan(30);
  });

  it("fires 'Supertrend flips up' when a slide turns into a rally, with the Supertrend level in the message", async () => {
    const s = f.services;
    f.addTrader({
      telegramId: 2,
      email: "st@example.com",
      rules: [{ instrumentKey: RELIANCE, kind: "supertrend_up", params: { period: 10, multiplier: 3 }, frequency: "every" }],
    });
    for (let i = 0; i < 60; i++) next(-1);
    await runJob(s.queues["warm-up-candles"], { instrumentKey: RELIANCE });
    let fired = 0;
    for (let i = 0; i < 30; i++) {
      next(4);
      fired += (await fetch()).fired ?? 0;
    }
    // One flip from down to up during the rally, and no other.
    expect(fired).toBe(1);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("RELIANCE: Supertrend(10, 3) flipped up");
    expect(mail!.parsed.text).toMatch(/Supertrend ₹\d+\.\d\d/);
  });

  it("'RSI below 30 on 5m' is evaluated on 5-minute bars from 09:15, at their close, with the bar's RSI", async () => {
    const s = f.services;
    f.addTrader({
      telegramId: 3,
      email: "tf@example.com",
      rules: [{ instrumentKey: RELIANCE, kind: "rsi_below", params: { level: 30, period: 14, timeframe: "5m" }, frequency: "every" }],
    });
    for (let i = 0; i < 120; i++) next(i % 3 === 0 ? -0.4 : 0.5);
    await runJob(s.queues["warm-up-candles"], { instrumentKey: RELIANCE });
    const firedAt: number[] = [];
    for (let i = 0; i < 40; i++) {
      const c = next(-3);
      if ((await fetch()).fired) firedAt.push(c.ts);
    }
    // Once, on the minute that closed a 5-minute bar counted from 09:15.
    expect(firedAt).toHaveLength(1);
    expect((firedAt[0]! + MIN - OPEN) % (5 * MIN)).toBe(0);
    const signal = JSON.parse((s.db.prepare("SELECT payload FROM signals").get() as { payload: string }).payload) as {
      candleTs: number;
      values: { rsi: number };
    };
    expect((signal.candleTs - OPEN) % (5 * MIN)).toBe(0);
    // The RSI it fired on is RSI(14) over the 5-minute bars aggregated from the stored minutes.
    const minutes = s.candles.recent(RELIANCE, "1m", 1000).filter((c) => c.ts < signal.candleTs + 5 * MIN);
    const bars = aggregate(minutes, "5m", (t) => s.calendar.session(new Date(t)));
    expect(bars.at(-1)!.ts).toBe(signal.candleTs);
    const reference = computeFull([{ kind: "rsi", period: 14 }], bars)["rsi:14"] as number;
    expect(signal.values.rsi).toBeCloseTo(reference, 6);
    expect(signal.values.rsi).toBeLessThan(30);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("RELIANCE: RSI(14) fell below 30 on 5m candles");
    // Why it fired: the bar's RSI and which 5-minute bar.
    expect(mail!.parsed.text).toContain(`RSI ${signal.values.rsi.toFixed(2)}`);
    expect(mail!.parsed.text).toMatch(/\(5-minute candle of \d\d:\d\d IST\)/);
  });

  it("an AND alert ('rsi below 30 and price below vwap') sends one message with both values when both hold", async () => {
    const s = f.services;
    f.addTrader({
      telegramId: 4,
      email: "and@example.com",
      rules: [
        {
          instrumentKey: RELIANCE,
          kind: "all_of",
          params: {
            conditions: [
              { kind: "rsi_below", params: { level: 30, period: 14 } },
              { kind: "price_vs", params: { side: "below", ref: "vwap" } },
            ],
          },
          frequency: "every",
        },
      ],
    });
    for (let i = 0; i < 120; i++) next(i % 3 === 0 ? -0.4 : 0.5);
    await runJob(s.queues["warm-up-candles"], { instrumentKey: RELIANCE });
    let fired = 0;
    for (let i = 0; i < 30; i++) {
      next(-3);
      fired += (await fetch()).fired ?? 0;
    }
    expect(fired).toBe(1);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("RELIANCE: all 2 conditions hold");
    expect(mail!.parsed.text).toMatch(/RSI\(14\) \d+\.\d\d < 30 · price ₹[\d,]+\.\d\d < VWAP ₹[\d,]+\.\d\d/);
  });

  it("keeps indicator values equal to a full recompute over the stored candles, across a restart", async () => {
    const s = f.services;
    f.addTrader({
      telegramId: 2,
      email: "ma@example.com",
      rules: [{ instrumentKey: RELIANCE, kind: "ma_cross_up", params: { ma: "ema", fast: 5, slow: 13 }, frequency: "every" }],
    });
    const specs = specsFor(s.rules.allActive());
    const window = candlesNeeded(specs);
    // History from before the open, so the live candles fall inside market hours.
    ts = OPEN - 400 * MIN;
    for (let i = 0; i < 400; i++) next(Math.sin(i / 7) * 2);
    await runJob(s.queues["warm-up-candles"], { instrumentKey: RELIANCE });
    for (let i = 0; i < 20; i++) {
      next(Math.sin(i / 3) * 2);
      expect(await fetch()).toMatchObject({ candles: 1 });
    }
    const stored = s.candles.recent(RELIANCE, "1m", 10_000);
    expect(stored).toHaveLength(420);
    const streamed = s.indicators.valuesOf(RELIANCE)!;
    // Rebuilt from the last `window` stored candles at the first close, streamed since: the same
    // as recomputing everything over exactly those candles.
    const full = computeFull(specs, stored.slice(-(window + 20)));
    for (const key of ["rsi:14", "ema:20", "sma:50", "ema:5", "ema:13", "atr:14", "vwap"]) expect(streamed[key], key).toBeCloseTo(full[key] as number, 9);
    expect(streamed["macd:12:26:9"]).toEqual(full["macd:12:26:9"]);

    // A fresh process (restart) rebuilds from SQLite and carries on from the same candles.
    await f.restart({ quoteSource: new ScriptedQuotes(() => now) });
    next(1);
    await fetch();
    const after = f.services.indicators.valuesOf(RELIANCE)!;
    const expected = computeFull(specs, f.services.candles.recent(RELIANCE, "1m", window + 1));
    for (const key of ["rsi:14", "ema:20", "sma:50", "ema:5", "ema:13"]) expect(after[key], key).toBeCloseTo(expected[key] as number, 9);
    const signalsCount = (f.services.db.prepare("SELECT COUNT(*) AS n FROM signals").get() as { n: number }).n;
    const crossings = (f.services.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'indicator_alert'").get() as { n: number }).n;
    expect(crossings).toBe(signalsCount);
  });
});
