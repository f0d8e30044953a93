import { afterEach, describe, expect, it } from "vitest";
import type { Notification } from "../../src/notify/outbox.js";
import { enqueueNotifications } from "../../src/queue/queues.js";
import { deadPort } from "../support/env.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { sleep, waitUntil } from "../support/wait.js";

const alertPayload = (firedAt: number) => ({
  symbol: "SBIN",
  instrumentKey: "NSE_EQ|INE062A01020",
  ruleId: 1,
  ruleKind: "cross_down",
  price: 815.4,
  level: 816,
  dayChangePct: -0.36,
  firedAt,
});

/** Delivery failures: retried with backoff, the error kept on the row, and finally marked dead. */
describe("outbox retries, dead rows and the sweeper", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** The app on its own prefix and data dir, mailing through `smtpUrl`, or through an SMTP capture of its own. */
  async function start(opts: { smtpUrl?: string; attempts?: number; backoffMs?: number; clock?: () => number }): Promise<AppFixture> {
    const f = await startAppFixture({
      smtp: !opts.smtpUrl,
      env: opts.smtpUrl ? { SMTP_URL: opts.smtpUrl } : {},
      ...(opts.clock ? { clock: opts.clock } : {}),
      delivery: { attempts: opts.attempts ?? 3, backoffMs: opts.backoffMs ?? 200 },
      // Only the test queues work here: no scheduled polls or sweeps behind its back.
      takeOver: ["poll-quotes", "sweep-outbox"],
    });
    cleanups.push(() => f.close());
    return f;
  }

  it("an unreachable SMTP server: attempts grow with the error kept, then the row is dead", async () => {
    const port = await deadPort();
    const { services: s } = await start({ smtpUrl: `smtp://127.0.0.1:${port}`, attempts: 3, backoffMs: 300 });
    const user = s.users.create({ email: "ravi@example.com", emailVerified: true, channels: "email" });
    const id = s.outbox.enqueueRow({ userId: user.id, channel: "email", kind: "price_alert", dedupKey: "t:retry:1", payload: alertPayload(s.clock()) });

    // Watch the row as the retries go by.
    const seen: Notification[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const n = s.outbox.get(id)!;
        if (!seen.length || seen.at(-1)!.attempts !== n.attempts || seen.at(-1)!.status !== n.status) seen.push(n);
        await sleep(10);
      }
    })();
    await enqueueNotifications(s.queues, [id], s.delivery);

    const dead = await waitUntil(
      () => {
        const n = s.outbox.get(id)!;
        return n.status === "dead" ? n : undefined;
      },
      { timeoutMs: 20_000, what: "the row to be dead" },
    );
    watching = false;
    await watcher;

    expect(dead.attempts).toBe(3);
    expect(dead.lastError).toMatch(/ECONNREFUSED/);
    // In between it was pending with the failure recorded and a growing attempt count.
    const retrying = seen.filter((n) => n.status === "pending" && n.attempts > 0);
    expect(retrying.map((n) => n.attempts)).toEqual([1, 2]);
    for (const n of retrying) expect(n.lastError).toMatch(/ECONNREFUSED/);

    const row = s.db.prepare("SELECT next_attempt_at, sent_at FROM notifications WHERE id = ?").get(id) as { next_attempt_at: number; sent_at: number | null };
    expect(row.sent_at).toBeNull();
    const metrics = await s.metrics.registry.metrics();
    expect(metrics).toMatch(/^uab_notifications_total\{channel="email",outcome="retry"\} 2$/m);
    expect(metrics).toMatch(/^uab_notifications_total\{channel="email",outcome="dead"\} 1$/m);
    // The job is gone: nothing will try again, and a sweep leaves a dead row alone.
    expect(await s.queues.notify.getJobCounts("waiting", "active", "delayed")).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect((await runJob(s.queues["sweep-outbox"])).result).toEqual({ requeued: 0 });
  });

  it("a failing attempt sets the row due when BullMQ's backoff brings the next try", async () => {
    let now = Date.UTC(2025, 0, 6, 5, 0, 0);
    const port = await deadPort();
    const { services: s } = await start({ smtpUrl: `smtp://127.0.0.1:${port}`, attempts: 2, backoffMs: 60_000, clock: () => now });
    const user = s.users.create({ email: "ravi@example.com", emailVerified: true, channels: "email" });
    const id = s.outbox.enqueueRow({ userId: user.id, channel: "email", kind: "price_alert", dedupKey: "t:retry:2", payload: alertPayload(now) });
    await enqueueNotifications(s.queues, [id], s.delivery);
    const failed = await waitUntil(() => (s.outbox.get(id)!.attempts === 1 ? s.outbox.get(id) : undefined), { what: "the first failure" });
    expect(failed.status).toBe("pending");
    const row = s.db.prepare("SELECT next_attempt_at FROM notifications WHERE id = ?").get(id) as { next_attempt_at: number };
    expect(row.next_attempt_at).toBe(now + 60_000);
    // The retry is waiting in BullMQ; a sweep in the meantime must not add a second job, nor
    // count the row as recovered: its job is not lost.
    now += 60_000 + 61_000;
    expect((await runJob(s.queues["sweep-outbox"])).result).toEqual({ requeued: 0 });
    expect(await s.queues.notify.getJobCounts("waiting", "active", "delayed")).toMatchObject({ delayed: 1 });
  });

  describe("the sweeper", () => {
    it("re-queues a pending row whose job was lost, once it is past the grace period, and it is delivered", async () => {
      let now = Date.UTC(2025, 0, 6, 5, 0, 0);
      const { services: s, smtp } = await start({ clock: () => now });
      const user = s.users.create({ email: "meera@example.com", emailVerified: true, channels: "email" });
      // A row written before a crash: no job was ever queued for it.
      const id = s.outbox.enqueueRow({ userId: user.id, channel: "email", kind: "price_alert", dedupKey: "t:lost:1", payload: alertPayload(now) });

      now += 30_000;
      expect((await runJob(s.queues["sweep-outbox"])).result).toEqual({ requeued: 0 });
      await sleep(300);
      expect(smtp.messages).toHaveLength(0);
      expect(s.outbox.get(id)!.status).toBe("pending");

      now += 31_000;
      expect((await runJob(s.queues["sweep-outbox"])).result).toEqual({ requeued: 1 });
      const [mail] = await smtp.waitForMessages(1);
      expect(mail!.envelopeTo).toEqual(["meera@example.com"]);
      expect(mail!.parsed.subject).toBe("SBIN crossed below ₹816.00 (₹815.40)");
      const sent = await waitUntil(() => (s.outbox.get(id)!.status === "sent" ? s.outbox.get(id) : undefined), { what: "the row to be sent" });
      expect(sent.attempts).toBe(1);

      // Sent rows are never swept again.
      now += 3_600_000;
      expect((await runJob(s.queues["sweep-outbox"])).result).toEqual({ requeued: 0 });
      await sleep(300);
      expect(smtp.messages).toHaveLength(1);
    });
  });
});
