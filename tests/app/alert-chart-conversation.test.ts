import { loadImage } from "@napi-rs/canvas";
import type { InlineKeyboardMarkup } from "grammy/types";
import { afterEach, describe, expect, it } from "vitest";
import type { FetchCandlesResult } from "../../jobs/fetch-candles.js";
import { istInstant } from "../../src/market/calendar.js";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import type { Candle } from "../fakes/upstox/candles.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TRADER = { id: 7007, username: "chartwatcher", first_name: "Meera" };
const MIN = 60_000;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** "2025-01-15T10:59:00+05:30": how Upstox stamps a candle. */
const istStamp = (ts: number) => `${new Date(ts + 330 * MIN).toISOString().slice(0, 19)}+05:30`;

/**
 * A whole conversation through the fakes, with an AND alert carrying its chart: the trader
 * turns charts on and sets `rsi below 30 and price above ema 200`; Upstox (the fake) has a
 * long climb in its history, then the live price drops hard for a few minutes; the bot's
 * candle job closes each minute from Upstox's one-minute OHLC, and when both conditions hold
 * at once exactly one message arrives: a photo whose caption lists both with their values.
 */
describe("an AND alert arrives with its chart", () => {
  let f: AppFixture | undefined;
  let tg: FakeTelegram | undefined;
  afterEach(async () => {
    await f?.close();
    await tg?.close();
    f = tg = undefined;
  });

  it("/settings charts on, /alert … and …, prices move on Upstox: one photo, caption with both conditions and their values", async () => {
    let now = Date.parse("2025-01-15T11:00:05+05:30"); // a Wednesday, market open
    tg = await FakeTelegram.start();
    f = await startAppFixture({
      clock: () => now,
      upstox: true,
      smtp: false,
      env: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    const s = f.services;
    s.instruments.upsertMany(SIMULATED_INSTRUMENTS);

    // Upstox's history: yesterday's whole session and this morning up to 10:59, climbing 0.5 a minute to ₹1,400.
    const minutes = [
      ...Array.from({ length: 375 }, (_, i) => istInstant("2025-01-14", 9 * 60 + 15 + i).getTime()),
      ...Array.from({ length: 105 }, (_, i) => istInstant("2025-01-15", 9 * 60 + 15 + i).getTime()),
    ];
    const history: Candle[] = minutes.map((ts, i) => {
      const close = 1400 - (minutes.length - 1 - i) * 0.5;
      return [istStamp(ts), close - 0.5, close + 0.3, close - 0.8, close, 5000, 0];
    });
    f.fake.setCandles(RELIANCE, history.reverse());
    f.fake.setPrice(RELIANCE, 1400);

    const say = async (text: string) => {
      const before = tg!.sentTo(TRADER.id).length;
      await tg!.sendText(TRADER, text);
      return (await tg!.waitForMessages(TRADER.id, before + 1, 15_000))[before]!;
    };
    expect((await say("/start")).text).toContain("Welcome, Meera");
    // The trader's Upstox login serves the bot's market data (the candles below).
    const user = s.users.findByTelegramId(TRADER.id)!;
    s.upstox!.tokens.save(user.id, f.fake.issueToken({ userId: "UPX7007" }), "UPX7007", new Date(now));

    expect((await say("/settings charts maybe")).text).toContain("/settings charts on|off");
    expect((await say("/settings")).text).toContain("Charts with alerts: off");
    expect((await say("/settings charts on")).text).toContain("alerts now come with their chart");
    expect((await say("/settings")).text).toContain("Charts with alerts: on");
    expect((await say("/alert RELIANCE rsi below 30 and price above ema 200")).text).toContain("Alert #1: RELIANCE RSI(14) below 30 and price above EMA 200");
    const before = tg.sentTo(TRADER.id).length;

    // The first candle job finds too little history and has it loaded (the app's own worker runs the warm-up).
    const fetchCandles = async () => (await runJob<FetchCandlesResult>(s.queues["fetch-candles"])).result;
    await fetchCandles();
    await waitUntil(() => s.candles.stats(RELIANCE, "1m").count >= 400 || undefined, { what: "Upstox history loaded", timeoutMs: 15_000 });

    // Then the price falls ₹6 a minute: RSI drops under 30 within a few minutes, while the
    // price is still well above its 200-minute EMA (some ₹50 under the climb's top).
    let price = 1400;
    let fired = 0;
    for (let i = 0; i < 12 && !fired; i++) {
      price -= 6;
      f.fake.setPrice(RELIANCE, price);
      now += MIN;
      const r = await fetchCandles();
      if ("fired" in r) fired += r.fired;
    }
    expect(fired).toBe(1);
    // A minute later nothing more (the alert was set once, as /alert reads it by default).
    price -= 6;
    f.fake.setPrice(RELIANCE, price);
    now += MIN;
    expect(await fetchCandles()).toMatchObject({ fired: 0 });

    const [alert] = (await tg.waitForMessages(TRADER.id, before + 1, 15_000)).slice(before);
    await waitUntil(() => (s.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE status = 'pending'").get() as { n: number }).n === 0 || undefined, {
      what: "the alert delivered",
    });
    expect(tg.sentTo(TRADER.id).slice(before)).toHaveLength(1);
    expect(alert!.method).toBe("sendPhoto");
    const caption = alert!.caption!;
    expect(caption).toMatch(/^📈 RELIANCE all 2 conditions hold/);
    const rsi = /RSI\(14\) (\d+\.\d\d) < 30/.exec(caption);
    const ema = /price ₹([\d,]+\.\d\d) > EMA 200 ₹([\d,]+\.\d\d)/.exec(caption);
    expect(rsi, caption).not.toBeNull();
    expect(ema, caption).not.toBeNull();
    expect(Number(rsi![1])).toBeLessThan(30);
    const [close, line] = [ema![1]!, ema![2]!].map((v) => Number(v.replace(/,/g, ""))) as [number, number];
    expect(close).toBeGreaterThan(line);
    // Snooze and Delete come with it, as with a text alert.
    const buttons = (alert!.replyMarkup as InlineKeyboardMarkup).inline_keyboard.flat().map((b) => b.text);
    expect(buttons).toEqual(expect.arrayContaining(["😴 1 h", "🗑 Delete"]));
    // The picture: a PNG of the one-minute chart.
    const png = alert!.photo!.content;
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.length).toBeGreaterThan(20_000);
    const image = await loadImage(png);
    expect([image.width, image.height]).toEqual([1280, 720]);
    expect(alert!.photo!.filename).toBe("RELIANCE-1m.png");
  });
});
