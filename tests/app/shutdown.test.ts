import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { openDatabase } from "../../src/db/open.js";
import { Outbox } from "../../src/notify/outbox.js";
import { createQueues, enqueueNotifications } from "../../src/queue/queues.js";
import { getJson } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { botEnv, httpPortOf, spawnBot, type BotProcess } from "../support/process.js";
import { startSmtpCapture } from "../support/smtp.js";
import { waitUntil } from "../support/wait.js";

/**
 * The real process (`src/main.ts --demo`) polls, fires and delivers; a SIGTERM or SIGINT
 * drains the workers and exits 0 within the shutdown budget, leaving a consistent database.
 */
describe("graceful shutdown of the real process", () => {
  const started: Array<{ bot: BotProcess; dataDir: string; prefix: string }> = [];

  afterEach(async () => {
    for (const { bot, dataDir, prefix } of started.splice(0)) {
      await bot.kill();
      await deletePrefix(prefix);
      removeDir(dataDir);
    }
  });

  it.each(["SIGTERM", "SIGINT"] as const)(
    "%s after a delivered alert: exit 0 within 10 s, 'stopped cleanly', no outbox row left in a bad state",
    async (signal) => {
      const dataDir = tempDir();
      const prefix = uniquePrefix();
      const bot = spawnBot(["--demo"], botEnv({ dataDir, prefix, extra: { SIMULATOR_ALWAYS_OPEN: "true", POLL_INTERVAL: "1" } }));
      started.push({ bot, dataDir, prefix });

      const startedLine = await bot.waitForLog((l) => l.msg === "bot started", 30_000, "the bot started line");
      expect(startedLine.role).toBe("all");
      const port = await httpPortOf(bot);

      // The demo seeds alerts either side of the price: a signal and its delivery come within seconds.
      await bot.waitForLog((l) => l.msg.includes("signal"), 45_000, "a signal");
      await bot.waitForLog((l) => l.msg.startsWith("📧 email") || l.msg.startsWith("📨 telegram"), 30_000, "a delivered notification");

      const health = await getJson(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: "ok", checks: { redis: { ok: true }, sqlite: { ok: true } } });

      expect(bot.child.kill(signal)).toBe(true);
      const exit = await bot.waitForExit(10_000);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(bot.logs.some((l) => l.msg === "shutting down: draining workers" && l.signal === signal)).toBe(true);
      expect(bot.logs.some((l) => l.msg === "stopped cleanly")).toBe(true);
      expect(bot.logs.filter((l) => l.level >= 50)).toEqual([]);
      expect(bot.stderr()).toBe("");

      // The database is closed cleanly and reopens; every row is delivered or still due, none dead.
      const db = openDatabase(path.join(dataDir, "bot.sqlite"));
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
        const byStatus = db.prepare("SELECT status, COUNT(*) AS n FROM notifications GROUP BY status").all() as Array<{ status: string; n: number }>;
        const statuses = Object.fromEntries(byStatus.map((r) => [r.status, r.n]));
        expect(Object.keys(statuses).every((s) => s === "sent" || s === "pending")).toBe(true);
        expect(statuses.sent ?? 0).toBeGreaterThanOrEqual(1);
        const signals = db.prepare("SELECT COUNT(*) AS n FROM signals").get() as { n: number };
        expect(signals.n).toBeGreaterThanOrEqual(1);
        // Every signal produced its outbox rows (telegram + email for the demo trader).
        const orphans = db.prepare("SELECT COUNT(*) AS n FROM signals s WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.signal_id = s.id)").get() as {
          n: number;
        };
        expect(orphans.n).toBe(0);
      } finally {
        db.close();
      }
    },
    90_000,
  );

  it("SIGTERM while an email is being sent: the job finishes, the row is sent, then exit 0", async () => {
    const dataDir = tempDir();
    const prefix = uniquePrefix();
    // A relay that takes 1.5 s to accept each message.
    const smtp = await startSmtpCapture({ acceptDelayMs: 1500 });
    const bot = spawnBot([], botEnv({ dataDir, prefix, extra: { SMTP_URL: smtp.url, POLL_INTERVAL: "3600" } }));
    started.push({ bot, dataDir, prefix });
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queues = createQueues(redis, prefix);
    const db = openDatabase(path.join(dataDir, "bot.sqlite"));
    try {
      await bot.waitForLog((l) => l.msg === "bot started", 30_000, "the bot started line");
      const user = new UserRepository(db).create({ email: "dev@example.com", emailVerified: true, channels: "email" });
      const outbox = new Outbox(db, new AlertRuleRepository(db));
      const id = outbox.enqueueRow({
        userId: user.id,
        channel: "email",
        kind: "price_alert",
        dedupKey: "t:drain:1",
        payload: {
          symbol: "HDFCBANK",
          instrumentKey: "NSE_EQ|INE040A01034",
          ruleId: 1,
          ruleKind: "price_below",
          price: 1700,
          level: 1701,
          dayChangePct: -1.4,
          firedAt: Date.now(),
        },
      });
      await enqueueNotifications(queues, [id]);

      // The message is on the wire, not yet accepted: now ask the process to stop.
      await waitUntil(() => smtp.receiving() === 1, { what: "the email to be in flight" });
      expect(smtp.messages).toHaveLength(0);
      bot.child.kill("SIGTERM");

      expect(await bot.waitForExit(10_000)).toEqual({ code: 0, signal: null });
      expect(bot.logs.some((l) => l.msg === "stopped cleanly")).toBe(true);
      // The drain let the send finish and recorded it.
      expect(smtp.messages).toHaveLength(1);
      expect(outbox.get(id)).toMatchObject({ status: "sent", attempts: 1, lastError: null });
      const stopIdx = bot.logs.findIndex((l) => l.msg === "shutting down: draining workers");
      const sentIdx = bot.logs.findIndex((l) => l.msg.startsWith("📧 email → dev@example.com"));
      expect(stopIdx).toBeGreaterThanOrEqual(0);
      expect(sentIdx).toBeGreaterThan(stopIdx);
    } finally {
      db.close();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await redis.quit();
      await smtp.close();
    }
  }, 60_000);
});
