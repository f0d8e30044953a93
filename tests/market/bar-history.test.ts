import { afterEach, describe, expect, it } from "vitest";
import { historyRequests, MAX_HISTORY_DAYS, sessionBars } from "../../src/market/bar-history.js";
import { sessionOn } from "../../src/market/calendar.js";
import type { SessionOf } from "../../src/market/timeframes.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const ist = (s: string) => Date.parse(`${s}+05:30`);
const DAY = 86_400_000;
const sessionOf: SessionOf = (ts) => sessionOn(new Date(ts), new Set(), new Map());
const daysBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / DAY;

describe("hourly and daily history: what to ask for", () => {
  it("asks for daily bars in one request (a decade's span) and hourly ones in quarters, newest first, without gaps or overlaps", () => {
    expect(historyRequests("1d", 371, "2025-01-15")).toEqual([{ from: "2024-01-11", to: "2025-01-15" }]);
    // Five years of daily bars still fit one request.
    expect(historyRequests("1d", 10_000, "2025-01-15")).toHaveLength(1);
    expect(daysBetween(historyRequests("1d", 10_000, "2025-01-15")[0]!.from, "2025-01-15")).toBe(MAX_HISTORY_DAYS["1d"] - 1);

    const hourly = historyRequests("1h", 300, "2025-01-15");
    expect(hourly.length).toBe(4);
    expect(hourly[0]!.to).toBe("2025-01-15");
    for (const [i, r] of hourly.entries()) {
      // Inside Upstox's one-quarter span for hours.
      expect(daysBetween(r.from, r.to)).toBeLessThan(89);
      if (i > 0) expect(daysBetween(r.to, hourly[i - 1]!.from)).toBe(1);
    }
    expect(daysBetween(hourly.at(-1)!.from, "2025-01-15")).toBe(299);
  });

  it("turns Upstox's days (keyed by IST midnight, newest first) into session bars, oldest first, without today's unfinished one", () => {
    const day = (date: string, high: number) => ({ ts: ist(`${date}T00:00:00`), open: 100, high, low: 90, close: 95, volume: 1000 });
    const now = ist("2025-01-15T11:00:00");
    const bars = sessionBars([day("2025-01-15", 130), day("2025-01-14", 120), day("2025-01-13", 110), day("2025-01-14", 121)], "1d", sessionOf, now);
    expect(bars.map((b) => [b.ts, b.end, b.high])).toEqual([
      [ist("2025-01-13T09:15:00"), ist("2025-01-13T15:30:00"), 110],
      // A day sent twice keeps the later one.
      [ist("2025-01-14T09:15:00"), ist("2025-01-14T15:30:00"), 121],
    ]);
    // After the close, today's bar is history too.
    expect(sessionBars([day("2025-01-15", 130)], "1d", sessionOf, ist("2025-01-15T15:30:00"))).toHaveLength(1);
    // Nonsense is dropped.
    expect(sessionBars([{ ...day("2025-01-13", 110), low: 0 }, { ...day("2025-01-10", 80) }], "1d", sessionOf, now)).toHaveLength(0);
  });

  it("ends an hourly bar an hour on, or at the session's close (the 15:15 bar is 15 minutes)", () => {
    const hour = (t: string) => ({ ts: ist(t), open: 1, high: 2, low: 1, close: 2, volume: 5 });
    const bars = sessionBars(
      [hour("2025-01-14T15:15:00"), hour("2025-01-14T14:15:00"), hour("2025-01-15T10:15:00")],
      "1h",
      sessionOf,
      ist("2025-01-15T11:00:00"),
    );
    expect(bars.map((b) => b.end - b.ts)).toEqual([3_600_000, 900_000]);
  });
});

describe("hourly and daily history from the fake Upstox", () => {
  let f: AppFixture;
  let now: number;
  afterEach(() => f.close());

  const start = async () => {
    now = ist("2025-01-15T10:30:00"); // a Wednesday, market open
    f = await startAppFixture({ clock: () => now, upstox: true, env: { INSTRUMENT_FILES: "NSE" }, takeOver: ["poll-quotes", "fetch-candles"] });
    const token = f.fake.issueToken({ userId: "UPX" });
    return f.linkTrader({
      email: "h@example.com",
      upstoxUserId: "UPX",
      token,
      rules: [
        { instrumentKey: RELIANCE, kind: "high_52w", params: {}, frequency: "once" },
        { instrumentKey: RELIANCE, kind: "rsi_below", params: { level: 30, period: 14, timeframe: "1h" }, frequency: "every" },
      ],
    });
  };
  const stored = (tf: "1h" | "1d") => f.services.candles.bars(RELIANCE, tf, Number.MAX_SAFE_INTEGER, 10_000);

  it("stores a year of daily bars and enough hourly ones, oldest first, in requests Upstox accepts; the next day asks only from the last day on", async () => {
    await start();
    const { result } = await runJob<{ stored: number; requests: number; bars: Record<string, number> }>(f.services.queues["refresh-bar-history"], {
      instrumentKey: RELIANCE,
    });
    const calls = f.fake.requestsTo("/v3/historical-candle/");
    expect(calls.every((c) => c.status === 200)).toBe(true);
    const daily = calls.filter((c) => c.path.includes("/days/1/"));
    const hourly = calls.filter((c) => c.path.includes("/hours/1/"));
    expect(daily.map((c) => c.path.split("/").slice(-2))).toEqual([["2025-01-15", "2024-01-11"]]);
    expect(hourly.length).toBeGreaterThanOrEqual(1);
    expect(result.requests).toBe(daily.length + hourly.length);
    // The spans matter: Upstox refuses hours over more than a quarter in one request.
    const session = f.services.upstox!.tokens.marketDataSession()!;
    await expect(f.services.upstox!.client.getHistoricalCandles(session, RELIANCE, "hours", 1, "2025-01-15", "2024-09-01")).rejects.toThrow(/span/);

    const days = stored("1d");
    // About a year of trading days, each a session bar, strictly increasing, none of today (still open).
    expect(days.length).toBeGreaterThan(240);
    expect(days.every((b, i) => i === 0 || b.ts > days[i - 1]!.ts)).toBe(true);
    expect(days.every((b) => new Date(b.ts + 330 * 60_000).toISOString().slice(11, 16) === "09:15")).toBe(true);
    expect(days.at(-1)!.ts).toBe(ist("2025-01-14T09:15:00"));
    const hours = stored("1h");
    // RSI(14) on hourly bars settles within ~100 of them.
    expect(hours.length).toBeGreaterThanOrEqual(result.bars["1h"]! - 10);
    expect(hours.at(-1)!.ts).toBe(ist("2025-01-15T09:15:00"));
    expect(result.bars["1d"]).toBe(days.length);

    // The evening after: one request each, from the last stored day.
    f.fake.clearRequests();
    now = ist("2025-01-15T19:45:00");
    await runJob(f.services.queues["refresh-bar-history"], { instrumentKey: RELIANCE });
    const again = f.fake.requestsTo("/v3/historical-candle/");
    expect(again.map((c) => c.path.split("/").slice(-4).join("/")).sort()).toEqual(["days/1/2025-01-15/2025-01-14", "hours/1/2025-01-15/2025-01-15"]);
    expect(stored("1d").at(-1)!.ts).toBe(ist("2025-01-15T09:15:00"));
    expect(stored("1h").at(-1)!.ts).toBe(ist("2025-01-15T15:15:00"));
  });

  it("the evening run queues every instrument whose rules read long bars, and skips days without a session", async () => {
    await start();
    now = ist("2025-01-15T19:45:00");
    const { result } = await runJob<{ queued: number }>(f.services.queues["refresh-bar-history"]);
    expect(result.queued).toBe(1);
    now = ist("2025-01-18T19:45:00"); // a Saturday
    expect((await runJob<{ skipped: string }>(f.services.queues["refresh-bar-history"])).result).toEqual({ skipped: "not a trading day" });
  });
});
