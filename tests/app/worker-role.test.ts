import { Redis } from "ioredis";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { Outbox } from "../../src/notify/outbox.js";
import { liveProcesses } from "../../src/lifecycle/heartbeat.js";
import { createQueues, enqueueNotifications, type Queues } from "../../src/queue/queues.js";
import { deletePrefix, removeDir, tempDir, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { botEnv, spawnBot, type BotProcess } from "../support/process.js";
import { startSmtpCapture, type SmtpCapture } from "../support/smtp.js";
import { waitUntil } from "../support/wait.js";

/**
 * `--role=worker` adds capacity: it runs the queue workers on the shared Redis and SQLite,
 * and nothing else (no HTTP port, no schedulers).
 */
describe("a --role=worker process", () => {
  let bot: BotProcess | undefined;
  let smtp: SmtpCapture | undefined;
  let db: Database | undefined;
  let redis: Redis | undefined;
  let queues: Queues | undefined;
  let dataDir: string | undefined;
  let prefix: string | undefined;

  afterEach(async () => {
    await bot?.kill();
    if (queues) await Promise.all(Object.values(queues).map((q) => q.close()));
    await redis?.quit();
    db?.close();
    await smtp?.close();
    if (prefix) await deletePrefix(prefix);
    if (dataDir) removeDir(dataDir);
    bot = smtp = db = redis = queues = dataDir = prefix = undefined;
  });

  it("delivers a notification queued by another process, opens no HTTP port and schedules nothing", async () => {
    dataDir = tempDir();
    prefix = uniquePrefix();
    smtp = await startSmtpCapture();
    bot = spawnBot(
      ["--role=worker"],
      botEnv({ dataDir, prefix, extra: { SMTP_URL: smtp.url, EMAIL_FROM: "Alerts <alerts@bot.test>", SIMULATOR_ALWAYS_OPEN: "true", POLL_INTERVAL: "1" } }),
    );
    const started = await bot.waitForLog((l) => l.msg === "bot started", 30_000, "the bot started line");
    expect(started.role).toBe("worker");

    // Another process (this test) writes the outbox row in the same SQLite file and queues its job.
    db = openDatabase(path.join(dataDir, "bot.sqlite"));
    const users = new UserRepository(db);
    const outbox = new Outbox(db, new AlertRuleRepository(db));
    const user = users.create({ displayName: "Kiran", email: "kiran@example.com", emailVerified: true, channels: "email" });
    const id = outbox.enqueueRow({
      userId: user.id,
      channel: "email",
      kind: "price_alert",
      dedupKey: "t:worker:1",
      payload: {
        symbol: "TCS",
        instrumentKey: "NSE_EQ|INE467B01029",
        ruleId: 1,
        ruleKind: "price_above",
        price: 3460.5,
        level: 3460,
        dayChangePct: 0.24,
        firedAt: Date.now(),
      },
    });
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queues = createQueues(redis, prefix);
    await enqueueNotifications(queues, [id]);

    const [mail] = await smtp.waitForMessages(1, 30_000);
    expect(mail!.envelopeTo).toEqual(["kiran@example.com"]);
    expect(mail!.parsed.subject).toBe("TCS is at or above ₹3,460.00 (₹3,460.50)");
    const sent = await waitUntil(() => (outbox.get(id)!.status === "sent" ? outbox.get(id) : undefined), { what: "the row to be sent" });
    expect(sent.attempts).toBe(1);
    await bot.waitForLog((l) => l.msg.startsWith("📧 email → kiran@example.com"), 10_000, "the worker's delivery log line");

    // Only the all role serves HTTP and owns the schedulers.
    expect(bot.logs.some((l) => l.msg.startsWith("HTTP on"))).toBe(false);
    expect(bot.logs.some((l) => typeof l.port === "number")).toBe(false);
    for (const q of Object.values(queues)) expect(await q.getJobSchedulers()).toEqual([]);

    // Every process keeps a heartbeat (its own node-cron timer): the worker is listed as alive.
    const alive = await liveProcesses(redis, prefix);
    expect(alive).toEqual([expect.objectContaining({ role: "worker", pid: bot.pid })]);

    bot.child.kill("SIGTERM");
    expect(await bot.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(bot.logs.some((l) => l.msg === "stopped cleanly")).toBe(true);
    // A clean stop takes it off the list at once, not 15 s later.
    expect(await liveProcesses(redis, prefix)).toEqual([]);
  }, 60_000);
});
