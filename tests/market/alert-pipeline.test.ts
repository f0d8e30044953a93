import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pollQuotes, type PollQuotesResult } from "../../jobs/poll-quotes.js";
import type { User } from "../../src/db/repositories/users.js";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { AlertRule } from "../../src/signals/rules.js";
import { capturingLog } from "../support/app.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { ScriptedQuotes } from "../support/quotes.js";
import { runJob } from "../support/queues.js";
import { sleep, waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const FROM = "Alert Bot <alerts@bot.test>";

interface NotificationRow {
  id: number;
  channel: string;
  status: string;
  attempts: number;
  signal_id: number;
  dedup_key: string;
  last_error: string | null;
}

/**
 * Quote → rule → signal + outbox rows → notify job → SMTP, over real Redis (BullMQ), real
 * SQLite and a real SMTP server. Prices come from a scripted quote source.
 */
describe("alert pipeline end to end", () => {
  let f: AppFixture;
  let quotes: ScriptedQuotes;
  let now: number;
  let user: User;
  let rule: AlertRule;
  let logLines: ReturnType<typeof capturingLog>["lines"];

  beforeEach(async () => {
    now = Date.UTC(2025, 0, 6, 5, 0, 0); // 10:30 IST on a Monday
    const clock = () => now;
    quotes = new ScriptedQuotes(clock);
    const captured = capturingLog();
    logLines = captured.lines;
    f = await startAppFixture({
      clock,
      quoteSource: quotes,
      log: captured.log,
      env: { SIMULATOR_ALWAYS_OPEN: "true", EMAIL_FROM: FROM },
      // The test drives every poll itself.
      takeOver: ["poll-quotes"],
    });
    f.services.instruments.upsertMany(SIMULATED_INSTRUMENTS);
    const trader = f.addTrader({
      telegramId: 424242,
      displayName: "Asha",
      email: "asha@example.com",
      channels: "both",
      watch: [RELIANCE],
      rules: [{ instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1420 }, frequency: "every", cooldownSeconds: 0 }],
    });
    user = trader.user;
    rule = trader.rules[0]!;
  });

  afterEach(() => f.close());

  const notifications = () => f.services.db.prepare("SELECT * FROM notifications ORDER BY id").all() as NotificationRow[];
  const signals = () => f.services.db.prepare("SELECT * FROM signals ORDER BY id").all() as Array<{ id: number; rule_id: number; price: number; kind: string }>;
  const poll = () => runJob<PollQuotesResult>(f.services.queues["poll-quotes"]);

  it("a crossing becomes one signal, two outbox rows, one real email and a telegram message, all marked sent", async () => {
    quotes.set(RELIANCE, 1415.5);
    expect((await poll()).result).toEqual({ instruments: 1, quotes: 1, fired: 0, stale: 0 });
    expect(signals()).toEqual([]);

    now += 15_000;
    quotes.set(RELIANCE, 1421.25);
    expect((await poll()).result).toEqual({ instruments: 1, quotes: 1, fired: 1, stale: 0 });

    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.envelopeTo).toEqual(["asha@example.com"]);
    expect(mail!.envelopeFrom).toBe("alerts@bot.test");
    const parsed = mail!.parsed;
    expect(parsed.subject).toBe("RELIANCE crossed above ₹1,420.00 (₹1,421.25)");
    expect(parsed.from?.text).toContain("alerts@bot.test");
    expect(typeof parsed.html).toBe("string");
    expect(parsed.html as string).toContain("<b>RELIANCE</b>");
    expect(parsed.html as string).toContain("₹1,421.25");
    expect(parsed.text).toContain("RELIANCE crossed above ₹1,420.00");
    expect(parsed.text).toContain("Last price: Rs 1,421.25");
    expect(parsed.text).toMatch(/Time: 2025-01-06 10:30:15 IST/);

    const rows = await waitUntil(
      () => {
        const r = notifications();
        return r.length === 2 && r.every((n) => n.status === "sent") ? r : undefined;
      },
      { what: "both notification rows to be sent" },
    );
    const [signal] = signals();
    expect(signals()).toHaveLength(1);
    expect(signal).toMatchObject({ rule_id: rule.id, price: 1421.25, kind: "cross_up" });
    expect(rows.map((n) => n.channel).sort()).toEqual(["email", "telegram"]);
    for (const n of rows) {
      expect(n.signal_id).toBe(signal!.id);
      expect(n.attempts).toBe(1);
      expect(n.last_error).toBeNull();
      expect(n.dedup_key).toBe(`rule:${rule.id}:fire:1:${n.channel}`);
    }
    // No bot token: the Telegram message goes to the log, as plain text.
    const telegram = logLines.filter((l) => l.msg.startsWith("📨 telegram"));
    expect(telegram).toHaveLength(1);
    expect(telegram[0]).toMatchObject({ chatId: 424242 });
    expect(telegram[0]!.msg).toBe("📨 telegram → 🔔 RELIANCE crossed above ₹1,420.00 | Last price: ₹1,421.25 (+0.19% today) | 2025-01-06 10:30:15 IST");
    const signalLines = logLines.filter((l) => l.msg.startsWith("🔔 signal"));
    expect(signalLines).toHaveLength(1);
    // Prices in log lines read like prices ("₹1,421.25"), never like floats ("₹1421.2500000001").
    expect(signalLines[0]!.msg).toBe("🔔 signal: RELIANCE cross up at ₹1,421.25");

    const metrics = await f.services.metrics.registry.metrics();
    expect(metrics).toMatch(/^uab_notifications_total\{channel="email",outcome="sent"\} 1$/m);
    expect(metrics).toMatch(/^uab_notifications_total\{channel="telegram",outcome="sent"\} 1$/m);
    expect(metrics).toMatch(/^uab_alerts_fired_total\{kind="cross_up"\} 1$/m);
  });

  it("processing the same poll job again (same clock, same prices) notifies nobody twice", async () => {
    quotes.set(RELIANCE, 1415.5);
    await poll();
    now += 15_000;
    quotes.set(RELIANCE, 1421.25);
    const { job } = await poll();
    await f.smtp.waitForMessages(1);
    await waitUntil(() => notifications().every((n) => n.status === "sent") && notifications().length === 2, { what: "rows sent" });

    // BullMQ delivers at least once: the very same job may run again, e.g. after a stall.
    expect(await pollQuotes(job, f.services)).toEqual({ instruments: 1, quotes: 1, fired: 0, stale: 0 });
    expect(await pollQuotes(job, f.services)).toEqual({ instruments: 1, quotes: 1, fired: 0, stale: 0 });
    // And a sweep finds nothing left behind.
    expect((await runJob(f.services.queues["sweep-outbox"])).result).toEqual({ requeued: 0 });

    await sleep(1000);
    expect(f.smtp.messages).toHaveLength(1);
    expect(signals()).toHaveLength(1);
    expect(notifications()).toHaveLength(2);
    expect(await f.services.queues.notify.getJobCounts("waiting", "active", "delayed")).toEqual({ waiting: 0, active: 0, delayed: 0 });
  });

  it("two pollers evaluating the same quote at once record the firing once", async () => {
    quotes.set(RELIANCE, 1415.5);
    await poll();
    now += 15_000;
    quotes.set(RELIANCE, 1421.25);
    const s = f.services;

    // Both read the rule while it is still armed, as two overlapping polls would.
    const [snapshot] = s.rules.activeForInstrument(RELIANCE);
    const firing = {
      rule: snapshot!,
      state: { armed: false, lastPrice: 1421.25 },
      firedAt: now,
      price: 1421.25,
      payload: {
        symbol: "RELIANCE",
        instrumentKey: RELIANCE,
        ruleId: rule.id,
        ruleKind: "cross_up",
        price: 1421.25,
        level: 1420,
        dayChangePct: 0.18,
        firedAt: now,
      },
      channels: ["email" as const],
    };
    const first = s.outbox.recordFiring(firing);
    const second = s.outbox.recordFiring(firing);
    expect(first?.notificationIds).toHaveLength(1);
    expect(second).toBeUndefined();
    expect(signals()).toHaveLength(1);
    expect((s.db.prepare("SELECT fire_count FROM alert_rules WHERE id = ?").get(rule.id) as { fire_count: number }).fire_count).toBe(1);
  });

  it("a user who wants email only gets no telegram row; crossing back and up again fires a second email", async () => {
    const s = f.services;
    s.db.prepare("UPDATE users SET channels = 'email' WHERE id = ?").run(user.id);

    quotes.set(RELIANCE, 1415.5);
    await poll();
    now += 15_000;
    quotes.set(RELIANCE, 1421.25);
    await poll();
    await f.smtp.waitForMessages(1);

    // Back below the re-arm band (0.1 % under the level), then up through it again.
    now += 15_000;
    quotes.set(RELIANCE, 1417.5);
    expect((await poll()).result).toMatchObject({ fired: 0 });
    now += 15_000;
    quotes.set(RELIANCE, 1422);
    expect((await poll()).result).toMatchObject({ fired: 1 });

    const mails = await f.smtp.waitForMessages(2);
    expect(mails.map((m) => m.parsed.subject)).toEqual(["RELIANCE crossed above ₹1,420.00 (₹1,421.25)", "RELIANCE crossed above ₹1,420.00 (₹1,422.00)"]);
    const rows = await waitUntil(
      () => {
        const r = notifications();
        return r.length === 2 && r.every((n) => n.status === "sent") ? r : undefined;
      },
      { what: "both email rows sent" },
    );
    expect(rows.map((n) => n.channel)).toEqual(["email", "email"]);
    expect(rows.map((n) => n.dedup_key)).toEqual([`rule:${rule.id}:fire:1:email`, `rule:${rule.id}:fire:2:email`]);
    expect(signals()).toHaveLength(2);
  });
});
