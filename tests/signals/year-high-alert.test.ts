import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { MarketCandle } from "../../src/market/types.js";
import type { Candle } from "../fakes/upstox/candles.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { ScriptedCandles, ScriptedQuotes } from "../support/quotes.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TCS = "NSE_EQ|INE467B01029";
const DAY = 86_400_000;
const ist = (s: string) => Date.parse(`${s}+05:30`);
const isoDay = (ms: number) => `${new Date(ms + 330 * 60_000).toISOString().slice(0, 10)}T00:00:00+05:30`;

/** `n` weekdays of Upstox daily candles before `before` (newest first, as Upstox sends them) around ₹1,400; `peak` is the high of the day `peakDay`. */
function upstoxDays(n: number, before: string, peak?: { day: string; high: number }): Candle[] {
  const out: Candle[] = [];
  for (let t = ist(`${before}T00:00:00`) - DAY; out.length < n; t -= DAY) {
    const dow = new Date(t + 330 * 60_000).getUTCDay();
    if (dow === 0 || dow === 6) continue;
    const high = peak && isoDay(t).startsWith(peak.day) ? peak.high : 1420;
    out.push([isoDay(t), 1400, high, 1380, 1410, 100_000, 0]);
  }
  return out;
}

/**
 * A 52-week high end to end: daily history fetched from the fake Upstox over HTTP and stored
 * in SQLite, one-minute candles through the engine, one alert a day with the old high and its
 * day in the email.
 */
describe("52-week high alerts", () => {
  let f: AppFixture;
  let candles: ScriptedCandles;
  let now: number;

  const minute = (key: string, at: string, high: number) => {
    const ts = ist(at);
    const c: MarketCandle = { ts, open: high - 2, high, low: high - 3, close: high - 1, volume: 500 };
    candles.push(key, c);
    now = ts + 65_000;
  };
  const fetch = async () => (await runJob<{ fired?: number }>(f.services.queues["fetch-candles"])).result.fired ?? 0;

  beforeEach(async () => {
    candles = new ScriptedCandles();
    now = ist("2025-01-15T10:00:00"); // a Wednesday
    const clock = () => now;
    f = await startAppFixture({
      clock,
      upstox: true,
      quoteSource: new ScriptedQuotes(clock),
      candleSource: candles,
      env: { INSTRUMENT_FILES: "NSE" },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    f.services.instruments.upsertMany(SIMULATED_INSTRUMENTS);
  });
  afterEach(() => f.close());

  it("fires once a day above the highest high of the last 52 weeks, names it and its day, and starts over the next day from today's high", async () => {
    const s = f.services;
    f.fake.setCandles(RELIANCE, upstoxDays(300, "2025-01-15", { day: "2024-06-03", high: 1500 }));
    f.fake.setCandles(TCS, upstoxDays(100, "2025-01-15"));
    const token = f.fake.issueToken({ userId: "UPX" });
    f.linkTrader({
      email: "year@example.com",
      upstoxUserId: "UPX",
      token,
      rules: [
        { instrumentKey: RELIANCE, kind: "high_52w", params: {}, frequency: "once_per_bar" },
        // A recent listing: 100 days of history are not a 52-week range.
        { instrumentKey: TCS, kind: "high_52w", params: {}, frequency: "once_per_bar" },
      ],
    });
    await runJob(s.queues["refresh-bar-history"], { instrumentKey: RELIANCE });
    await runJob(s.queues["refresh-bar-history"], { instrumentKey: TCS });
    // 52 weeks and a week are fetched: 264 weekdays of the 300 Upstox has.
    expect(s.candles.barStats(RELIANCE, "1d").count).toBe(264);

    minute(RELIANCE, "2025-01-15T10:00:00", 1500); // a touch is not a new high
    minute(TCS, "2025-01-15T10:00:00", 5000);
    expect(await fetch()).toBe(0);
    minute(RELIANCE, "2025-01-15T10:01:00", 1504.5);
    minute(TCS, "2025-01-15T10:01:00", 5001);
    expect(await fetch()).toBe(1);
    minute(RELIANCE, "2025-01-15T10:02:00", 1510); // higher still, the same day: already told
    expect(await fetch()).toBe(0);

    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("RELIANCE: made a new 52-week high");
    expect(mail!.parsed.text).toContain("High ₹1504.50 · previous 52-week high ₹1500.00 of Mon, 3 Jun 2024");
    const payload = JSON.parse((s.db.prepare("SELECT payload FROM signals").get() as { payload: string }).payload) as {
      values: Record<string, number>;
    };
    expect(payload.values).toMatchObject({ price: 1504.5, previous: 1500, previousTs: ist("2024-06-03T09:15:00") });

    // The next morning, before any evening refresh: yesterday's high (1510, from the stored
    // minutes) is part of the 52 weeks now.
    minute(RELIANCE, "2025-01-16T09:20:00", 1505);
    expect(await fetch()).toBe(0);
    minute(RELIANCE, "2025-01-16T09:21:00", 1511);
    expect(await fetch()).toBe(1);
    const second = (await f.smtp.waitForMessages(2))[1]!;
    expect(second.parsed.text).toContain("previous 52-week high ₹1510.00 of Wed, 15 Jan 2025");
  });
});
