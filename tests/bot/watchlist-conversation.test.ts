import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningApp } from "../../src/app.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { startTestApp, testConfig, upstoxEnv } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { runJob, takeOverScheduler } from "../support/queues.js";
import { startSmtpCapture, type SmtpCapture } from "../support/smtp.js";
import { waitUntil } from "../support/wait.js";

const HDFCBANK = "NSE_EQ|INE040A01034";
const ICICIBANK = "NSE_EQ|INE090A01021";
const SBIN = "NSE_EQ|INE062A01020";
const AXISBANK = "NSE_EQ|INE238A01034";
const BANKS = [HDFCBANK, ICICIBANK, SBIN, AXISBANK];
const TRADER = { id: 1001, username: "trader", first_name: "Asha" };
const OTHER = { id: 1002, username: "other", first_name: "Ravi" };

/**
 * Named watchlists and one rule over a whole list, through the fake Telegram and the fake
 * Upstox with real Redis and SQLite: what a trader sees when several banks move at once.
 */
describe("a rule over a watchlist, in chat", () => {
  let tg: FakeTelegram;
  let upstox: FakeUpstox;
  let smtp: SmtpCapture;
  let app: RunningApp;
  let dataDir: string;
  let prefix: string;
  let now: number;

  const say = async (from: { id: number; first_name?: string }, text: string) => {
    const before = tg.sentTo(from.id).length;
    await tg.sendText(from, text);
    return (await tg.waitForMessages(from.id, before + 1, 10_000))[before]!;
  };

  /** Prices as the next poll sees them; returns the messages the poll brought. */
  const poll = async (prices: Record<string, number>, expected: number) => {
    const before = tg.sentTo(TRADER.id).length;
    for (const [key, price] of Object.entries(prices)) upstox.setPrice(key, price);
    await runJob(app.services.queues["poll-quotes"]);
    if (!expected) {
      // Give a wrongly queued notification the time it would take to arrive.
      await new Promise((r) => setTimeout(r, 600));
      return tg.sentTo(TRADER.id).slice(before);
    }
    return (await tg.waitForMessages(TRADER.id, before + expected, 10_000)).slice(before);
  };

  beforeEach(async () => {
    now = Date.parse("2025-01-15T10:30:00+05:30");
    upstox = await FakeUpstox.start({ now: () => now });
    smtp = await startSmtpCapture();
    dataDir = tempDir();
    prefix = uniquePrefix();
    tg = await FakeTelegram.start();
    const config = testConfig({
      dataDir,
      prefix,
      env: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, ...upstoxEnv(upstox), INSTRUMENT_FILES: "NSE", SMTP_URL: smtp.url },
    });
    app = await startTestApp(config, { clock: () => now, delivery: { attempts: 3, backoffMs: 50 } });
    for (const q of ["poll-quotes", "fetch-candles"] as const) await takeOverScheduler(app.services.queues[q]);
    await waitUntil(() => app.services.instruments.findBySymbol("HDFCBANK"), { what: "instruments loaded" });
    for (const key of BANKS) {
      upstox.setPrevClose(key, 1000);
      upstox.setPrice(key, 1000);
    }
    const trader = app.services.users.create({ telegramId: TRADER.id, displayName: "Asha", email: "asha@example.com", emailVerified: true, channels: "both" });
    const token = upstox.issueToken({ userId: "UPX1001" });
    app.services.upstox!.tokens.save(trader.id, token, "UPX1001", new Date(now));
  });

  afterEach(async () => {
    await app?.stop();
    await tg?.close();
    await upstox.close();
    await smtp.close();
    await deletePrefix(prefix);
    removeDir(dataDir);
  });

  it("/watch NAME makes a list, /alert watchlist NAME fires per symbol in one message, and follows the list", async () => {
    expect((await say(TRADER, "/watch banks HDFCBANK ICICIBANK SBIN")).text).toBe(
      "📋 New list banks: watching HDFCBANK, ICICIBANK, SBIN. See it with /watchlist banks.",
    );
    expect((await say(TRADER, "/watch RELIANCE")).text).toBe("👀 Watching RELIANCE.");
    expect((await say(TRADER, "/watchlist")).text).toMatch(/^Your watchlist\nRELIANCE .*\n\n📋 Your lists: banks \(3\) — \/watchlist NAME$/);
    expect((await say(TRADER, "/watchlist banks")).text).toMatch(
      /^List banks\nHDFCBANK ₹1,000\.00 .*\nICICIBANK .*\nSBIN .*\n\n📋 Other lists: \(main\)|^List banks\nHDFCBANK/,
    );
    expect((await say(TRADER, "/watchlist bank")).text).toContain("You have no list named bank. Did you mean banks?");

    const set = await say(TRADER, "/alert watchlist banks change 2% every");
    expect(set.text).toMatch(/^✅ Alert #1: watchlist banks \(3 symbols\) .*Each symbol fires on its own/);
    expect((await say(TRADER, "/alerts")).text).toMatch(/^Your alerts\n#1 watchlist banks change 2% every \(3 symbols\)\n {4}\S/);

    await poll({ [HDFCBANK]: 1000, [ICICIBANK]: 1000, [SBIN]: 1000 }, 0);
    // Two banks move past 2 % in the same poll: one message names both, with the list.
    now += 5000;
    const [both, ...more] = await poll({ [HDFCBANK]: 1031, [ICICIBANK]: 1024.5 }, 1);
    expect(more).toEqual([]);
    expect(both!.text).toContain("HDFCBANK");
    expect(both!.text).toContain("ICICIBANK");
    expect(both!.text).not.toContain("SBIN");
    expect(both!.text!.match(/· watchlist banks/g)).toHaveLength(2);
    // By email too, as one message: both alerts, the footer once.
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toBe("Watchlist banks: 2 alerts (HDFCBANK, ICICIBANK)");
    expect(mail!.parsed.text).toContain("HDFCBANK moved");
    expect(mail!.parsed.text).toContain("ICICIBANK moved");
    expect(mail!.parsed.text!.match(/You get this because/g)).toHaveLength(1);
    expect(String(mail!.parsed.html).match(/watchlist banks/g)).toHaveLength(2);

    // A symbol added to the list is watched by the rule; one removed is not.
    expect((await say(TRADER, "/watch banks AXISBANK")).text).toBe("👀 Watching AXISBANK on list banks.");
    expect((await say(TRADER, "/unwatch banks HDFCBANK")).text).toBe("Removed HDFCBANK from list banks.");
    expect((await say(TRADER, "/alerts")).text).toContain("(3 symbols)");
    now += 61_000;
    await poll({ [HDFCBANK]: 1000, [AXISBANK]: 1000 }, 0);
    now += 5000;
    const [axis] = await poll({ [HDFCBANK]: 1040, [AXISBANK]: 1033 }, 1);
    expect(axis!.text).toContain("AXISBANK");
    expect(axis!.text).not.toContain("HDFCBANK");

    // Another trader has no list of that name, and cannot see or touch this one.
    await say(OTHER, "/start");
    expect((await say(OTHER, "/alert watchlist banks rsi below 30")).text).toBe("You have no watchlist named banks. Make one with /watch banks SYMBOL SYMBOL…");
    expect((await say(OTHER, "/delalert 1")).text).toBe("You have no alert #1. See /alerts.");

    // Deleting the rule stops every symbol.
    expect((await say(TRADER, "/delalert 1")).text).toBe("🗑 Alert #1 deleted.");
    now += 61_000;
    await poll({ [SBIN]: 1000 }, 0);
    now += 5000;
    expect(await poll({ [SBIN]: 1050 }, 0)).toEqual([]);
  });

  it("bounds the symbol rules one trader's alerts carry, when a rule is set and when a list grows", async () => {
    await say(TRADER, "/watch big HDFCBANK ICICIBANK SBIN AXISBANK KOTAKBANK YESBANK TCS INFY ITC LT WIPRO MARUTI");
    const user = app.services.users.findByTelegramId(TRADER.id)!;
    // 166 rules on a 12-symbol list: 1,992 symbol rules.
    for (let i = 0; i < 166; i++)
      app.services.rules.createForWatchlist({ userId: user.id, watchlist: "big", kind: "change_pct", params: { pct: 2 + i / 100 } });
    expect(app.services.rules.symbolRuleCount(user.id)).toBe(1992);
    expect((await say(TRADER, "/alert watchlist big rsi below 30")).text).toBe(
      "Your alerts already watch 1992 symbols (a rule on a list counts each of its symbols); 2000 is the most. Delete some with /alerts first.",
    );
    expect((await say(TRADER, "/watch big BHARTIARTL")).text).toBe(
      "Your alerts watch 2000 symbols, the most: the alerts on list big can't take more. Delete some with /alerts first.",
    );
    expect(app.services.watchlists.forUser(user.id, "big")).toHaveLength(12);
    // The main list has no rules on it: it still grows.
    expect((await say(TRADER, "/watch BHARTIARTL")).text).toBe("👀 Watching BHARTIARTL.");
  });

  it("a list name that looks like a mistyped symbol is kept, and the trader is told how to undo it", async () => {
    const reply = await say(TRADER, "/watch HDFCBNK ICICIBANK");
    expect(reply.text).toContain("📋 New list hdfcbnk: watching ICICIBANK.");
    expect(reply.text).toContain('If "hdfcbnk" was meant as the symbol HDFCBANK: /unwatch hdfcbnk all, then /watch HDFCBANK ICICIBANK.');
    expect((await say(TRADER, "/unwatch hdfcbnk all")).text).toMatch(/^🗑 List hdfcbnk emptied \(1 symbol\)/);
    expect((await say(TRADER, "/alert watchlist hdfcbnk rsi below 30")).text).toBe(
      "You have no watchlist named hdfcbnk. Make one with /watch hdfcbnk SYMBOL SYMBOL…",
    );
    // A 52-week alert says it waits for its year of daily prices.
    expect((await say(TRADER, "/alert HDFCBANK 52w high")).text).toMatch(/^✅ Alert #\d+: HDFCBANK makes a new 52-week high.*I fetch a year of daily prices/);
  });
});
