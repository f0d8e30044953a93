import { Worker } from "bullmq";
import { Redis } from "ioredis";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningApp } from "../../src/app.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository, type User } from "../../src/db/repositories/users.js";
import { openDatabase } from "../../src/db/open.js";
import { seededRandom } from "../../src/market/simulator.js";
import { Outbox } from "../../src/notify/outbox.js";
import { renderNotification } from "../../src/notify/render.js";
import { createQueues, DEFAULT_DELIVERY, enqueueNotifications, type Queues } from "../../src/queue/queues.js";
import { DEFAULT_FLOOD_LIMITS, FakeTelegram, type SentMessage } from "../fakes/telegram/index.js";
import { deletePrefix, removeDir, tempDir, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { startAppFixture } from "../support/fixture.js";
import { botEnv, spawnBot, type BotProcess } from "../support/process.js";
import { startSmtpCapture } from "../support/smtp.js";
import { sleep, waitUntil } from "../support/wait.js";

/** A unique, greppable symbol per row: "M0042" never occurs inside another marker. */
const marker = (i: number) => `M${String(i).padStart(4, "0")}`;
const SEPARATOR = "\n\n";

const alertPayload = (i: number) => ({
  symbol: marker(i),
  ruleKind: "cross_up",
  price: 1450.5,
  level: 1450,
  dayChangePct: 0.5,
  firedAt: Date.now(),
});

interface Row {
  id: number;
  i: number;
  userId: number;
  chatId: number;
  html: string;
}

/** Inserts one telegram price_alert row per marker index and returns what it should look like when sent. */
function insertRows(outbox: Pick<Outbox, "enqueueRow">, rows: Array<{ i: number; user: User }>, tag: string): Row[] {
  return rows.map(({ i, user }) => {
    const payload = alertPayload(i);
    const id = outbox.enqueueRow({ userId: user.id, channel: "telegram", kind: "price_alert", dedupKey: `${tag}:${i}`, payload });
    return { id, i, userId: user.id, chatId: user.telegramId!, html: renderNotification("price_alert", payload).telegramHtml };
  });
}

/**
 * Splits every sendMessage into the rows it carried (grouped rows are joined by a blank
 * line) and counts how often each row arrived. Anything that is not one of `rows`, or went
 * to the wrong chat, is returned in `strays`.
 */
function tally(sent: readonly SentMessage[], rows: readonly Row[]): { counts: Map<number, number>; strays: string[]; groupSizes: number[] } {
  const byHtml = new Map(rows.map((r) => [r.html, r]));
  const counts = new Map(rows.map((r) => [r.id, 0]));
  const strays: string[] = [];
  const groupSizes: number[] = [];
  for (const m of sent) {
    if (m.method !== "sendMessage") continue;
    const parts = (m.rawText ?? "").split(SEPARATOR);
    groupSizes.push(parts.length);
    for (const part of parts) {
      const row = byHtml.get(part);
      if (!row) strays.push(`chat ${m.chatId}: ${part.slice(0, 80)}`);
      else if (row.chatId !== m.chatId) strays.push(`${marker(row.i)} went to chat ${m.chatId}, not ${row.chatId}`);
      else counts.set(row.id, counts.get(row.id)! + 1);
    }
  }
  return { counts, strays, groupSizes };
}

/**
 * Replays the fake's flood model over what it accepted: per chat a bucket of `chatBurst`
 * refilled at `chatPerSecond`, and at most `globalPerSecond` sends in any 1 s window.
 * Returns the violations (none expected) and the busiest windows seen.
 */
function floodCheck(sent: readonly SentMessage[]): { violations: string[]; maxChatPerSecond: number; maxGlobalPerSecond: number; minChatGapMs: number } {
  const { chatBurst, chatPerSecond, globalPerSecond } = DEFAULT_FLOOD_LIMITS;
  const violations: string[] = [];
  const sends = sent.filter((m) => m.method === "sendMessage").sort((a, b) => a.at - b.at);
  const maxInWindow = (times: number[]) => {
    let max = 0;
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while (times[lo]! <= times[hi]! - 1000) lo++;
      max = Math.max(max, hi - lo + 1);
    }
    return max;
  };
  const byChat = new Map<number, number[]>();
  for (const m of sends) byChat.set(m.chatId, [...(byChat.get(m.chatId) ?? []), m.at]);
  let maxChatPerSecond = 0;
  let minChatGapMs = Infinity;
  for (const [chatId, times] of byChat) {
    let tokens = chatBurst;
    let last = times[0]!;
    for (const t of times) {
      tokens = Math.min(chatBurst, tokens + ((t - last) / 1000) * chatPerSecond);
      last = t;
      if (tokens < 1 - 1e-9) violations.push(`chat ${chatId}: send at ${t} with an empty bucket`);
      tokens -= 1;
    }
    for (let k = 1; k < times.length; k++) minChatGapMs = Math.min(minChatGapMs, times[k]! - times[k - 1]!);
    maxChatPerSecond = Math.max(maxChatPerSecond, maxInWindow(times));
  }
  const maxGlobalPerSecond = maxInWindow(sends.map((m) => m.at));
  if (maxChatPerSecond > chatBurst) violations.push(`${maxChatPerSecond} sends into one chat within 1 s`);
  if (maxGlobalPerSecond > globalPerSecond) violations.push(`${maxGlobalPerSecond} sends within 1 s overall`);
  return { violations, maxChatPerSecond, maxGlobalPerSecond, minChatGapMs };
}

const statusCounts = (db: { prepare(sql: string): { all(): unknown[] } }, channel = "telegram") =>
  Object.fromEntries(
    (
      db.prepare(`SELECT status, COUNT(*) AS n FROM notifications WHERE channel = '${channel}' GROUP BY status`).all() as Array<{ status: string; n: number }>
    ).map((r) => [r.status, r.n]),
  ) as Partial<Record<"pending" | "sent" | "dead", number>>;

async function queueIdle(queues: Queues): Promise<boolean> {
  const c = await queues.notify.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
  return Object.values(c).every((n) => n === 0);
}

/**
 * Delivery under load and failure, end to end: real Redis, SQLite, BullMQ workers (in
 * process and as separate processes) and the fake Telegram Bot API with its flood limits on.
 */
describe("Telegram delivery under load and failure", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function fakeTelegram(): Promise<FakeTelegram> {
    const tg = await FakeTelegram.start({ floodLimits: true });
    cleanups.push(() => tg.close());
    return tg;
  }

  function workspace(): { dataDir: string; prefix: string } {
    const dataDir = tempDir();
    const prefix = uniquePrefix();
    cleanups.push(() => removeDir(dataDir));
    cleanups.push(() => deletePrefix(prefix));
    return { dataDir, prefix };
  }

  async function startWithTelegram(
    tg: FakeTelegram,
    opts: { concurrency?: number; smtpUrl?: string; attempts?: number; backoffMs?: number } = {},
  ): Promise<RunningApp> {
    const f = await startAppFixture({
      smtp: false,
      env: {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        WORKER_CONCURRENCY: String(opts.concurrency ?? 8),
        ...(opts.smtpUrl ? { SMTP_URL: opts.smtpUrl } : {}),
      },
      delivery: { attempts: opts.attempts ?? DEFAULT_DELIVERY.attempts, backoffMs: opts.backoffMs ?? 200 },
      // Only the notify queue works here: no scheduled polls or sweeps behind the test's back.
      takeOver: ["poll-quotes", "fetch-candles", "sweep-outbox"],
    });
    cleanups.push(() => f.close());
    return f.app;
  }

  it("1,000 alerts to 300 chats all arrive, none twice, no 429 left unhandled", async () => {
    const tg = await fakeTelegram();
    const app = await startWithTelegram(tg, { concurrency: 8 });
    const s = app.services;
    const users = Array.from({ length: 300 }, (_, k) => s.users.create({ telegramId: 700_000 + k, displayName: `Trader ${k}`, channels: "telegram" }));

    // Uneven on purpose: 30 busy chats get 15 alerts each, in bursts of 3 over five waves a
    // second apart (grouping, and the one-a-second chat limit between waves); the other 270
    // get 2 or 3 at once, in a random wave. 450 + 270 × 2 + 10 = 1,000.
    const rand = seededRandom(11);
    const busy = users.slice(0, 30);
    const quiet = users.slice(30);
    const waves: Array<Array<{ i: number; user: User }>> = Array.from({ length: 5 }, () => []);
    let next = 0;
    for (const wave of waves) for (const user of busy) for (let k = 0; k < 3; k++) wave.push({ i: next++, user });
    quiet.forEach((user, k) => {
      const wave = waves[Math.floor(rand() * waves.length)]!;
      for (let n = 0; n < (k < 10 ? 3 : 2); n++) wave.push({ i: next++, user });
    });
    expect(next).toBe(1000);

    const rows: Row[] = [];
    const t0 = Date.now();
    for (const [w, wave] of waves.entries()) {
      const inserted = insertRows(s.outbox, wave, "load");
      rows.push(...inserted);
      await enqueueNotifications(
        s.queues,
        inserted.map((r) => r.id),
        s.delivery,
      );
      // Besides any 429 the flood limits produce, five forced ones: each must wait and resend.
      if (w === 1) tg.failNext({ method: "sendMessage", status: 429, retryAfter: 1, count: 5 });
      if (w < waves.length - 1) await sleep(1000);
    }

    await waitUntil(() => (statusCounts(s.db).sent ?? 0) + (statusCounts(s.db).dead ?? 0) >= rows.length, {
      timeoutMs: 50_000,
      intervalMs: 100,
      what: `all ${rows.length} rows sent (have ${JSON.stringify(statusCounts(s.db))})`,
    });
    const elapsed = Date.now() - t0;
    // Whatever is still queued (jobs of rows another job already grouped) must find nothing to send.
    await waitUntil(() => queueIdle(s.queues), { timeoutMs: 10_000, what: "the notify queue to drain" });

    expect(statusCounts(s.db)).toEqual({ sent: 1000 });
    const { counts, strays, groupSizes } = tally(tg.sent, rows);
    expect(strays).toEqual([]);
    const twice = [...counts].filter(([, n]) => n !== 1).map(([id, n]) => `row ${id}: ${n}×`);
    expect(twice).toEqual([]);

    const flood = floodCheck(tg.sent);
    expect(flood.violations).toEqual([]);
    // Every 429 the fake returned was followed by a successful send into that chat.
    const refused = tg.calls.filter((c) => c.method === "sendMessage" && c.status === 429);
    for (const c of refused) expect(tg.sent.some((m) => m.chatId === c.chatId && m.at >= c.at)).toBe(true);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(tg.calls.filter((c) => c.method === "sendMessage" && c.status !== 200 && c.status !== 429)).toEqual([]);

    console.log(
      `[delivery-load] 1,000 rows in ${elapsed} ms: ${groupSizes.length} messages (max group ${Math.max(...groupSizes)}), ` +
        `429s ${refused.length}, busiest chat ${flood.maxChatPerSecond}/s (min gap ${flood.minChatGapMs} ms), busiest second ${flood.maxGlobalPerSecond} msgs`,
    );
  }, 90_000);

  it("a burst into one chat goes out in order, each row once, at the chat's pace, with no 429", async () => {
    const tg = await fakeTelegram();
    const app = await startWithTelegram(tg, { concurrency: 8 });
    const s = app.services;
    const long = s.users.create({ telegramId: 610_001, channels: "telegram" });
    const short = s.users.create({ telegramId: 610_002, channels: "telegram" });
    // Six broadcasts too long to share a message (six sends into one chat, a second apart at
    // best), and twelve short alerts into another chat (grouped as they fit), all queued at once.
    const filler = "Markets will close early on the day of the budget session. ".repeat(36);
    const longRows = Array.from({ length: 6 }, (_, i) =>
      s.outbox.enqueueRow({
        userId: long.id,
        channel: "telegram",
        kind: "broadcast",
        dedupKey: `burst:long:${i}`,
        payload: { text: `${marker(i)} ${filler}` },
      }),
    );
    const shortRows = insertRows(
      s.outbox,
      Array.from({ length: 12 }, (_, k) => ({ i: 100 + k, user: short })),
      "burst",
    );
    await enqueueNotifications(s.queues, [...longRows, ...shortRows.map((r) => r.id)], s.delivery);

    await waitUntil(() => (statusCounts(s.db).sent ?? 0) >= 18, { timeoutMs: 30_000, what: `all 18 rows sent (have ${JSON.stringify(statusCounts(s.db))})` });
    await waitUntil(() => queueIdle(s.queues), { timeoutMs: 10_000, what: "the notify queue to drain" });
    expect(statusCounts(s.db)).toEqual({ sent: 18 });

    // The long rows: one message each, in the order written.
    const longSent = tg.sentTo(long.telegramId!).map((m) => /M\d{4}/.exec(m.rawText ?? "")?.[0]);
    expect(longSent).toEqual(Array.from({ length: 6 }, (_, i) => marker(i)));
    // The short ones: grouped, each once, in the order written.
    const shortSent = tg
      .sentTo(short.telegramId!)
      .flatMap((m) => (m.rawText ?? "").split(SEPARATOR))
      .map((html) => shortRows.find((r) => r.html === html)?.i);
    expect(shortSent).toEqual(shortRows.map((r) => r.i));
    expect(floodCheck(tg.sent).violations).toEqual([]);
    expect(tg.calls.filter((c) => c.method === "sendMessage" && c.status !== 200)).toEqual([]);
  }, 60_000);

  it("kill the worker mid-delivery and restart: nothing lost", async () => {
    const tg = await fakeTelegram();
    const { dataDir, prefix } = workspace();
    const concurrency = 8;
    const env = botEnv({
      dataDir,
      prefix,
      extra: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, WORKER_CONCURRENCY: String(concurrency), SHUTDOWN_TIMEOUT: "5" },
    });
    const processes: BotProcess[] = [];
    cleanups.push(() => Promise.all(processes.map((p) => p.kill())));
    const first = spawnBot(["--role=worker"], env);
    processes.push(first);
    await first.waitForLog((l) => l.msg === "bot started", 30_000, "the first worker to start");

    // This test is the other process: it writes the outbox rows and queues their jobs.
    const db = openDatabase(path.join(dataDir, "bot.sqlite"));
    cleanups.push(() => db.close());
    const users = new UserRepository(db);
    const outbox = new Outbox(db, new AlertRuleRepository(db));
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    cleanups.push(() => redis.quit());
    const queues = createQueues(redis, prefix);
    cleanups.push(() => Promise.all(Object.values(queues).map((q) => q.close())));

    // 300 rows to 200 chats: 100 chats get one row (queued first), 100 get two. About 200
    // messages, seven seconds at 30 a second. The jobs running at the kill are lone rows: no
    // other job of their chat can carry them, only BullMQ's recovery of the stalled job.
    const chats = Array.from({ length: 200 }, (_, k) => users.create({ telegramId: 800_000 + k, channels: "telegram" }));
    const rows = insertRows(
      outbox,
      Array.from({ length: 300 }, (_, i) => ({ i, user: chats[i < 100 ? 100 + i : (i - 100) % 100]! })),
      "kill",
    );
    await enqueueNotifications(
      queues,
      rows.map((r) => r.id),
      DEFAULT_DELIVERY,
    );

    await waitUntil(() => (statusCounts(db).sent ?? 0) >= 40, { timeoutMs: 30_000, intervalMs: 10, what: "some rows sent by the first worker" });
    first.child.kill("SIGKILL");
    expect(await first.waitForExit(10_000)).toEqual({ code: null, signal: "SIGKILL" });
    const atKill = statusCounts(db);
    const sentAtKill = tg.sent.length;
    // The jobs the dead worker was running: BullMQ still lists them as active, their rows pending.
    const orphaned = (await queues.notify.getJobs(["active"])).map((j) => (j.data as { notificationId: number }).notificationId);
    const orphanedPending = orphaned.filter((id) => outbox.get(id)!.status === "pending");
    expect(atKill.sent ?? 0).toBeLessThan(rows.length);

    const second = spawnBot(["--role=worker"], env);
    processes.push(second);
    await second.waitForLog((l) => l.msg === "bot started", 30_000, "the second worker to start");
    // Jobs the dead process held stay "active" until BullMQ's stalled check sees their lock
    // expire (lockDuration 30 s) and puts them back. The app's workers check every 30 s (the
    // default stalledInterval), so a recovery can take a minute; this checker (no processor,
    // never run) looks every half second, so the wait is only the dead worker's lock TTL.
    const checkerConnection = redis.duplicate();
    cleanups.push(() => checkerConnection.quit());
    const checker = new Worker("notify", null, { connection: checkerConnection, prefix, autorun: false, stalledInterval: 500 });
    checker.on("error", () => {});
    cleanups.push(() => checker.close());
    void checker.startStalledCheckTimer();

    const recoveredAt = Date.now();
    await waitUntil(() => (statusCounts(db).sent ?? 0) === rows.length, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `all ${rows.length} rows sent after the restart (have ${JSON.stringify(statusCounts(db))})`,
    });
    const recoveryMs = Date.now() - recoveredAt;
    // The dead worker's jobs of rows already sent by a sibling job still need their lock to
    // expire and one more (no-op) run before the queue is empty.
    await waitUntil(() => queueIdle(queues), { timeoutMs: 45_000, what: "the notify queue to drain" });
    const drainedMs = Date.now() - recoveredAt;

    expect(statusCounts(db)).toEqual({ sent: rows.length });
    const { counts, strays, groupSizes } = tally(tg.sent, rows);
    expect(strays).toEqual([]);
    const missing = [...counts].filter(([, n]) => n === 0);
    expect(missing).toEqual([]);
    // At-least-once: a row whose message went out just before the kill, but was not yet
    // marked sent, goes again. Only what was in flight can repeat.
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(concurrency * Math.max(...groupSizes));
    expect(floodCheck(tg.sent).violations).toEqual([]);

    console.log(
      `[delivery-load] killed at ${atKill.sent} of ${rows.length} rows sent (${sentAtKill} messages, ${orphaned.length} jobs active, ${orphanedPending.length} of their rows pending); ` +
        `all sent ${recoveryMs} ms after the second worker started, queue empty after ${drainedMs} ms; duplicate rows: ${duplicates}`,
    );
    second.child.kill("SIGTERM");
    expect(await second.waitForExit(15_000)).toEqual({ code: 0, signal: null });
  }, 120_000);

  describe("Telegram refusals and failures", () => {
    async function setup(opts: { attempts: number }) {
      const tg = await fakeTelegram();
      const smtp = await startSmtpCapture();
      cleanups.push(() => smtp.close());
      const app = await startWithTelegram(tg, { smtpUrl: smtp.url, attempts: opts.attempts, backoffMs: 100 });
      const s = app.services;
      const user = s.users.create({ telegramId: 4242, displayName: "Meera", email: "meera@example.com", emailVerified: true, channels: "telegram" });
      const [row] = insertRows(s.outbox, [{ i: 7, user }], "fail");
      return { tg, smtp, s, user, row: row! };
    }
    const rowOf = (s: RunningApp["services"], id: number) => s.outbox.get(id)!;
    const fallbackOf = (s: RunningApp["services"], dedupKey: string) =>
      s.db.prepare("SELECT status, channel, kind FROM notifications WHERE dedup_key = ?").get(`${dedupKey}:fallback-email`) as
        { status: string; channel: string; kind: string } | undefined;

    it("403 marks the user inactive and falls back to email", async () => {
      const { tg, smtp, s, user, row } = await setup({ attempts: 3 });
      tg.blockUser(user.telegramId!);
      await enqueueNotifications(s.queues, [row.id], s.delivery);

      const dead = await waitUntil(() => (rowOf(s, row.id).status === "dead" ? rowOf(s, row.id) : undefined), { what: "the row to be dead" });
      expect(dead.lastError).toBe("Telegram refused: Forbidden: bot was blocked by the user");
      // Blocked is final: one call, no retries.
      expect(dead.attempts).toBe(1);
      expect(tg.calls.filter((c) => c.method === "sendMessage").map((c) => c.status)).toEqual([403]);
      expect(s.users.get(user.id)!.status).toBe("inactive");

      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.envelopeTo).toEqual(["meera@example.com"]);
      expect(mail!.parsed.subject).toBe(`${marker(7)} crossed above ₹1,450.00 (₹1,450.50)`);
      expect(mail!.parsed.text).toContain("Last price: Rs 1,450.50");
      await waitUntil(() => fallbackOf(s, "fail:7")?.status === "sent", { what: "the fallback row to be sent" });
      expect(fallbackOf(s, "fail:7")).toMatchObject({ channel: "email", kind: "price_alert" });
      expect(tg.sentTo(user.telegramId!)).toEqual([]);
      await sleep(300);
      expect(smtp.messages).toHaveLength(1);
    });

    it("a 500 from Telegram is retried and the alert then arrives, once, without email", async () => {
      const { tg, smtp, s, user, row } = await setup({ attempts: 3 });
      tg.failNext({ method: "sendMessage", status: 500, count: 2 });
      await enqueueNotifications(s.queues, [row.id], s.delivery);

      const sent = await waitUntil(() => (rowOf(s, row.id).status === "sent" ? rowOf(s, row.id) : undefined), { what: "the row to be sent" });
      expect(sent.attempts).toBe(3);
      expect(tg.calls.filter((c) => c.method === "sendMessage").map((c) => c.status)).toEqual([500, 500, 200]);
      expect(tg.sentTo(user.telegramId!).map((m) => m.rawText)).toEqual([row.html]);
      expect(s.users.get(user.id)!.status).toBe("active");
      await sleep(300);
      expect(smtp.messages).toHaveLength(0);
      expect(fallbackOf(s, "fail:7")).toBeUndefined();
    });

    it("a 500 on every attempt: the row is dead with Telegram's error and the alert goes by email", async () => {
      const { tg, smtp, s, user, row } = await setup({ attempts: 3 });
      tg.failNext({ method: "sendMessage", status: 500, count: 3 });
      await enqueueNotifications(s.queues, [row.id], s.delivery);

      const dead = await waitUntil(() => (rowOf(s, row.id).status === "dead" ? rowOf(s, row.id) : undefined), { what: "the row to be dead" });
      expect(dead.attempts).toBe(3);
      expect(dead.lastError).toMatch(/500.*Internal Server Error/);
      expect(tg.calls.filter((c) => c.method === "sendMessage").map((c) => c.status)).toEqual([500, 500, 500]);
      expect(tg.sentTo(user.telegramId!)).toEqual([]);
      // Not the user's doing: they stay active.
      expect(s.users.get(user.id)!.status).toBe("active");

      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.envelopeTo).toEqual(["meera@example.com"]);
      expect(mail!.parsed.subject).toBe(`${marker(7)} crossed above ₹1,450.00 (₹1,450.50)`);
      await waitUntil(() => fallbackOf(s, "fail:7")?.status === "sent", { what: "the fallback row to be sent" });
      expect(await queueIdle(s.queues)).toBe(true);
    });
  });
});
