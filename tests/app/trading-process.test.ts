import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { InlineKeyboardMarkup } from "grammy/types";
import { openDatabase } from "../../src/db/open.js";
import { FakeTelegram, type SentMessage } from "../fakes/telegram/index.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { upstoxEnv } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { botEnv, httpPortOf, spawnBot, type BotProcess } from "../support/process.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TRADER = { id: 8001, username: "meera", first_name: "Meera" };

const confirmData = (m: SentMessage) =>
  (m.replyMarkup as InlineKeyboardMarkup | undefined)?.inline_keyboard
    .flat()
    .map((b) => ("callback_data" in b ? b.callback_data : ""))
    .find((d) => d.startsWith("oc:ok:"));

/**
 * The real process, from outside: a trader links Upstox through /login and the callback,
 * asks for an order and confirms it; SIGTERM arrives while Upstox is still answering the
 * placement. The process exits 0 in time, the order exists once, and after the restart the
 * same Confirm places nothing more. No secret reaches the log.
 */
describe("trading from chat in the real process", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("SIGTERM while a confirmed order is on the wire: exit 0, one order, and the card never places a second", async () => {
    const upstox = await FakeUpstox.start();
    const tg = await FakeTelegram.start();
    const dataDir = tempDir();
    const prefix = uniquePrefix();
    cleanups.push(
      () => upstox.close(),
      () => tg.close(),
      () => deletePrefix(prefix),
      () => removeDir(dataDir),
    );
    upstox.setPrice(RELIANCE, 1402.5);
    const env = botEnv({
      dataDir,
      prefix,
      extra: {
        ...upstoxEnv(upstox),
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        INSTRUMENT_FILES: "NSE",
        MARKET_DATA_MODE: "poll",
        TRADING_ENABLED: "true",
      },
    });
    const start = async () => {
      const bot = spawnBot([], env);
      cleanups.push(() => bot.kill());
      await bot.waitForLog((l) => l.msg === "bot started", 30_000, "the bot started line");
      return bot;
    };
    const say = async (text: string) => {
      const before = tg.sentTo(TRADER.id).length;
      await tg.sendText(TRADER, text);
      return (await tg.waitForMessages(TRADER.id, before + 1, 15_000))[before]!;
    };

    let bot: BotProcess = await start();
    const port = await httpPortOf(bot);
    // /login, then Upstox's redirect to the callback with a one-time code.
    const login = await say("/login");
    const link = /href="([^"]+)"/.exec(login.rawText!)![1]!.replace(/&amp;/g, "&");
    upstox.addAuthCode("code-trade", { userId: "UPX8001" });
    const page = await fetch(`http://127.0.0.1:${port}/upstox/callback?code=code-trade&state=${new URL(link).searchParams.get("state")}`);
    expect(page.status).toBe(200);
    await waitUntil(() => tg.sentTo(TRADER.id).some((m) => m.text?.includes("Upstox account linked")) || undefined, { what: "linked" });

    const card = await waitUntil(
      async () => {
        const m = await say("/buy RELIANCE 2 at 1400");
        return m.text?.includes("Confirm order") ? m : undefined;
      },
      { what: "a card (once the instruments are in)", timeoutMs: 30_000, intervalMs: 1000 },
    );
    const confirm = confirmData(card)!;

    // Upstox takes the order at once but answers only after 20 s; SIGTERM comes meanwhile.
    upstox.delayNext({ ms: 20_000, pathPrefix: "/v3/order/place" });
    await tg.pressButton(TRADER, { messageId: card.messageId, data: confirm });
    await waitUntil(() => upstox.allOrders().length === 1 || undefined, { what: "the order at Upstox" });
    const stopAt = Date.now();
    expect(bot.child.kill("SIGTERM")).toBe(true);
    expect(await bot.waitForExit(12_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(12_000);
    const secrets = [env.UPSTOX_API_SECRET!, env.TOKEN_ENCRYPTION_KEY!, tg.token.split(":")[1]!];
    for (const s of secrets) expect(bot.stdout() + bot.stderr()).not.toContain(s);

    // The card was taken before the order went out: it is never sent again, by any process.
    const db = openDatabase(path.join(dataDir, "bot.sqlite"));
    const status = (db.prepare("SELECT status FROM order_cards").get() as { status: string }).status;
    db.close();
    expect(["unknown", "confirming"]).toContain(status);

    bot = await start();
    const id = await tg.pressButton(TRADER, { messageId: card.messageId, data: confirm });
    expect((await tg.waitForCallbackAnswer(id, 15_000)).text).toBe("This card was already used: it works once.");
    expect(upstox.allOrders()).toHaveLength(1);
    expect(upstox.requestsTo("/v3/order/place")).toHaveLength(1);
    expect(bot.child.kill("SIGTERM")).toBe(true);
    expect(await bot.waitForExit(12_000)).toEqual({ code: 0, signal: null });
  });
});
