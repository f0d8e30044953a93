import { Job, type Queue } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { deferredCloseDigestId } from "../../jobs/portfolio-digest.js";
import type { User } from "../../src/db/repositories/users.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const ist = (s: string) => Date.parse(`${s}+05:30`);

/** Diwali 2026 is Sunday 8 November: Muhurat trading 18:00-19:15 IST, NSE's only session that day. */
const MUHURAT = { date: "2026-11-08", start: ist("2026-11-08T18:00:00"), end: ist("2026-11-08T19:15:00") };
/** A Monday on which NSE is closed (MCX trades its evening session). */
const HOLIDAY = "2026-11-23";

interface Scheduled {
  id: string;
  /** The real time the scheduler meant it for (its id ends with it). */
  due: number;
  /** The real time a worker took it. */
  processedOn: number;
  result: Record<string, unknown>;
}

/** Jobs the queue's job scheduler made (not ones a test added), finished, oldest first. */
async function scheduledRuns(queue: Queue, schedulerId = queue.name): Promise<Scheduled[]> {
  const jobs = (await queue.getJobs(["completed"], 0, 200)) as Job[];
  return jobs
    .filter((j) => j.id?.startsWith(`repeat:${schedulerId}:`))
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((j) => ({ id: j.id!, due: Number(j.id!.split(":").at(-1)), processedOn: j.processedOn!, result: j.returnvalue as Record<string, unknown> }));
}

/**
 * Special sessions at any hour and on any day are polled by the real poll scheduler with
 * the default POLL_INTERVAL (15 s): an in-process app and the fake Upstox share a clock
 * that runs in real time from a fixed instant, so BullMQ fires in real time while the jobs
 * see the session's date and hour.
 */
describe("special sessions, polled by the real scheduler at the default interval", () => {
  let f: AppFixture | undefined;
  let offset = 0;
  /** Real time from a fixed instant: BullMQ's timers and Upstox's token expiry both keep going. */
  const clock = () => Date.now() + offset;
  /** Moves the app's and the fake's clock (they share it) to `target`, still running in real time. */
  const travel = (target: number) => void (offset = target - Date.now());

  /** The fake and the app, both on a clock running from `target` in real time; the calendar refreshed. */
  async function boot(target: number): Promise<AppFixture> {
    travel(target);
    f = await startAppFixture({
      clock,
      upstox: true,
      // POLL_INTERVAL unset: the default, 15 s (testConfig would otherwise set an hour).
      env: { INSTRUMENT_FILES: "NSE", POLL_INTERVAL: undefined },
      delivery: { attempts: 2, backoffMs: 50 },
      beforeStart: ({ fake, config }) => {
        fake.addHoliday(MUHURAT.date, {
          description: "Diwali Laxmi Pujan (Muhurat trading)",
          closedExchanges: [],
          openExchanges: ["NSE", "BSE", "NFO"].map((exchange) => ({ exchange, start_time: MUHURAT.start, end_time: MUHURAT.end })),
        });
        fake.addHoliday(HOLIDAY, {
          description: "Test holiday",
          closedExchanges: ["NSE", "BSE", "NFO", "CDS", "BCD", "BFO"],
          openExchanges: [{ exchange: "MCX", start_time: ist(`${HOLIDAY}T17:00:00`), end_time: ist(`${HOLIDAY}T23:30:00`) }],
        });
        expect(config.pollIntervalSeconds).toBe(15);
      },
    });
    const { result } = await runJob<{ holidays: number; specialSessions: number }>(f.services.queues["refresh-calendar"]);
    expect(result.specialSessions).toBeGreaterThanOrEqual(1);
    expect(f.services.calendar.holidaySet().has(HOLIDAY)).toBe(true);
    return f;
  }

  const linkTrader = (a: AppFixture, email: string, issuedAt = clock()): User => a.linkTrader({ email, issuedAt }).user;

  const signals = (a: AppFixture) => a.services.db.prepare("SELECT rule_id, price FROM signals ORDER BY id").all() as Array<{ rule_id: number; price: number }>;

  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it("a Sunday evening Muhurat session is polled every 15 s and a crossing alerts", { timeout: 90_000 }, async () => {
    const a = await boot(ist("2026-11-08T18:30:00"));
    const s = a.services;
    expect(s.marketOpen(new Date(clock()))).toBe(true);
    a.fake.setPrice(RELIANCE, 1440);
    const trader = linkTrader(a, "muhurat@example.com");
    s.watchlists.add(trader.id, RELIANCE);
    const rule = s.rules.create({ userId: trader.id, instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1450 }, frequency: "every" });
    a.fake.clearRequests();

    // Within one interval (plus a little), a scheduled poll fetches the quote.
    const first = await waitUntil(async () => (await scheduledRuns(s.queues["poll-quotes"])).find((r) => r.result.instruments === 1), {
      timeoutMs: 20_000,
      what: "a scheduled poll that fetched quotes",
    });
    expect(first.result).toMatchObject({ instruments: 1, quotes: 1, fired: 0 });
    const calls = a.fake.requestsTo("/v2/market-quote/quotes");
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0]!.query.get("instrument_key")).toBe(RELIANCE);
    expect(calls[0]!.at).toBeGreaterThanOrEqual(MUHURAT.start);
    expect(calls[0]!.at).toBeLessThan(MUHURAT.end);

    // The price crosses the level: the next scheduled poll fires the rule, and the mail goes.
    a.fake.setPrice(RELIANCE, 1455);
    const fired = await waitUntil(async () => (await scheduledRuns(s.queues["poll-quotes"])).find((r) => r.result.fired === 1), {
      timeoutMs: 20_000,
      what: "a scheduled poll that fired the rule",
    });
    expect(fired.result).toMatchObject({ instruments: 1, quotes: 1, fired: 1, stale: 0 });
    expect(signals(a)).toEqual([{ rule_id: rule.id, price: 1455 }]);
    const mails = await a.smtp.waitForMessages(1);
    expect(mails[0]!.parsed.subject).toContain("crossed above ₹1,450.00");

    // From the first one that fetched quotes on, no scheduled poll found the market closed,
    // and they came every 15 s on the dot.
    const runs = await scheduledRuns(s.queues["poll-quotes"]);
    expect(runs.slice(runs.findIndex((r) => r.id === first.id)).filter((r) => "skipped" in r.result)).toEqual([]);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const r of runs) expect(r.due % 15_000).toBe(0);
    expect(new Set(runs.slice(1).map((r, i) => r.due - runs[i]!.due))).toEqual(new Set([15_000]));

    // The order book is synced by its own scheduler (every 30 s) during the evening session too.
    // (A run between the boot and the trader's login finds nobody: the first after it counts.)
    const sync = await waitUntil(async () => (await scheduledRuns(s.queues["order-sync"])).find((r) => "users" in r.result && r.result.users === 1), {
      timeoutMs: 35_000,
      what: "a scheduled order-sync",
    });
    expect(sync.result).toMatchObject({ users: 1 });
    expect(a.fake.requestsTo("/v2/order/retrieve-all").length).toBeGreaterThanOrEqual(1);
    // Holding moves are checked (not skipped) while the evening session is open.
    expect((await runJob<Record<string, unknown>>(s.queues["holding-moves"])).result).toEqual({ alerts: 0 });
  });

  it("the Muhurat Sunday is a trading day for the digest and the login reminder", { timeout: 60_000 }, async () => {
    const a = await boot(ist("2026-11-08T18:10:00"));
    const s = a.services;
    linkTrader(a, "digest@example.com");
    // Logged in on Saturday: that login died at 03:30 on Sunday, the reminder is for them.
    const stale = linkTrader(a, "stale@example.com", ist("2026-11-07T10:00:00"));
    expect(s.upstox!.tokens.state(stale.id).state).toBe("expired");

    expect((await runJob(s.queues["portfolio-digest"], { when: "open" })).result).toEqual({ sent: 1, skipped: 1 });
    expect((await runJob(s.queues["token-reminder"])).result).toEqual({ reminded: 1 });
    const mails = await a.smtp.waitForMessages(2);
    expect(
      mails
        .map((m) => m.envelopeTo)
        .flat()
        .sort(),
    ).toEqual(["digest@example.com", "stale@example.com"]);
  });

  it("the close digest of an evening session waits for its close, once", { timeout: 60_000 }, async () => {
    const a = await boot(ist("2026-11-08T15:45:00"));
    const s = a.services;
    const queue = s.queues["portfolio-digest"];
    const trader = linkTrader(a, "close@example.com");
    const after = MUHURAT.end + 15 * 60_000; // 19:30 IST
    // The 15:45 run comes before the 18:00 session: it puts the digest off, and a second run adds nothing.
    expect((await runJob(queue, { when: "close" })).result).toEqual({ deferredUntil: after });
    expect((await runJob(queue, { when: "close" })).result).toEqual({ deferredUntil: after });
    // (The schedulers' own next runs wait there too: the put-off digest is the one other job.)
    const putOff = async () => (await queue.getJobs(["delayed"])).filter((j) => !j.id?.startsWith("repeat:"));
    const delayed = await putOff();
    expect(delayed.map((j) => j.id)).toEqual([deferredCloseDigestId(MUHURAT.date)]);
    expect(delayed[0]!.data).toEqual({ when: "close" });
    expect(delayed[0]!.timestamp + delayed[0]!.opts.delay!).toBeGreaterThan(Date.now() + (after - clock()) - 5_000);
    expect(delayed[0]!.timestamp + delayed[0]!.opts.delay!).toBeLessThan(Date.now() + (after - clock()) + 5_000);
    expect(a.fake.requestsTo("/v2/portfolio/")).toEqual([]);

    // 19:30: the session has closed; the put-off digest runs (promoted rather than waited for).
    travel(after);
    await delayed[0]!.promote();
    const done = await waitUntil(async () => {
      const j = await Job.fromId(queue, deferredCloseDigestId(MUHURAT.date));
      return j && (await j.getState()) === "completed" ? j : undefined;
    });
    expect(done.returnvalue).toEqual({ sent: 1, skipped: 0 });
    const [mail] = await a.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toContain("Portfolio after close · Sun, 8 Nov 2026");
    // On a normal day 15:45 is after the close: the digest goes at once.
    travel(ist("2026-11-09T15:45:00"));
    s.upstox!.tokens.save(trader.id, a.fake.issueToken({ userId: "UPX-monday" }), "UPX-monday", new Date(ist("2026-11-09T08:00:00")));
    expect((await runJob(queue, { when: "close" })).result).toEqual({ sent: 1, skipped: 0 });
    expect(await putOff()).toEqual([]);
  });

  it("a Monday NSE holiday: scheduled polls run and skip, no quote is fetched, daily jobs skip", { timeout: 90_000 }, async () => {
    const a = await boot(ist(`${HOLIDAY}T11:00:00`));
    const s = a.services;
    expect(s.marketOpen(new Date(clock()))).toBe(false);
    a.fake.setPrice(RELIANCE, 1440);
    const trader = linkTrader(a, "holiday@example.com");
    s.watchlists.add(trader.id, RELIANCE);
    s.rules.create({ userId: trader.id, instrumentKey: RELIANCE, kind: "price_above", params: { level: 1000 } });
    a.fake.clearRequests();

    // Two scheduled polls ran (15 s apart) and both found the market closed.
    const runs = await waitUntil(
      async () => {
        const r = await scheduledRuns(s.queues["poll-quotes"]);
        return r.length >= 2 ? r : undefined;
      },
      { timeoutMs: 40_000, what: "two scheduled polls" },
    );
    for (const r of runs) expect(r.result).toEqual({ skipped: "market closed" });
    expect(a.fake.requestsTo("/v2/market-quote/")).toEqual([]);
    expect(signals(a)).toEqual([]);

    const sync = await waitUntil(async () => (await scheduledRuns(s.queues["order-sync"]))[0], { timeoutMs: 35_000, what: "a scheduled order-sync" });
    expect(sync.result).toEqual({ skipped: "market closed" });
    expect(a.fake.requestsTo("/v2/order/")).toEqual([]);

    expect((await runJob(s.queues["holding-moves"])).result).toEqual({ skipped: "market closed" });
    expect((await runJob(s.queues["portfolio-digest"], { when: "open" })).result).toEqual({ skipped: "not a trading day" });
    expect((await runJob(s.queues["portfolio-digest"], { when: "close" })).result).toEqual({ skipped: "not a trading day" });
    expect((await runJob(s.queues["token-reminder"])).result).toEqual({ skipped: "not a trading day" });
    expect(a.fake.requestsTo("/v2/portfolio/")).toEqual([]);
  });

  it("the Monday after: polls skip until 09:15 and fetch from the open", { timeout: 60_000 }, async () => {
    const open = ist("2026-11-09T09:15:00");
    const a = await boot(open - 10_000);
    const s = a.services;
    const trader = linkTrader(a, "open@example.com");
    s.watchlists.add(trader.id, RELIANCE);
    const watchingFrom = Math.max(open, clock());
    const first = await waitUntil(async () => (await scheduledRuns(s.queues["poll-quotes"])).find((r) => r.result.instruments === 1), {
      timeoutMs: 30_000,
      what: "a scheduled poll after the open",
    });
    expect(first.result).toMatchObject({ quotes: 1 });
    // The first poll after the open fetched; every scheduled poll before it, by the app's clock, found it closed.
    const calls = a.fake.requestsTo("/v2/market-quote/quotes");
    expect(calls[0]!.at).toBeGreaterThanOrEqual(open);
    expect(calls[0]!.at).toBeLessThan(watchingFrom + 15_000 + 3_000);
    const runs = await scheduledRuns(s.queues["poll-quotes"]);
    for (const r of runs.filter((r) => r.processedOn + offset < open)) expect(r.result).toEqual({ skipped: "market closed" });
  });
});
