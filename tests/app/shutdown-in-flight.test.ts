import path from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { WatchlistRepository } from "../../src/db/repositories/watchlists.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { Outbox } from "../../src/notify/outbox.js";
import { createQueues, enqueueNotifications, type Queues } from "../../src/queue/queues.js";
import { TokenStore } from "../../src/upstox/token-store.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { upstoxEnv } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { botEnv, spawnBot, type BotProcess } from "../support/process.js";
import { startSmtpCapture } from "../support/smtp.js";
import { waitUntil } from "../support/wait.js";

const BUDGET_MS = 9_000;

/**
 * SIGTERM while work is on the wire or waiting: the process still exits 0 within
 * SHUTDOWN_TIMEOUT, whatever the far end does. What was cut off stays pending and is
 * delivered after the restart, once.
 */
describe("SIGTERM with calls in flight", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function workspace() {
    const dataDir = tempDir();
    const prefix = uniquePrefix();
    cleanups.push(() => removeDir(dataDir));
    cleanups.push(async () => void (await deletePrefix(prefix)));
    const db = openDatabase(path.join(dataDir, "bot.sqlite"));
    cleanups.push(() => void db.close());
    return { dataDir, prefix, db };
  }

  /** The bot's queues, opened from this test process (as another process would), closed after. */
  function openQueues(prefix: string): Queues {
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queues = createQueues(redis, prefix);
    cleanups.push(async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await redis.quit();
    });
    return queues;
  }

  async function started(env: Record<string, string>): Promise<BotProcess> {
    const bot = spawnBot([], env);
    cleanups.push(() => bot.kill());
    await bot.waitForLog((l) => l.msg === "bot started", 30_000, "the bot started line");
    return bot;
  }

  async function sigterm(bot: BotProcess): Promise<number> {
    const t0 = Date.now();
    bot.child.kill("SIGTERM");
    const exit = await bot.waitForExit(BUDGET_MS + 3_000);
    expect(exit, bot.stdout().slice(-2000)).toEqual({ code: 0, signal: null });
    return Date.now() - t0;
  }

  it("a Telegram send that hangs for 30 s is cut off: exit 0 in time, the row delivered once after the restart", async () => {
    const tg = await FakeTelegram.start();
    cleanups.push(() => tg.close());
    const { dataDir, prefix, db } = workspace();
    const env = botEnv({ dataDir, prefix, extra: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, POLL_INTERVAL: "3600" } });
    const bot = await started(env);

    const user = new UserRepository(db).create({ telegramId: 424242, channels: "telegram" });
    const outbox = new Outbox(db, new AlertRuleRepository(db));
    const id = outbox.enqueueRow({
      userId: user.id,
      channel: "telegram",
      kind: "price_alert",
      dedupKey: "t:hung:1",
      payload: {
        symbol: "TCS",
        instrumentKey: "NSE_EQ|INE467B01029",
        ruleId: 1,
        ruleKind: "price_above",
        price: 4100,
        level: 4099,
        dayChangePct: 0.2,
        firedAt: Date.now(),
      },
    });
    tg.stallNext({ method: "sendMessage", ms: 30_000 });
    const queues = openQueues(prefix);
    await enqueueNotifications(queues, [id]);
    await waitUntil(() => tg.stalledNow === 1, { what: "the send to hang at Telegram" });

    const took = await sigterm(bot);
    expect(took).toBeLessThan(BUDGET_MS);
    // Cut off, not failed: still pending, no attempt used up, nothing sent.
    expect(outbox.get(id)).toMatchObject({ status: "pending", lastError: null });
    await waitUntil(() => tg.abandonedCalls.length === 1, { what: "the fake to see the caller gone" });
    expect(tg.sent.filter((m) => m.chatId === 424242)).toHaveLength(0);

    const again = await started(env);
    await waitUntil(() => outbox.get(id)?.status === "sent", { timeoutMs: 40_000, what: "the row to be delivered after the restart" });
    expect(tg.sent.filter((m) => m.chatId === 424242 && m.method === "sendMessage")).toHaveLength(1);
    expect(tg.sent.find((m) => m.chatId === 424242)!.rawText).toContain("TCS");
    await sigterm(again);
  }, 90_000);

  it("an SMTP server that takes 30 s to accept: exit 0 in time, the row delivered after the restart", async () => {
    const slow = await startSmtpCapture({ acceptDelayMs: 30_000 });
    cleanups.push(() => slow.close());
    const { dataDir, prefix, db } = workspace();
    const bot = await started(botEnv({ dataDir, prefix, extra: { SMTP_URL: slow.url, POLL_INTERVAL: "3600" } }));
    const user = new UserRepository(db).create({ email: "slow@example.com", emailVerified: true, channels: "email" });
    const outbox = new Outbox(db, new AlertRuleRepository(db));
    const id = outbox.enqueueRow({
      userId: user.id,
      channel: "email",
      kind: "price_alert",
      dedupKey: "t:slow-smtp:1",
      payload: {
        symbol: "WIPRO",
        instrumentKey: "NSE_EQ|INE075A01022",
        ruleId: 1,
        ruleKind: "price_below",
        price: 290,
        level: 291,
        dayChangePct: -0.8,
        firedAt: Date.now(),
      },
    });
    const queues = openQueues(prefix);
    await enqueueNotifications(queues, [id]);
    await waitUntil(() => slow.receiving() === 1, { what: "the email to be on the wire" });

    expect(await sigterm(bot)).toBeLessThan(BUDGET_MS);
    expect(outbox.get(id)).toMatchObject({ status: "pending", lastError: null });

    // The relay is fixed: the restart sends the row. The cut-off transaction may still land at
    // the slow relay once its 30 s are up (SMTP cannot take a message back): at most one copy more.
    const fast = await startSmtpCapture();
    cleanups.push(() => fast.close());
    const again = await started(botEnv({ dataDir, prefix, extra: { SMTP_URL: fast.url, POLL_INTERVAL: "3600" } }));
    await waitUntil(() => outbox.get(id)?.status === "sent", { timeoutMs: 40_000, what: "the row to be delivered after the restart" });
    expect(fast.messages.filter((m) => m.envelopeTo.includes("slow@example.com"))).toHaveLength(1);
    await sigterm(again);
  }, 90_000);

  it("SIGTERM while history warm-ups hang on Upstox and more wait behind them: exit 0 in time, no error lines", async () => {
    const fake = await FakeUpstox.start({
      instruments: 60,
      clientId: "app-key",
      clientSecret: "app-secret",
      redirectUri: "http://127.0.0.1:8080/upstox/callback",
    });
    cleanups.push(() => fake.close());
    const { dataDir, prefix, db } = workspace();
    const upstox = upstoxEnv(fake);
    seedTrader(db, upstox.TOKEN_ENCRYPTION_KEY!, fake, fake.instrumentKeys().slice(0, 60));
    // Every history call hangs for 20 s: warm-ups are on the wire, the rest wait behind them.
    fake.delayNext({ ms: 20_000, count: 1000, pathPrefix: "/v3/historical-candle" });
    const bot = await started(botEnv({ dataDir, prefix, extra: { ...upstox, INSTRUMENT_FILES: "NSE", POLL_INTERVAL: "3600" } }));
    await bot.waitForLog((l) => l.msg === "loading candle history for instruments in use", 20_000, "the warm-up line");
    const queues = openQueues(prefix);
    // Two warm-ups run at a time: both are then waiting for their 20-second answers.
    await waitUntil(async () => (await queues["warm-up-candles"].getActiveCount()) === 2, { timeoutMs: 20_000, what: "warm-ups in flight" });

    const took = await sigterm(bot);
    expect(took).toBeLessThan(BUDGET_MS);
    expect(
      bot.logs.filter((l) => l.level >= 50),
      "no error lines",
    ).toEqual([]);
  }, 60_000);
});

/** A linked trader (token encrypted with the bot's key) watching `keys`, an RSI rule on each. */
function seedTrader(db: Database, hexKey: string, fake: FakeUpstox, keys: readonly string[]): void {
  const user = new UserRepository(db).create({ telegramId: 5150, email: "warm@example.com", emailVerified: true, channels: "email" });
  new TokenStore(db, Buffer.from(hexKey, "hex"), Date.now).save(user.id, fake.issueToken({ userId: "UPXWARM" }), "UPXWARM");
  const watchlists = new WatchlistRepository(db);
  const rules = new AlertRuleRepository(db);
  for (const key of keys) {
    watchlists.add(user.id, key);
    rules.create({ userId: user.id, instrumentKey: key, kind: "rsi_below", params: { level: 30 } });
  }
}
