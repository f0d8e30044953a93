import { createCanvas, loadImage } from "@napi-rs/canvas";
import type { InlineKeyboardMarkup } from "grammy/types";
import { simpleParser } from "mailparser";
import { afterEach, describe, expect, it } from "vitest";
import type { PollQuotesResult } from "../../jobs/poll-quotes.js";
import { THEME } from "../../src/charts/render-chart.js";
import { istInstant } from "../../src/market/calendar.js";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { MarketCandle } from "../../src/market/types.js";
import { alertChartCid, makeAlertChart } from "../../src/notify/alert-chart.js";
import { FakeTelegram, type SentMessage } from "../fakes/telegram/index.js";
import { capturingLog } from "../support/app.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { ScriptedQuotes } from "../support/quotes.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const SBIN = "NSE_EQ|INE062A01020";
const CHAT = 616161;
const LEVEL = 1420;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const SESSIONS = ["2024-12-30", "2024-12-31", "2025-01-01", "2025-01-02", "2025-01-03"];

const labels = (m: SentMessage) => (m.replyMarkup as InlineKeyboardMarkup | undefined)?.inline_keyboard.map((row) => row.map((b) => b.text));

/** Five sessions of one-minute candles before Monday 2025-01-06, and that morning's up to 10:29 IST: enough for 120 quarter-hours. */
function storedMinutes(key: string): Array<readonly [string, MarketCandle]> {
  const out: Array<readonly [string, MarketCandle]> = [];
  let price = LEVEL - 30;
  const add = (date: string, m: number) => {
    const open = price;
    price += Math.sin(m / 23) * 0.8 + 0.02;
    out.push([
      key,
      { ts: istInstant(date, m).getTime(), open, high: Math.max(open, price) + 0.4, low: Math.min(open, price) - 0.4, close: price, volume: 1000 },
    ]);
  };
  for (const date of SESSIONS) for (let m = 9 * 60 + 15; m < 15 * 60 + 30; m++) add(date, m);
  for (let m = 9 * 60 + 15; m < 10 * 60 + 30; m++) add("2025-01-06", m);
  return out;
}

/** How many pixels of the picture are this colour (give or take anti-aliasing). */
async function pixelsOf(png: Buffer, hex: string): Promise<number> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, image.width, image.height).data;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i]! - r) < 8 && Math.abs(data[i + 1]! - g) < 8 && Math.abs(data[i + 2]! - b) < 8) n++;
  return n;
}

/**
 * An alert carrying its chart, through the real notify job: a scripted price fires a rule,
 * the job draws the chart from the candle store and sends it to the fake Telegram Bot API as
 * a photo, or to a real SMTP server as an inline image; and without a chart it sends the text.
 */
describe("alerts with their chart", () => {
  let f: AppFixture | undefined;
  let tg: FakeTelegram | undefined;
  afterEach(async () => {
    await f?.close();
    await tg?.close();
    f = tg = undefined;
  });

  async function start(opts: { telegram: boolean; withCandles: boolean }) {
    let now = Date.UTC(2025, 0, 6, 5, 0, 0); // 10:30 IST on a Monday
    const quotes = new ScriptedQuotes(() => now);
    const logged = capturingLog("warn");
    if (opts.telegram) tg = await FakeTelegram.start();
    f = await startAppFixture({
      clock: () => now,
      quoteSource: quotes,
      upstox: true,
      smtp: !opts.telegram,
      log: logged.log,
      env: {
        SIMULATOR_ALWAYS_OPEN: "true",
        TRADING_ENABLED: "true",
        ...(tg ? { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot } : {}),
      },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    f.services.instruments.upsertMany(SIMULATED_INSTRUMENTS);
    if (opts.withCandles) f.services.candles.upsert("1m", [...storedMinutes(RELIANCE), ...storedMinutes(SBIN)]);
    const fire = async (keys: readonly string[]) => {
      const poll = async () => (await runJob<PollQuotesResult>(f!.services.queues["poll-quotes"])).result;
      for (const key of keys) quotes.set(key, LEVEL - 5);
      expect(await poll()).toMatchObject({ fired: 0 });
      now += 15_000;
      for (const key of keys) quotes.set(key, LEVEL + 2.5);
      expect(await poll()).toMatchObject({ fired: keys.length });
    };
    const rule = (key: string) => ({
      instrumentKey: key,
      kind: "cross_up" as const,
      params: { level: LEVEL },
      frequency: "every" as const,
      cooldownSeconds: 0,
    });
    return { fire, rule, warnings: logged.lines };
  }

  const sentAll = () =>
    waitUntil(() => (f!.services.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE status != 'sent'").get() as { n: number }).n === 0 || undefined, {
      what: "every notification sent",
    });
  const onlyRow = () =>
    f!.services.db.prepare("SELECT id, user_id AS userId, kind, payload FROM notifications").get() as {
      id: number;
      userId: number;
      kind: string;
      payload: string;
    };

  it("Telegram, charts on: one photo of the alert's chart, the alert's text as its caption and the alert's buttons", async () => {
    const { fire, rule } = await start({ telegram: true, withCandles: true });
    const { user } = f!.addTrader({ telegramId: CHAT, channels: "telegram", watch: [RELIANCE], rules: [rule(RELIANCE)] });
    f!.services.users.update(user.id, { prefs: { alertCharts: true } });
    await fire([RELIANCE]);
    const [msg] = await tg!.waitForMessages(CHAT, 1, 15_000);
    await sentAll();
    expect(tg!.sentTo(CHAT)).toHaveLength(1);
    expect(msg!.method).toBe("sendPhoto");
    expect(msg!.caption).toMatch(/^🔔 RELIANCE crossed above ₹1,420\.00\nLast price: ₹1,422\.50/);
    expect(msg!.captionEntities?.some((e) => e.type === "bold")).toBe(true);
    expect(labels(msg!)).toEqual([
      ["Buy", "Sell", "Set GTT"],
      ["😴 1 h", "🗑 Delete"],
    ]);
    const png = msg!.photo!.content;
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.length).toBeGreaterThan(20_000);
    expect(png.length).toBeLessThan(2_000_000);
    const image = await loadImage(png);
    expect([image.width, image.height]).toEqual([1280, 720]);
    // The very chart the alert makes: 120 quarter-hours up to the firing, with the rule's level drawn.
    const row = onlyRow();
    const chart = await makeAlertChart(f!.services, { ...row, payload: JSON.parse(row.payload) as Record<string, unknown> });
    expect(chart).toMatchObject({ ok: true, timeframe: "15m", bars: 120, filename: "RELIANCE-15m.png" });
    expect(chart.ok && chart.png.equals(png)).toBe(true);
    expect(await pixelsOf(png, THEME.levels[0])).toBeGreaterThan(200);
  });

  it("Telegram, charts on but no candles yet: the alert goes as text with its buttons, and the reason is logged", async () => {
    const { fire, rule, warnings } = await start({ telegram: true, withCandles: false });
    const { user } = f!.addTrader({ telegramId: CHAT, channels: "telegram", watch: [RELIANCE], rules: [rule(RELIANCE)] });
    f!.services.users.update(user.id, { prefs: { alertCharts: true } });
    await fire([RELIANCE]);
    const [msg] = await tg!.waitForMessages(CHAT, 1, 15_000);
    await sentAll();
    expect(msg!.method).toBe("sendMessage");
    expect(msg!.text).toMatch(/^🔔 RELIANCE crossed above ₹1,420\.00/);
    expect(labels(msg!)).toEqual([
      ["Buy", "Sell", "Set GTT"],
      ["😴 1 h", "🗑 Delete"],
    ]);
    expect(warnings.map((l) => l.msg)).toContain("alert sent without its chart: no 15m candles of RELIANCE yet");
  });

  it("Telegram refuses the photo (400): the same alert goes as text at once; a 429 on the photo is waited out and the photo goes", async () => {
    const { fire, rule, warnings } = await start({ telegram: true, withCandles: true });
    const { user } = f!.addTrader({ telegramId: CHAT, channels: "telegram", watch: [RELIANCE], rules: [rule(RELIANCE)] });
    f!.services.users.update(user.id, { prefs: { alertCharts: true } });
    tg!.failNext({ method: "sendPhoto", status: 400, description: "Bad Request: IMAGE_PROCESS_FAILED" });
    await fire([RELIANCE]);
    const [msg] = await tg!.waitForMessages(CHAT, 1, 15_000);
    await sentAll();
    expect(msg!.method).toBe("sendMessage");
    expect(msg!.text).toMatch(/^🔔 RELIANCE crossed above ₹1,420\.00/);
    expect(labels(msg!)).toHaveLength(2);
    expect(tg!.sentTo(CHAT)).toHaveLength(1);
    expect(warnings.find((l) => l.msg === "Telegram refused the alert's chart: sent as text")).toMatchObject({ error: "Bad Request: IMAGE_PROCESS_FAILED" });

    tg!.failNext({ method: "sendPhoto", status: 429, retryAfter: 1 });
    await fire([RELIANCE]);
    const [, again] = await tg!.waitForMessages(CHAT, 2, 15_000);
    await sentAll();
    expect(again!.method).toBe("sendPhoto");
    expect(again!.caption).toMatch(/^🔔 RELIANCE crossed above ₹1,420\.00/);
    expect(tg!.sentTo(CHAT)).toHaveLength(2);
  });

  it("Telegram, charts off (the default): text, even with candles to draw", async () => {
    const { fire, rule } = await start({ telegram: true, withCandles: true });
    const { user } = f!.addTrader({ telegramId: CHAT, channels: "telegram", watch: [RELIANCE], rules: [rule(RELIANCE)] });
    expect(user.prefs.alertCharts).toBeUndefined();
    await fire([RELIANCE]);
    const [msg] = await tg!.waitForMessages(CHAT, 1, 15_000);
    await sentAll();
    expect(msg!.method).toBe("sendMessage");
    expect(tg!.sentTo(CHAT)).toHaveLength(1);
  });

  it("Telegram, charts on, two alerts grouped in one message: text (a photo carries one alert)", async () => {
    const { fire, rule } = await start({ telegram: true, withCandles: true });
    const { user } = f!.addTrader({ telegramId: CHAT, channels: "telegram", watch: [RELIANCE, SBIN], rules: [rule(RELIANCE), rule(SBIN)] });
    f!.services.users.update(user.id, { prefs: { alertCharts: true } });
    await fire([RELIANCE, SBIN]);
    const [msg] = await tg!.waitForMessages(CHAT, 1, 15_000);
    await sentAll();
    expect(tg!.sentTo(CHAT)).toHaveLength(1);
    expect(msg!.method).toBe("sendMessage");
    expect(msg!.text).toContain("🔔 RELIANCE crossed above");
    expect(msg!.text).toContain("🔔 SBIN crossed above");
  });

  it("email, charts on: the chart is an inline PNG the HTML shows by its cid; the text part is unchanged; charts off: no image", async () => {
    const { fire, rule } = await start({ telegram: false, withCandles: true });
    const withChart = f!.addTrader({ telegramId: null, email: "chart@example.com", watch: [RELIANCE], rules: [rule(RELIANCE)] });
    f!.services.users.update(withChart.user.id, { prefs: { alertCharts: true } });
    f!.addTrader({ telegramId: null, email: "plain@example.com", watch: [SBIN], rules: [rule(SBIN)] });
    await fire([RELIANCE, SBIN]);
    const mails = await f!.smtp.waitForMessages(2);
    await sentAll();
    // Parsed again keeping the cid: links (mailparser otherwise inlines the image as a data: URL).
    const mail = await simpleParser(mails.find((m) => m.envelopeTo[0] === "chart@example.com")!.raw, { keepCidLinks: true });
    const plain = mails.find((m) => m.envelopeTo[0] === "plain@example.com")!.parsed;

    const rowId = (
      f!.services.db.prepare("SELECT n.id FROM notifications n JOIN users u ON u.id = n.user_id WHERE u.email = ?").get("chart@example.com") as { id: number }
    ).id;
    const cid = alertChartCid(rowId);
    expect(mail.attachments).toHaveLength(1);
    const image = mail.attachments[0]!;
    expect(image.contentType).toBe("image/png");
    expect(image.cid).toBe(cid);
    expect(image.contentDisposition).toBe("inline");
    expect(image.content.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(image.content.length).toBeGreaterThan(20_000);
    expect(mail.html).toContain(`<img src="cid:${cid}" alt="RELIANCE 15m chart"`);
    // The picture sits above the footer, below the alert.
    const html = mail.html || "";
    expect(html.indexOf("cid:")).toBeGreaterThan(html.indexOf("crossed above"));
    expect(html.indexOf("cid:")).toBeLessThan(html.indexOf("You get this because"));
    expect(mail.headers.get("content-type")).toMatchObject({ value: "multipart/alternative" });
    expect(mail.text).toMatch(/^RELIANCE crossed above ₹1,420\.00\nLast price: Rs 1,422\.50/);
    expect(mail.text).not.toMatch(/cid:|chart/i);

    expect(plain.attachments).toHaveLength(0);
    expect(plain.html).not.toContain("<img");
    expect(plain.text).toMatch(/^SBIN crossed above ₹1,420\.00\nLast price: Rs 1,422\.50/);
  });
});
