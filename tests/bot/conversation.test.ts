import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningApp } from "../../src/app.js";
import { COMMANDS } from "../../src/bot/commands.js";
import { LOGIN_ENDED, NO_MARKET_DATA, NOT_LINKED } from "../../src/bot/errors.js";
import { seededRandom } from "../../src/market/simulator.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { startTestApp, testConfig, upstoxEnv } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { runJob, takeOverScheduler } from "../support/queues.js";
import { startSmtpCapture, type SmtpCapture } from "../support/smtp.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const ADMIN = { id: 999, username: "boss", first_name: "Admin" };
const TRADER = { id: 1001, username: "trader", first_name: "Asha" };
const OTHER = { id: 1002, username: "other", first_name: "Ravi" };

/**
 * Whole conversations through the fake Telegram Bot API (long polling) and the fake Upstox,
 * with real Redis, SQLite and SMTP: what a trader and an admin actually see.
 */
describe("chat with the bot", () => {
  let tg: FakeTelegram;
  let upstox: FakeUpstox;
  let smtp: SmtpCapture;
  let app: RunningApp;
  let dataDir: string;
  let prefix: string;
  let now: number;

  /** Sends a message and waits for the next reply in that chat (their private chat unless `chatId`). */
  const say = async (from: { id: number; username?: string; first_name?: string }, text: string, chatId = from.id) => {
    const before = tg.sentTo(chatId).length;
    await tg.sendText(from, text, { chatId });
    const msgs = await tg.waitForMessages(chatId, before + 1, 10_000);
    return msgs[before]!;
  };

  /** The login-expired notice (kind token_expired), in either of its forms. */
  const isLoginNotice = (m: { text?: string }) => m.text?.startsWith("🔑 ") === true;

  /**
   * A pushed notification rather than a reply: the login-expired notice, or an order update
   * (its footer names the order), alone or grouped with others in one message.
   */
  const isPushed = (m: { text?: string }) => m.text !== undefined && (m.text.includes("🔑 ") || /^Order \d+ · .* IST$/m.test(m.text));

  /**
   * Sends a message and waits for the reply that is not a pushed notification: a token Upstox
   * refuses also queues the login notice, and an order placed while the portfolio stream is up
   * is told as it fills; either may reach the chat before or after the reply.
   */
  const ask = async (from: { id: number; first_name?: string }, text: string) => {
    const before = tg.sentTo(from.id).length;
    await tg.sendText(from, text);
    return waitUntil(
      () =>
        tg
          .sentTo(from.id)
          .slice(before)
          .find((m) => !isPushed(m)),
      { what: `reply to ${text}` },
    );
  };

  const start = async (extra: Record<string, string> = {}, floodLimits = true) => {
    tg = await FakeTelegram.start({ floodLimits });
    const config = testConfig({
      dataDir,
      prefix,
      env: {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        ADMIN_TELEGRAM_IDS: String(ADMIN.id),
        ...upstoxEnv(upstox),
        INSTRUMENT_FILES: "NSE",
        SMTP_URL: smtp.url,
        ...extra,
      },
    });
    app = await startTestApp(config, { clock: () => now, delivery: { attempts: 3, backoffMs: 50 } });
    for (const q of ["poll-quotes", "fetch-candles"] as const) await takeOverScheduler(app.services.queues[q]);
    await waitUntil(() => app.services.instruments.findBySymbol("RELIANCE"), { what: "instruments loaded" });
  };

  beforeEach(async () => {
    now = Date.parse("2025-01-15T10:30:00+05:30");
    upstox = await FakeUpstox.start({ now: () => now });
    smtp = await startSmtpCapture();
    dataDir = tempDir();
    prefix = uniquePrefix();
  });

  afterEach(async () => {
    await app?.stop();
    await tg?.close();
    await upstox.close();
    await smtp.close();
    await deletePrefix(prefix);
    removeDir(dataDir);
  });

  it("a trader links Upstox, sets an alert, the price moves, and the alert arrives in chat", async () => {
    await start();
    expect((await say(TRADER, "/start")).text).toContain("Welcome, Asha");

    // /login: the link carries a one-time state; Upstox redirects back to our callback with a code.
    const login = await say(TRADER, "/login");
    const link = /href="([^"]+)"/.exec(login.rawText!)![1]!.replace(/&amp;/g, "&");
    const state = new URL(link).searchParams.get("state")!;
    upstox.addAuthCode("code-xyz", { userId: "UPX1001" });
    const before = tg.sentTo(TRADER.id).length;
    const page = await fetch(`http://127.0.0.1:${app.httpPort}/upstox/callback?code=code-xyz&state=${state}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Upstox linked");
    const confirm = (await tg.waitForMessages(TRADER.id, before + 1))[before]!;
    expect(confirm.text).toMatch(/Upstox account linked.*Valid until 2025-01-16 03:30 IST/);
    // The state works once.
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/upstox/callback?code=code-xyz&state=${state}`)).status).toBe(400);

    const set = await say(TRADER, "/alert RELIANCE above 1450");
    expect(set.text).toMatch(/Alert #1: RELIANCE price at or above ₹1,450\.00, once/);
    // /alerts shows it back as /alert reads it, then in words.
    expect((await say(TRADER, "/alerts")).text).toBe("Your alerts\n#1 RELIANCE above 1450\n    price at or above ₹1,450.00, once");
    upstox.setPrice(RELIANCE, 1440);
    await runJob(app.services.queues["poll-quotes"]);
    const count = tg.sentTo(TRADER.id).length;
    upstox.setPrice(RELIANCE, 1461.25);
    await runJob(app.services.queues["poll-quotes"]);
    const alert = (await tg.waitForMessages(TRADER.id, count + 1))[count]!;
    expect(alert.text).toContain("RELIANCE is at or above ₹1,450.00");
    expect(alert.text).toContain("₹1,461.25");
    expect(alert.parseMode).toBe("HTML");

    const list = await say(TRADER, "/alerts");
    expect(list.text).toBe("You have no alerts. Set one with /alert RELIANCE above 1500.");
    const signals = await say(TRADER, "/signals RELIANCE");
    expect(signals.text).toMatch(/RELIANCE price above at ₹1,461\.25/);
  });

  it("shows a linked trader's portfolio, funds and orders, and says what to do when the login expired", async () => {
    await start();
    await say(TRADER, "/start");
    const user = app.services.users.findByTelegramId(TRADER.id)!;
    const token = upstox.issueToken({ userId: "UPX1001" });
    app.services.upstox!.tokens.save(user.id, token, "UPX1001", new Date(now));
    const portfolio = await say(TRADER, "/portfolio");
    expect(portfolio.text).toContain("Holdings");
    expect(portfolio.text).toMatch(/Day P&L: [+−]₹/);
    expect((await say(TRADER, "/funds")).text).toMatch(/Equity: available ₹[\d,]+\.\d\d, used ₹/);
    await app.services
      .upstox!.client.placeOrder(
        { userId: user.id, accessToken: token },
        { instrumentKey: RELIANCE, quantity: 0, transactionType: "BUY", orderType: "MARKET", product: "D", tag: "t1" },
      )
      .catch(() => undefined);
    await app.services.upstox!.client.placeOrder(
      { userId: user.id, accessToken: token },
      { instrumentKey: RELIANCE, quantity: 3, transactionType: "BUY", orderType: "MARKET", product: "D", tag: "t2" },
    );
    expect((await ask(TRADER, "/orders")).text).toMatch(/BUY RELIANCE ×3 .* · complete/);
    // Upstox ends the login: the trader is told what to do, in words.
    upstox.expireToken(token);
    expect((await ask(TRADER, "/funds")).text).toBe(LOGIN_ENDED);
    expect((await ask(TRADER, "/portfolio")).text).toBe(LOGIN_ENDED);
    expect((await ask(TRADER, "/orders")).text).toBe(LOGIN_ENDED);
  });

  it("with Upstox set up but no one linked: /quote and /watchlist say someone needs to /login, /portfolio says to link", async () => {
    await start();
    await say(TRADER, "/start");
    const quote = await say(TRADER, "/quote RELIANCE");
    expect(quote.text).toBe(NO_MARKET_DATA);
    expect(quote.text).toContain("No one has linked Upstox today");
    await say(TRADER, "/watch RELIANCE TCS");
    const list = await say(TRADER, "/watchlist");
    expect(list.text).toBe(`Your watchlist\nRELIANCE — price unavailable\nTCS — price unavailable\n\n⚠️ ${NO_MARKET_DATA}`);
    expect(list.parseMode).toBe("HTML");
    expect((await say(TRADER, "/portfolio")).text).toBe(NOT_LINKED);
    expect((await say(TRADER, "/funds")).text).toBe(NOT_LINKED);
    for (const m of tg.sentTo(TRADER.id)) expect(m.text).not.toMatch(/something went wrong/i);
  });

  it("when the only linked login has expired: the last price with the reason, then the clear sentence for everything", async () => {
    await start();
    await say(TRADER, "/start");
    const user = app.services.users.findByTelegramId(TRADER.id)!;
    const token = upstox.issueToken({ userId: "UPX1001" });
    app.services.upstox!.tokens.save(user.id, token, "UPX1001", new Date(now));
    await say(TRADER, "/watch RELIANCE TCS");
    upstox.setPrice(RELIANCE, 1461.25);
    await runJob(app.services.queues["poll-quotes"]);
    expect((await say(TRADER, "/watchlist")).text).toMatch(/^Your watchlist\nRELIANCE ₹1,461\.25 \([+−]?\d+\.\d\d%\)\nTCS ₹[\d,]+\.\d\d/);

    // Upstox ends the login; ten minutes later the polled prices are old.
    upstox.expireToken(token);
    now += 10 * 60_000;
    const quote = await ask(TRADER, "/quote RELIANCE");
    expect(quote.text).toContain("₹1,461.25");
    expect(quote.text!.endsWith(`⚠️ ${NO_MARKET_DATA}`)).toBe(true);
    expect(app.services.upstox!.tokens.state(user.id).state).toBe("expired");
    // Told once that the login ended, with Upstox's reason (this was no 03:30 expiry), and
    // every answer after says what to do.
    const notice = await waitUntil(() => tg.sentTo(TRADER.id).find(isLoginNotice), { what: "login-expired notice" });
    expect(notice.text!.split("\n")[0]).toBe("🔑 Upstox refused your login: Invalid token used to access API. Use /login to link again.");
    expect((await say(TRADER, "/quote INFY")).text).toBe(NO_MARKET_DATA);
    const list = await say(TRADER, "/watchlist");
    expect(list.text).toMatch(/^Your watchlist\nRELIANCE ₹1,461\.25 .*\nTCS ₹[\d,]+\.\d\d .*\n\n⚠️ No one has linked Upstox today/);
    expect((await say(TRADER, "/portfolio")).text).toBe(LOGIN_ENDED);
    expect(tg.sentTo(TRADER.id).filter(isLoginNotice)).toHaveLength(1);
    for (const m of tg.sentTo(TRADER.id)) expect(m.text).not.toMatch(/something went wrong/i);
  });

  it("/id tells anyone their user id and the chat id: a newcomer in private, and in a group", async () => {
    await start();
    const stranger = { id: 424242, first_name: "New" };
    expect((await say(stranger, "/id")).text).toBe(
      "Your Telegram user id: 424242\nThis chat's id: 424242 (in a private chat it is your user id)\nAdmins are listed by user id in ADMIN_TELEGRAM_IDS.",
    );
    const group = -1001234567890;
    const inGroup = await say(OTHER, "/id", group);
    expect(inGroup.text).toBe(`Your Telegram user id: ${OTHER.id}\nThis group's chat id: ${group}\nAdmins are listed by user id in ADMIN_TELEGRAM_IDS.`);
    expect((await say(TRADER, `/id@${tg.botInfo.username}`, group)).text).toContain(`Your Telegram user id: ${TRADER.id}`);
    // Other commands in a group still get the pointer to a private chat.
    expect((await say(OTHER, "/watchlist", group)).text).toMatch(/^Please message me privately/);
    // Listed in /help and in the command menu.
    expect((await say(TRADER, "/help")).text).toContain("/id — Your Telegram user id and this chat's id");
    const everyone = tg.commands.find((c) => JSON.stringify(c.scope).includes("all_private_chats"));
    expect(everyone?.commands.map((c) => c.command)).toContain("id");
  });

  it("answers a typo in a symbol with a suggestion and a bad command with its usage line", async () => {
    await start();
    expect((await say(TRADER, "/quote RELIANC")).text).toBe('I don\'t know the symbol "RELIANC". Did you mean RELIANCE?');
    const usage = await say(TRADER, "/alert RELIANCE abve 1500");
    expect(usage.text).toContain('I don\'t know the alert type "abve"');
    expect(usage.text).toContain("Usage:\n/alert SYMBOL above|below PRICE\n/alert SYMBOL cross [up|down] PRICE\n");
    expect(usage.text).toContain("/alert SYMBOL volume Nx\n");
    expect(usage.text).toContain("\n(options at the end: once | bar | every [DURATION] | expires DURATION)");
    // A mistake inside a known form: that form's usage line, and the word meant.
    expect((await say(TRADER, "/alert RELIANCE rsi belw 30")).text).toBe(
      '⚠️ After "rsi" say above or below, e.g. rsi below 30. Did you mean "below" instead of "belw"?\nUsage: /alert SYMBOL rsi above|below LEVEL [period N]',
    );
    // /help shows every form of /alert too.
    const help = (await say(TRADER, "/help")).text!;
    for (const form of [
      "/alert SYMBOL above|below PRICE — Set a price or indicator alert",
      "/alert SYMBOL rsi above|below LEVEL [period N]",
      "/alert SYMBOL ema|sma FAST SLOW up|down",
      "options at the end",
    ])
      expect(help).toContain(form);
    expect((await say(TRADER, "/watch")).text).toBe(
      "⚠️ Which symbols?\nUsage:\n/watch SYMBOL [SYMBOL...]\n/watch LIST SYMBOL [SYMBOL...]\ne.g. /watch RELIANCE TCS, or /watch banks HDFCBANK ICICIBANK for a list named banks",
    );
    expect((await say(TRADER, "/quotes INFY")).text).toMatch(/I don't know \/quotes\. Did you mean \/quote/);
    expect((await say(TRADER, "/portfolio")).text).toBe("Link your Upstox account first: send /login.");
  });

  it("an admin pauses and resumes polling; a non-admin is refused and audited", async () => {
    await start();
    expect((await say(TRADER, "/pause")).text).toBe("That command is for admins only.");
    expect(await app.services.pollState.isPaused()).toBe(false);
    expect(app.services.audit.recent(5).map((e) => [e.actorTelegramId, e.action])).toContainEqual([TRADER.id, "denied"]);

    expect((await say(ADMIN, "/pause")).text).toContain("Market polling paused");
    expect(await app.services.pollState.isPaused()).toBe(true);
    const polled = upstox.requestsTo("/v2/market-quote/quotes").length;
    app.services.watchlists.add(app.services.users.findByTelegramId(ADMIN.id)!.id, RELIANCE);
    expect((await runJob(app.services.queues["poll-quotes"])).result).toEqual({ skipped: "paused" });
    expect(upstox.requestsTo("/v2/market-quote/quotes")).toHaveLength(polled);
    const stats = await say(ADMIN, "/stats");
    expect(stats.text).toMatch(/Polling: paused/);
    expect((await say(ADMIN, "/resume")).text).toContain("resumed");
    expect(await app.services.pollState.isPaused()).toBe(false);
    expect(app.services.audit.recent(10).map((e) => e.action)).toEqual(expect.arrayContaining(["pause polling", "resume polling", "stats"]));
    // Admin commands show up in the admin's own menu only.
    const scoped = tg.commands.find((c) => JSON.stringify(c.scope).includes(String(ADMIN.id)));
    expect(scoped?.commands.map((c) => c.command)).toContain("pause");
    const everyone = tg.commands.find((c) => JSON.stringify(c.scope).includes("all_private_chats"));
    expect(everyone?.commands.map((c) => c.command)).not.toContain("pause");
  });

  it("never lets one user act on another user's alert through forged callback data", async () => {
    await start();
    await say(TRADER, "/alert RELIANCE above 1500");
    const rule = app.services.rules.forUser(app.services.users.findByTelegramId(TRADER.id)!.id)[0]!;
    await say(OTHER, "/start");
    await tg.pressButton(OTHER, { messageId: 1, data: `a:del:${rule.id}` });
    await waitUntil(() => tg.callbackAnswers.length >= 1);
    expect(tg.callbackAnswers[0]!.text).toBe("That alert is not yours or no longer exists.");
    expect(app.services.rules.forUser(rule.userId)).toHaveLength(1);
    // Malformed data is refused too.
    await tg.pressButton(OTHER, { messageId: 1, data: `a:del:${rule.id};DROP` });
    await waitUntil(() => tg.callbackAnswers.length >= 2);
    expect(tg.callbackAnswers[1]!.text).toBe("That button has expired.");
    // The owner can snooze and delete from /alerts.
    const list = await say(TRADER, "/alerts");
    expect(JSON.stringify(list.replyMarkup)).toContain(`a:snz:${rule.id}:60`);
    await tg.pressButton(TRADER, { messageId: list.messageId, data: `a:snz:${rule.id}:60` });
    await waitUntil(() => tg.callbackAnswers.length >= 3);
    expect(tg.callbackAnswers[2]!.text).toBe(`Alert #${rule.id} snoozed for 1 h.`);
    await tg.pressButton(TRADER, { messageId: list.messageId, data: `a:del:${rule.id}` });
    await waitUntil(() => tg.callbackAnswers.length >= 4);
    expect(app.services.rules.forUser(rule.userId)).toHaveLength(0);
  });

  it("an admin broadcasts after confirming, and takes a database backup as a file", async () => {
    await start();
    await say(TRADER, "/start");
    await say(OTHER, "/start");
    const preview = await say(ADMIN, "/broadcast Market closes early <today>");
    expect(preview.text).toContain("Market closes early <today>");
    const data = JSON.stringify(preview.replyMarkup).match(/b:send:[0-9a-f]{12}/)![0];
    await tg.pressButton(ADMIN, { messageId: preview.messageId, data });
    const got = await tg.waitForMessages(TRADER.id, 2);
    expect(got[1]!.text).toBe("📣 Message from the admin\nMarket closes early <today>");
    await tg.waitForMessages(OTHER.id, 2);
    // Pressing again does nothing twice.
    await tg.pressButton(ADMIN, { messageId: preview.messageId, data });
    await waitUntil(() => tg.callbackAnswers.some((a) => a.text?.includes("already sent")));

    const before = tg.sentTo(ADMIN.id).length;
    await tg.sendText(ADMIN, "/backup");
    const doc = (await tg.waitForMessages(ADMIN.id, before + 1))[before]!;
    expect(doc.method).toBe("sendDocument");
    expect(doc.document!.filename).toMatch(/^bot-\d{8}T\d{9}Z\.sqlite$/);
    expect(doc.document!.content.subarray(0, 15).toString()).toBe("SQLite format 3");
  });

  it("answers 200 random malformed commands with 200 clear replies and keeps running", async () => {
    await start({}, false);
    const rand = seededRandom(99);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const junk = [
      "",
      "RELIANCE",
      "RELIANCE above",
      "x y z",
      "<b>",
      "9999999999",
      "-1",
      "%%%",
      "above 1500",
      "🙂",
      "'; DROP TABLE users;--",
      "RELIANCE ema 9",
      "a".repeat(300),
    ];
    const commands = COMMANDS.filter(
      (c) => !["start", "help", "alerts", "watchlist", "unmute", "login", "portfolio", "funds", "orders", "signals", "settings"].includes(c.command),
    );
    const users = Array.from({ length: 200 }, (_, i) => ({ id: 50_000 + i, first_name: `U${i}` }));
    for (const u of users) await tg.sendText(u, `/${pick(commands).command} ${pick(junk)}`.trim());
    for (const u of users) {
      const [reply] = await tg.waitForMessages(u.id, 1, 30_000);
      expect(reply!.text!.length).toBeGreaterThan(5);
      expect(reply!.text).not.toMatch(/something went wrong/);
    }
    expect(tg.sent.filter((m) => users.some((u) => u.id === m.chatId))).toHaveLength(200);
    // Still alive and correct afterwards.
    expect((await say(TRADER, "/help")).text).toContain("Commands");
  });

  it("in webhook mode, takes updates only with Telegram's secret token", async () => {
    await start({ TELEGRAM_MODE: "webhook", TELEGRAM_WEBHOOK_SECRET: "s3cret-token-0123456789" });
    expect(tg.webhook?.url).toMatch(/\/telegram\/webhook$/);
    expect(tg.webhook?.secretToken).toBe("s3cret-token-0123456789");
    const update = {
      update_id: 1,
      message: {
        message_id: 1,
        date: Math.floor(now / 1000),
        chat: { id: TRADER.id, type: "private" },
        from: { ...TRADER, is_bot: false },
        text: "/help",
        entities: [{ type: "bot_command", offset: 0, length: 5 }],
      },
    };
    const post = (secret?: string) =>
      fetch(`http://127.0.0.1:${app.httpPort}/telegram/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(secret ? { "x-telegram-bot-api-secret-token": secret } : {}) },
        body: JSON.stringify(update),
      });
    expect((await post()).status).toBe(401);
    expect((await post("wrong-secret-0000000000")).status).toBe(401);
    expect(tg.sentTo(TRADER.id)).toHaveLength(0);
    expect((await post("s3cret-token-0123456789")).status).toBe(200);
    const [reply] = await tg.waitForMessages(TRADER.id, 1);
    expect(reply!.text).toContain("Commands");
  });
});
