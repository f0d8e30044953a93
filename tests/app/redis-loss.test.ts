import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UserRepository } from "../../src/db/repositories/users.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { Outbox } from "../../src/notify/outbox.js";
import { getJson } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { botEnv, httpPortOf, spawnBot, type BotProcess, type LogLine } from "../support/process.js";
import { ownRedis, type OwnRedis } from "../support/redis-server.js";
import { startSmtpCapture, type SmtpCapture } from "../support/smtp.js";
import { sleep, waitUntil } from "../support/wait.js";

const WARN = 40;

/**
 * The real process against a Redis of the test's own, which the test flushes or kills and
 * starts again empty: the job schedules come back by themselves, polling resumes within
 * seconds, rows whose jobs were lost are delivered, /healthz is 200 again, and the outage
 * is told in a few lines, not hundreds.
 */
describe("losing Redis", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setUp(): Promise<{
    redis: OwnRedis;
    smtp: SmtpCapture;
    dataDir: string;
    prefix: string;
    start: () => Promise<{ bot: BotProcess; port: number }>;
  }> {
    const redis = await ownRedis();
    cleanups.push(() => redis.close());
    const smtp = await startSmtpCapture();
    cleanups.push(() => smtp.close());
    const dataDir = tempDir();
    const prefix = uniquePrefix();
    cleanups.push(() => removeDir(dataDir));
    const start = async () => {
      const bot = spawnBot(
        [],
        botEnv({
          dataDir,
          prefix,
          extra: { REDIS_URL: redis.url, SMTP_URL: smtp.url, SIMULATOR_ALWAYS_OPEN: "true", POLL_INTERVAL: "2", SHUTDOWN_TIMEOUT: "9" },
        }),
      );
      cleanups.push(() => bot.kill());
      await bot.waitForLog((l) => l.msg === "bot started", 30_000, "the bot started line");
      return { bot, port: await httpPortOf(bot) };
    };
    return { redis, smtp, dataDir, prefix, start };
  }

  /** A pending email row with no job behind it: what a Redis that lost its jobs leaves. */
  function orphanRow(db: Database, tag: string): number {
    const user = new UserRepository(db).create({ email: `${tag}@example.com`, emailVerified: true, channels: "email" });
    return new Outbox(db, new AlertRuleRepository(db)).enqueueRow({
      userId: user.id,
      channel: "email",
      kind: "price_alert",
      dedupKey: `t:${tag}`,
      payload: {
        symbol: "INFY",
        instrumentKey: "NSE_EQ|INE009A01021",
        ruleId: 1,
        ruleKind: "price_above",
        price: 1500,
        level: 1499,
        dayChangePct: 0.4,
        firedAt: Date.now(),
      },
    });
  }

  const lastPollAt = async (port: number) => {
    const h = await getJson(`http://127.0.0.1:${port}/healthz`);
    const at = (h.body as { checks?: { marketPoll?: { lastPollAt?: string | null } } }).checks?.marketPoll?.lastPollAt;
    return { status: h.status, at: at ? Date.parse(at) : null };
  };

  const linesFrom = (bot: BotProcess, from: number, minLevel: number) => bot.logs.slice(from).filter((l: LogLine) => l.level >= minLevel);

  it.each(["restarted empty", "flushed"] as const)(
    "Redis %s mid-run: the next poll within 5 s, orphaned rows delivered, /healthz 200 again, the outage told in a few lines",
    async (how) => {
      const { redis, smtp, dataDir, prefix, start } = await setUp();
      const { bot, port } = await start();
      await waitUntil(async () => (await lastPollAt(port)).status === 200 && (await lastPollAt(port)).at !== null, {
        timeoutMs: 20_000,
        what: "a first poll and /healthz 200",
      });

      const db = openDatabase(path.join(dataDir, "bot.sqlite"));
      cleanups.push(() => void db.close());
      const mark = bot.logs.length;
      let backAt: number;
      if (how === "restarted empty") {
        await redis.kill();
        // Ten seconds of outage: ioredis retries every couple of seconds and every worker notices.
        await sleep(5_000);
        const id = orphanRow(db, "outage");
        await sleep(5_000);
        await redis.start();
        backAt = Date.now();
        await waitUntil(() => bot.logs.slice(mark).some((l) => l.msg === "Redis is back"), { timeoutMs: 10_000, what: "the back-again line" });
        await checkRecovery(id);
      } else {
        const id = orphanRow(db, "flush");
        await deletePrefix(prefix, redis.url);
        backAt = Date.now();
        await checkRecovery(id);
      }

      async function checkRecovery(id: number) {
        const polled = await waitUntil(
          async () => {
            const p = await lastPollAt(port);
            return p.at !== null && p.at >= backAt ? p : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 200, what: "a poll after Redis came back" },
        );
        expect(polled.at! - backAt, "the first poll after the loss").toBeLessThanOrEqual(5_000);
        const row = () => db.prepare("SELECT status FROM notifications WHERE id = ?").get(id) as { status: string };
        await waitUntil(() => row().status === "sent", { timeoutMs: 15_000, what: "the orphaned row to be delivered" });
        expect(smtp.messages.filter((m) => m.envelopeTo.some((t) => t.includes(how === "flushed" ? "flush@" : "outage@")))).toHaveLength(1);
        await waitUntil(async () => (await lastPollAt(port)).status === 200, { timeoutMs: 10_000, what: "/healthz 200 again" });
      }

      const told = linesFrom(bot, mark, WARN);
      expect(told.filter((l) => l.msg.startsWith("job schedules were missing"))).toHaveLength(1);
      if (how === "restarted empty") {
        expect(told.filter((l) => l.msg.startsWith("lost the connection to Redis"))).toHaveLength(1);
        expect(bot.logs.slice(mark).filter((l) => l.msg === "Redis is back")).toHaveLength(1);
        // One warning lost, one for the schedules, at most a couple more (a poll that failed while down).
        expect(told.length, told.map((l) => l.msg).join("\n")).toBeLessThanOrEqual(6);
      }
      expect(bot.stdout()).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);

      bot.child.kill("SIGTERM");
      expect(await bot.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    },
    90_000,
  );

  it("SIGTERM two seconds after a Redis restart exits 0 in time, every time", async () => {
    const { redis, start } = await setUp();
    for (let trial = 0; trial < 3; trial++) {
      const { bot } = await start();
      await sleep(1_000);
      await redis.kill();
      await sleep(300);
      await redis.start();
      await sleep(2_000);
      const t0 = Date.now();
      bot.child.kill("SIGTERM");
      const exit = await bot.waitForExit(12_000);
      expect(exit, `trial ${trial}: ${bot.stdout().slice(-1500)}`).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(9_000);
      expect(bot.logs.some((l) => l.msg === "stopped cleanly")).toBe(true);
    }
  }, 120_000);
});
