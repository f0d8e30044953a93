import { afterEach, describe, expect, it } from "vitest";
import type { InlineKeyboardMarkup } from "grammy/types";
import type { PollQuotesResult } from "../../jobs/poll-quotes.js";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import { FakeTelegram, type SentMessage } from "../fakes/telegram/index.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { ScriptedQuotes } from "../support/quotes.js";
import { runJob } from "../support/queues.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const SBIN = "NSE_EQ|INE062A01020";
const INFY = "NSE_EQ|INE009A01021";
const CHAT = 515151;

const keyboardOf = (m: SentMessage) => (m.replyMarkup as InlineKeyboardMarkup | undefined)?.inline_keyboard;
const labels = (m: SentMessage) => keyboardOf(m)?.map((row) => row.map((b) => b.text));
const callbacks = (m: SentMessage) => keyboardOf(m)?.map((row) => row.map((b) => ("callback_data" in b ? b.callback_data : undefined)));

/**
 * Alert buttons over the wire: a scripted price fires rules, the notify job delivers through
 * the fake Telegram Bot API, and the test reads the reply_markup Telegram received.
 */
describe("alert messages carry their buttons on Telegram", () => {
  let f: AppFixture | undefined;
  let tg: FakeTelegram | undefined;
  afterEach(async () => {
    await f?.close();
    await tg?.close();
    f = tg = undefined;
  });

  /** The app with a bot token on the fake Telegram and an Upstox app (trading is offered only with one). */
  async function start(opts: { trading: boolean; rules: Array<{ key: string; level: number }> }) {
    let now = Date.UTC(2025, 0, 6, 5, 0, 0); // 10:30 IST on a Monday
    const quotes = new ScriptedQuotes(() => now);
    tg = await FakeTelegram.start();
    f = await startAppFixture({
      clock: () => now,
      quoteSource: quotes,
      upstox: true,
      smtp: false,
      env: {
        SIMULATOR_ALWAYS_OPEN: "true",
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TRADING_ENABLED: String(opts.trading),
      },
      takeOver: ["poll-quotes", "fetch-candles"],
    });
    f.services.instruments.upsertMany(SIMULATED_INSTRUMENTS);
    const { rules } = f.addTrader({
      telegramId: CHAT,
      channels: "telegram",
      watch: opts.rules.map((r) => r.key),
      rules: opts.rules.map((r) => ({
        instrumentKey: r.key,
        kind: "cross_up" as const,
        params: { level: r.level },
        frequency: "every" as const,
        cooldownSeconds: 0,
      })),
    });
    const poll = async () => (await runJob<PollQuotesResult>(f!.services.queues["poll-quotes"])).result;
    // Below every level, then above all of them in one poll: the rules fire together.
    for (const r of opts.rules) quotes.set(r.key, r.level - 5);
    expect(await poll()).toMatchObject({ fired: 0 });
    now += 15_000;
    for (const r of opts.rules) quotes.set(r.key, r.level + 2.5);
    expect(await poll()).toMatchObject({ fired: opts.rules.length });
    const signals = f.services.db.prepare("SELECT id, rule_id FROM signals ORDER BY id").all() as Array<{ id: number; rule_id: number }>;
    const signalOf = (ruleId: number) => signals.find((s) => s.rule_id === ruleId)!.id;
    return { rules, signalOf };
  }

  const sentAll = () =>
    waitUntil(() => (f!.services.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE status != 'sent'").get() as { n: number }).n === 0 || undefined, {
      what: "every notification sent",
    });

  it("a price alert arrives with Buy, Sell, Set GTT, Snooze and Delete, each carrying its signal", async () => {
    const { rules, signalOf } = await start({ trading: true, rules: [{ key: RELIANCE, level: 1420 }] });
    const [msg] = await tg!.waitForMessages(CHAT, 1);
    await sentAll();
    const id = signalOf(rules[0]!.id);
    expect(msg!.text).toMatch(/^🔔 RELIANCE crossed above ₹1,420\.00/);
    expect(labels(msg!)).toEqual([
      ["Buy", "Sell", "Set GTT"],
      ["😴 1 h", "🗑 Delete"],
    ]);
    expect(callbacks(msg!)).toEqual([
      [`al:buy:${id}`, `al:sell:${id}`, `al:gtt:${id}`],
      [`al:snz:${id}`, `al:del:${id}`],
    ]);
    expect(tg!.sentTo(CHAT)).toHaveLength(1);
  });

  it("several alerts grouped in one message carry each one's buttons, labelled with its symbol and rule", async () => {
    const { rules, signalOf } = await start({
      trading: true,
      rules: [
        { key: RELIANCE, level: 1420 },
        { key: SBIN, level: 820 },
        { key: INFY, level: 1590 },
      ],
    });
    const [msg] = await tg!.waitForMessages(CHAT, 1);
    await sentAll();
    // One message: the keyboard does not change what is grouped.
    expect(tg!.sentTo(CHAT)).toHaveLength(1);
    // The rules in the order they were made: RELIANCE, SBIN, INFY.
    const shown = ["RELIANCE", "SBIN", "INFY"].map((symbol, i) => ({ symbol, rule: rules[i]! }));
    for (const { symbol } of shown) expect(msg!.text).toContain(`🔔 ${symbol} crossed above`);
    // In the order of the alerts in the text.
    const inText = shown.slice().sort((a, b) => msg!.text!.indexOf(`🔔 ${a.symbol} `) - msg!.text!.indexOf(`🔔 ${b.symbol} `));
    expect(labels(msg!)).toEqual(
      inText.flatMap(({ symbol, rule }) => {
        const tag = `${symbol} #${rule.id}`;
        return [
          [`Buy ${tag}`, `Sell ${tag}`, `GTT ${tag}`],
          [`😴 1 h ${tag}`, `🗑 Delete ${tag}`],
        ];
      }),
    );
    expect(callbacks(msg!)).toEqual(
      inText.flatMap(({ rule }) => {
        const id = signalOf(rule.id);
        return [
          [`al:buy:${id}`, `al:sell:${id}`, `al:gtt:${id}`],
          [`al:snz:${id}`, `al:del:${id}`],
        ];
      }),
    );
  });

  it("with trading off the alert still carries Snooze and Delete, and nothing else", async () => {
    const { rules, signalOf } = await start({ trading: false, rules: [{ key: SBIN, level: 820 }] });
    const [msg] = await tg!.waitForMessages(CHAT, 1);
    await sentAll();
    const id = signalOf(rules[0]!.id);
    expect(callbacks(msg!)).toEqual([[`al:snz:${id}`, `al:del:${id}`]]);
  });
});
