import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository, type NewUser, type User } from "../../src/db/repositories/users.js";
import { Notifier, QueuedBeforeCommitError } from "../../src/notify/notifier.js";
import { Outbox } from "../../src/notify/outbox.js";
import { deliverSilently } from "../../src/notify/preferences.js";
import { createQueues, notifyJobId, type DeliveryPolicy, type Queues } from "../../src/queue/queues.js";
import { deletePrefix, removeDir, tempDir, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";

/** 22:30 IST on a Wednesday. */
const T0 = Date.parse("2025-01-15T22:30:00+05:30");
const POLICY: DeliveryPolicy = { attempts: 4, backoffMs: 1500 };

let redis: Redis;
let prefix: string;
let queues: Queues;
let dir: string;
let db: Database;
let users: UserRepository;
let rules: AlertRuleRepository;
let outbox: Outbox;
let notifier: Notifier;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(() => {
  redis.disconnect();
});

beforeEach(() => {
  prefix = uniquePrefix();
  queues = createQueues(redis, prefix);
  dir = tempDir("uab-notifier-");
  db = openDatabase(path.join(dir, "bot.sqlite"));
  users = new UserRepository(db, () => T0);
  rules = new AlertRuleRepository(db, () => T0);
  outbox = new Outbox(db, rules, () => T0);
  notifier = new Notifier({ db, outbox, users, queues, delivery: POLICY, clock: () => T0 });
});

afterEach(async () => {
  await Promise.all(Object.values(queues).map((q) => q.close()));
  await deletePrefix(prefix);
  db.close();
  removeDir(dir);
});

const rows = () =>
  db.prepare("SELECT id, user_id AS userId, channel, kind, dedup_key AS dedupKey, payload, status FROM notifications ORDER BY id").all() as Array<{
    id: number;
    userId: number;
    channel: string;
    kind: string;
    dedupKey: string;
    payload: string;
    status: string;
  }>;
/** Notification ids of the notify jobs in Redis, in id order. */
const queued = async () =>
  (await queues.notify.getJobs(["waiting", "delayed", "active", "prioritized"]))
    .map((j) => (j.data as { notificationId: number }).notificationId)
    .sort((a, b) => a - b);

const both: NewUser = { telegramId: 501, email: "both@example.com", emailVerified: true, channels: "both" };
const alert = (user: User | number, key = "alert:1") => ({ user, kind: "price_alert", dedupKey: key, payload: { symbol: "SBIN", price: 815.4 } });

describe("Notifier: channels follow the user's settings", () => {
  it("telegram only, email only, both: one row per chosen channel, keyed <key>:<channel>", () => {
    const tg = users.create({ telegramId: 101, channels: "telegram" });
    const mail = users.create({ email: "m@example.com", emailVerified: true, channels: "email" });
    const two = users.create(both);
    const ids = notifier.record([alert(tg, "a:tg"), alert(mail, "a:mail"), alert(two, "a:both")]);
    expect(ids).toEqual(rows().map((r) => r.id));
    expect(rows().map((r) => [r.userId, r.channel, r.kind, r.dedupKey])).toEqual([
      [tg.id, "telegram", "price_alert", "a:tg:telegram"],
      [mail.id, "email", "price_alert", "a:mail:email"],
      [two.id, "telegram", "price_alert", "a:both:telegram"],
      [two.id, "email", "price_alert", "a:both:email"],
    ]);
    expect(JSON.parse(rows()[0]!.payload)).toEqual({ symbol: "SBIN", price: 815.4 });
  });

  it("a channel the user cannot be reached on gets no row (email not verified, no Telegram chat)", () => {
    const unverified = users.create({ telegramId: 102, email: "u@example.com", emailVerified: false, channels: "both" });
    const noChat = users.create({ email: "n@example.com", emailVerified: true, channels: "both" });
    notifier.record([alert(unverified, "u"), alert(noChat, "n")]);
    expect(rows().map((r) => r.dedupKey)).toEqual(["u:telegram", "n:email"]);
  });

  it("a kind turned off or a mute writes nothing for that kind; what no setting governs still goes", () => {
    const off = users.update(users.create(both).id, { prefs: { price: "off" } })!;
    const muted = users.update(users.create({ ...both, telegramId: 502 }).id, { mutedUntil: T0 + 60_000 })!;
    const muteOver = users.update(users.create({ ...both, telegramId: 503 }).id, { mutedUntil: T0 - 1 })!;
    expect(notifier.record([alert(off, "off"), alert(muted, "muted")])).toEqual([]);
    expect(notifier.channels(off, "indicator_alert")).toEqual(["telegram", "email"]);
    expect(notifier.channels(muted, "order_filled")).toEqual([]);
    notifier.record([
      { user: off, kind: "order_filled", dedupKey: "order:off", payload: {} },
      { user: muted, kind: "token_expired", dedupKey: "token:muted", payload: {} },
      alert(muteOver, "over"),
    ]);
    expect(rows().map((r) => r.dedupKey)).toEqual([
      "order:off:telegram",
      "order:off:email",
      "token:muted:telegram",
      "token:muted:email",
      "over:telegram",
      "over:email",
    ]);
  });

  it("`only` narrows to some of the user's channels (a broadcast is Telegram-only)", () => {
    const two = users.create(both);
    const mail = users.create({ email: "m@example.com", emailVerified: true, channels: "email" });
    const req = (user: User) => ({ user, kind: "broadcast", dedupKey: `broadcast:x:${user.id}`, payload: { text: "hi" }, only: ["telegram" as const] });
    expect(notifier.record([req(two), req(mail)])).toHaveLength(1);
    expect(rows().map((r) => [r.userId, r.channel])).toEqual([[two.id, "telegram"]]);
  });

  it("quiet hours and a kind set to silent still deliver, silently", () => {
    const quiet = users.update(users.create(both).id, { quiet: { start: "22:00", end: "07:00" } })!;
    const silent = users.update(users.create({ ...both, telegramId: 504 }).id, { prefs: { portfolio: "silent" } })!;
    notifier.record([alert(quiet, "quiet"), { user: silent, kind: "portfolio_digest", dedupKey: "digest", payload: {} }]);
    expect(rows().map((r) => r.dedupKey)).toEqual(["quiet:telegram", "quiet:email", "digest:telegram", "digest:email"]);
    expect(deliverSilently(quiet, "price_alert", T0)).toBe(true);
    expect(deliverSilently(quiet, "price_alert", Date.parse("2025-01-15T12:00:00+05:30"))).toBe(false);
    expect(deliverSilently(silent, "portfolio_digest", T0)).toBe(true);
    expect(deliverSilently(silent, "price_alert", T0)).toBe(false);
  });

  it("settings are judged at the time asked for, and read from the repository for a user id", () => {
    const u = users.update(users.create(both).id, { mutedUntil: T0 + 60_000 })!;
    expect(notifier.record(alert(u.id, "early"))).toEqual([]);
    expect(notifier.record({ ...alert(u.id, "later"), now: T0 + 60_001 })).toHaveLength(2);
    expect(notifier.record(alert(9999, "nobody"))).toEqual([]);
    expect(rows().map((r) => r.dedupKey)).toEqual(["later:telegram", "later:email"]);
  });

  it("a firing's rows go to the owner's channels, keyed by the rule's firing number", () => {
    const mail = users.create({ email: "m@example.com", emailVerified: true, channels: "email" });
    const rule = rules.create({ userId: mail.id, instrumentKey: "NSE_EQ|INE062A01020", kind: "price_above", params: { level: 800 } });
    const r = notifier.recordFiring(mail, { rule, kind: "price_alert", state: { armed: false }, firedAt: T0, price: 815.4, payload: { symbol: "SBIN" } });
    expect(r?.notificationIds).toHaveLength(1);
    expect(rows().map((x) => [x.channel, x.dedupKey])).toEqual([["email", `rule:${rule.id}:fire:1:email`]]);
    expect(JSON.parse(rows()[0]!.payload)).toEqual({ symbol: "SBIN", signalId: r!.signalId });
  });

  it("Telegram's failed rows fall back to email only for a verified address, once", () => {
    const two = users.create(both);
    const tgOnly = users.create({ telegramId: 105, email: "t@example.com", emailVerified: false, channels: "telegram" });
    const [tgRow] = notifier.record(alert(two, "fb")).map((id) => outbox.get(id)!);
    expect(notifier.recordEmailFallback(two, [tgRow!])).toHaveLength(1);
    expect(notifier.recordEmailFallback(two, [tgRow!])).toHaveLength(1);
    const [other] = notifier.record(alert(tgOnly, "fb2")).map((id) => outbox.get(id)!);
    expect(notifier.recordEmailFallback(tgOnly, [other!])).toEqual([]);
    expect(rows().map((r) => [r.channel, r.dedupKey])).toEqual([
      ["telegram", "fb:telegram"],
      ["email", "fb:email"],
      ["email", "fb:telegram:fallback-email"],
      ["telegram", "fb2:telegram"],
    ]);
  });
});

describe("Notifier: rows first, jobs after the commit", () => {
  it("notify writes the rows and queues one job per row with the delivery policy", async () => {
    const two = users.create(both);
    const ids = await notifier.notify(alert(two));
    expect(ids).toHaveLength(2);
    expect(await queued()).toEqual(ids);
    const job = await queues.notify.getJob(notifyJobId(ids[0]!));
    expect(job?.data).toEqual({ notificationId: ids[0] });
    expect(job?.opts).toMatchObject({ attempts: POLICY.attempts, backoff: { type: "exponential", delay: POLICY.backoffMs } });
  });

  it("a second notify with the same dedup key writes no second row and queues nothing twice", async () => {
    const two = users.create(both);
    const first = await notifier.notify(alert(two, "same"));
    const second = await notifier.notify({ ...alert(two, "same"), payload: { symbol: "SBIN", price: 999 } });
    expect(second).toEqual(first);
    expect(rows()).toHaveLength(2);
    expect(JSON.parse(rows()[0]!.payload)).toEqual({ symbol: "SBIN", price: 815.4 });
    expect(await queued()).toEqual(first);
    expect(await queues.notify.count()).toBe(2);
  });

  it("rows recorded inside a caller's transaction roll back with it, and nothing is queued", async () => {
    const two = users.create(both);
    let ids: number[] = [];
    expect(() =>
      db.transaction(() => {
        ids = notifier.record(alert(two));
        expect(rows()).toHaveLength(2);
        throw new Error("the caller's work failed");
      })(),
    ).toThrow("the caller's work failed");
    expect(ids).toHaveLength(2);
    expect(rows()).toEqual([]);
    expect(await queued()).toEqual([]);
  });

  it("queue refuses to run before the commit; after it the rows are queued", async () => {
    const two = users.create(both);
    const ids = db.transaction(() => {
      const recorded = notifier.record(alert(two));
      expect(() => notifier.queue(recorded)).toThrow(QueuedBeforeCommitError);
      expect(() => notifier.notify(alert(two, "inner"))).toThrow(QueuedBeforeCommitError);
      return recorded;
    })();
    expect(await queued()).toEqual([]);
    // notify() inside the transaction wrote nothing either.
    expect(rows().map((r) => r.dedupKey)).toEqual(["alert:1:telegram", "alert:1:email"]);
    await notifier.queue(ids);
    expect(await queued()).toEqual(ids);
  });

  it("queuing rows again (the sweeper) adds no second job for a row still queued", async () => {
    const two = users.create(both);
    const ids = await notifier.notify(alert(two));
    await notifier.queue(ids);
    await notifier.queue([]);
    expect(await queues.notify.count()).toBe(2);
  });
});
