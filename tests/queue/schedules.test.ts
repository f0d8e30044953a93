import { defaultRepeatStrategy } from "bullmq";
import { CronExpressionParser } from "cron-parser";
import { describe, expect, it } from "vitest";
import { isSessionOpen, nseCalendar, sessionOn, type ExchangeDay, type HolidaySet, type SpecialSession } from "../../src/market/calendar.js";
import { jobSchedules } from "../../jobs/index.js";
import { MARKET_TZ, pollSchedule, type JobSchedule } from "../../src/queue/schedules.js";

/** An instant given as IST wall-clock time ("2026-11-08T18:00:00"). */
const ist = (s: string) => Date.parse(`${s}+05:30`);
const MIN = 60_000;

type Repeat = JobSchedule["repeat"];

/**
 * When BullMQ 6 runs a job scheduler, fire after fire, after `from` and before `to`. A
 * pattern: its defaultRepeatStrategy's arithmetic (cron-parser with the scheduler's tz, each
 * next time computed from the previous one). An `every`: registered at `from`, it fires at
 * once and then every `every` ms after that (its addJobScheduler script), not aligned to
 * the clock.
 */
function fireTimes(repeat: Repeat, from: number, to: number): number[] {
  const out: number[] = [];
  if ("every" in repeat) {
    for (let t = from; t < to; t += repeat.every) out.push(t);
    return out;
  }
  for (let at = nextCron(repeat, from); at < to; at = nextCron(repeat, at)) out.push(at);
  return out;
}

const nextCron = (repeat: { pattern: string; tz: string }, after: number) =>
  CronExpressionParser.parse(repeat.pattern, { tz: repeat.tz, currentDate: new Date(after) })
    .next()
    .getTime();

/** Fire times inside [start, end), starting the search a moment before the start. */
const firesDuring = (repeat: Repeat, start: number, end: number) => fireTimes(repeat, start - 1, end);

const gaps = (times: readonly number[]) => times.slice(1).map((t, i) => t - times[i]!);

const schedule = (id: string, upstox = true) => {
  const s = jobSchedules({ pollIntervalSeconds: 15, backupCron: "0 2 * * *", upstox }).find((j) => j.id === id);
  if (!s) throw new Error(`no schedule ${id}`);
  return s;
};

/** Diwali 2026 falls on Sunday 8 November: Muhurat trading 18:00-19:15 IST. */
const MUHURAT = { date: "2026-11-08", start: ist("2026-11-08T18:00:00"), end: ist("2026-11-08T19:15:00") };
const UPSTOX_DAYS: ExchangeDay[] = [
  {
    date: MUHURAT.date,
    closedExchanges: [],
    openExchanges: [
      { exchange: "NSE", start: MUHURAT.start, end: MUHURAT.end },
      { exchange: "BSE", start: MUHURAT.start, end: MUHURAT.end },
    ],
  },
  // A Monday holiday for NSE (Guru Nanak Jayanti is Tuesday 24 Nov 2026; a Monday stands in).
  {
    date: "2026-11-23",
    closedExchanges: ["NSE", "BSE", "NFO"],
    openExchanges: [{ exchange: "MCX", start: ist("2026-11-23T17:00:00"), end: ist("2026-11-23T23:30:00") }],
  },
];
const CAL = nseCalendar(UPSTOX_DAYS);

describe("the fire-time helper", () => {
  it("agrees with BullMQ's own repeat strategy for every cron schedule", () => {
    const all = jobSchedules({ pollIntervalSeconds: 15, backupCron: "0 2 * * *", upstox: true }).filter((s) => "pattern" in s.repeat);
    expect(all.length).toBeGreaterThan(8);
    for (const s of all)
      for (const from of [ist("2026-11-08T17:59:59.500"), ist("2026-11-08T18:00:00"), ist("2026-11-09T09:14:59"), ist("2026-11-09T15:44:00")]) {
        const ours = nextCron(s.repeat as { pattern: string; tz: string }, from);
        expect(ours, s.id).toBeGreaterThan(from);
        expect(ours, s.id).toBe(defaultRepeatStrategy(from, s.repeat));
      }
  });
});

describe("pollSchedule with the default POLL_INTERVAL (15 s)", () => {
  const poll = pollSchedule(15);

  it("is a seconds cron in IST with no hour or weekday restriction", () => {
    expect(poll).toEqual({ pattern: "*/15 * * * * *", tz: MARKET_TZ });
    expect(schedule("poll-quotes").repeat).toEqual(poll);
    // The same whether or not Upstox is configured (the simulator polls too).
    expect(schedule("poll-quotes", false).repeat).toEqual(poll);
  });

  it("polls every 15 s throughout a Sunday 18:00-19:15 IST Muhurat session, from its first second", () => {
    const fires = firesDuring(poll, MUHURAT.start, MUHURAT.end);
    expect(fires[0]).toBe(MUHURAT.start);
    expect(fires.at(-1)).toBe(MUHURAT.end - 15_000);
    expect(fires).toHaveLength(75 * 4);
    expect(new Set(gaps(fires))).toEqual(new Set([15_000]));
    // Every one of them finds the session open, so every one of them fetches quotes.
    expect(fires.every((t) => isSessionOpen(new Date(t), CAL.holidays, CAL.special))).toBe(true);
    // And the poll after the session finds it closed.
    expect(isSessionOpen(new Date(MUHURAT.end), CAL.holidays, CAL.special)).toBe(false);
  });

  it("fires across the whole Sunday, with no gap longer than the interval", () => {
    const day = firesDuring(poll, ist("2026-11-08T00:00:00"), ist("2026-11-09T00:00:00"));
    expect(day).toHaveLength(24 * 60 * 4);
    expect(Math.max(...gaps(day))).toBe(15_000);
  });

  it("polls a Monday 09:15 open at 09:15:00 and every 15 s after it", () => {
    const fires = firesDuring(poll, ist("2026-11-09T09:15:00"), ist("2026-11-09T09:20:00"));
    expect(fires.slice(0, 3)).toEqual([ist("2026-11-09T09:15:00"), ist("2026-11-09T09:15:15"), ist("2026-11-09T09:15:30")]);
    expect(fires).toHaveLength(20);
    expect(fires.every((t) => isSessionOpen(new Date(t), CAL.holidays, CAL.special))).toBe(true);
    // The last poll before the open found it closed.
    const before = fireTimes(poll, ist("2026-11-09T09:14:30"), ist("2026-11-09T09:15:00"));
    expect(before).toEqual([ist("2026-11-09T09:14:45")]);
    expect(isSessionOpen(new Date(before[0]!), CAL.holidays, CAL.special)).toBe(false);
  });

  it("polls at the very end of a normal session and not after it", () => {
    const close = ist("2026-11-09T15:30:00");
    const lastOpen = fireTimes(poll, close - 15_000 - 1, close + 60_000).filter((t) => isSessionOpen(new Date(t), CAL.holidays, CAL.special));
    expect(lastOpen).toEqual([close - 15_000]);
  });

  it("every interval that divides 60 is a cron aligned to the minute", () => {
    for (const n of [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30]) {
      const repeat = pollSchedule(n);
      expect(repeat).toEqual({ pattern: `*/${n} * * * * *`, tz: MARKET_TZ });
      const fires = firesDuring(repeat, ist("2026-11-08T18:00:00"), ist("2026-11-08T18:01:00"));
      expect(fires[0]).toBe(MUHURAT.start);
      expect(fires).toHaveLength(60 / n);
    }
  });

  it("falls back to a fixed interval when the interval does not divide 60", () => {
    expect(pollSchedule(7)).toEqual({ every: 7000 });
    expect(pollSchedule(45)).toEqual({ every: 45_000 });
    expect(pollSchedule(60)).toEqual({ every: 60_000 });
    expect(pollSchedule(90)).toEqual({ every: 90_000 });
    // Still at any hour: registered at any moment before it, a 7 s poll covers the Muhurat
    // session with no gap over 7 s.
    const fires = fireTimes(pollSchedule(7), ist("2026-11-08T11:22:33.456"), MUHURAT.end).filter((t) => t >= MUHURAT.start);
    expect(fires[0]! - MUHURAT.start).toBeLessThan(7000);
    expect(MUHURAT.end - fires.at(-1)!).toBeLessThanOrEqual(7000);
    expect(new Set(gaps(fires))).toEqual(new Set([7000]));
  });
});

describe("jobSchedules", () => {
  it("lists every scheduler once, each with a repeat BullMQ accepts", () => {
    const all = jobSchedules({ pollIntervalSeconds: 15, backupCron: "0 2 * * *", upstox: true });
    expect(new Set(all.map((s) => s.id)).size).toBe(all.length);
    for (const s of all) {
      if ("every" in s.repeat) expect(s.repeat.every).toBeGreaterThan(0);
      else {
        expect(s.repeat.tz).toBe(MARKET_TZ);
        expect(() => CronExpressionParser.parse((s.repeat as { pattern: string }).pattern, { tz: MARKET_TZ, strict: false })).not.toThrow();
      }
    }
    expect(all.map((s) => s.id).sort()).toEqual(
      [
        "backup",
        "digest-close",
        "digest-open",
        "fetch-candles",
        "holding-moves",
        "order-sync",
        "poll-quotes",
        "prune-candles",
        "refresh-bar-history",
        "refresh-calendar",
        "refresh-instruments",
        "sweep-outbox",
        "token-reminder",
      ].sort(),
    );
    // Without Upstox there are no portfolios, orders, logins or holiday list to schedule.
    expect(
      jobSchedules({ pollIntervalSeconds: 15, backupCron: "0 2 * * *", upstox: false })
        .map((s) => s.id)
        .sort(),
    ).toEqual(["backup", "fetch-candles", "poll-quotes", "prune-candles", "sweep-outbox"].sort());
  });

  it("syncs the order book every 30 s and checks holding moves every 5 min during an evening session", () => {
    const orders = firesDuring(schedule("order-sync").repeat, MUHURAT.start, MUHURAT.end);
    expect(orders[0]).toBe(MUHURAT.start);
    expect(orders).toHaveLength(75 * 2);
    expect(new Set(gaps(orders))).toEqual(new Set([30_000]));
    const moves = firesDuring(schedule("holding-moves").repeat, MUHURAT.start, MUHURAT.end);
    expect(moves[0]).toBe(MUHURAT.start);
    expect(moves).toHaveLength(15);
    expect(new Set(gaps(moves))).toEqual(new Set([5 * MIN]));
    for (const t of [...orders, ...moves]) expect(isSessionOpen(new Date(t), CAL.holidays, CAL.special)).toBe(true);
  });

  it("fetches each closed one-minute candle of an evening session, 5 s into the next minute", () => {
    const fires = firesDuring(schedule("fetch-candles").repeat, MUHURAT.start, MUHURAT.end + MIN);
    expect(fires[0]).toBe(MUHURAT.start + 5000);
    expect(fires).toHaveLength(76);
    // The candle that closed before each fire: every minute of the session is fetched once.
    const minutes = fires.map((t) => Math.floor(t / MIN) * MIN - MIN).filter((m) => isSessionOpen(new Date(m), CAL.holidays, CAL.special));
    expect(minutes).toHaveLength(75);
    expect(minutes[0]).toBe(MUHURAT.start);
  });

  it("runs the daily jobs every day of the week at their IST times (the jobs decide whether the day trades)", () => {
    const week = [ist("2026-11-07T00:00:00"), ist("2026-11-14T00:00:00")] as const; // Saturday to Saturday
    const daily: Record<string, string> = {
      "token-reminder": "08:30",
      "digest-open": "08:45",
      "digest-close": "15:45",
      "refresh-calendar": "06:00",
      // After every session of the day, a Muhurat one (18:00-19:15) included.
      "refresh-bar-history": "19:45",
    };
    for (const [id, hhmm] of Object.entries(daily)) {
      const fires = fireTimes(schedule(id).repeat, week[0] - 1, week[1]);
      expect(fires, id).toHaveLength(7);
      for (const t of fires) expect(new Date(t + 330 * MIN).toISOString().slice(11, 16), id).toBe(hhmm);
    }
    // The Sunday Muhurat day has its reminder and morning digest before the session.
    expect(fireTimes(schedule("token-reminder").repeat, ist("2026-11-08T00:00:00"), MUHURAT.start)).toEqual([ist("2026-11-08T08:30:00")]);
    expect(fireTimes(schedule("digest-open").repeat, ist("2026-11-08T00:00:00"), MUHURAT.start)).toEqual([ist("2026-11-08T08:45:00")]);
    expect(schedule("digest-open").data).toEqual({ when: "open" });
    expect(schedule("digest-close").data).toEqual({ when: "close" });
  });
});

describe("sessionOn", () => {
  const NONE: HolidaySet = new Set();
  const NO_SPECIAL = new Map<string, SpecialSession>();

  it("is 09:15-15:30 IST on a normal weekday, at any hour of that IST day", () => {
    const want = { start: ist("2026-11-09T09:15:00"), end: ist("2026-11-09T15:30:00") };
    for (const at of ["2026-11-09T00:00:00", "2026-11-09T08:00:00", "2026-11-09T12:00:00", "2026-11-09T23:59:59"])
      expect(sessionOn(new Date(ist(at)), NONE, NO_SPECIAL), at).toEqual(want);
  });

  it("is undefined on an NSE holiday (a Monday), even when another exchange trades that evening", () => {
    expect(CAL.holidays.has("2026-11-23")).toBe(true);
    expect(sessionOn(new Date(ist("2026-11-23T11:00:00")), CAL.holidays, CAL.special)).toBeUndefined();
    expect(isSessionOpen(new Date(ist("2026-11-23T11:00:00")), CAL.holidays, CAL.special)).toBe(false);
    expect(isSessionOpen(new Date(ist("2026-11-23T18:00:00")), CAL.holidays, CAL.special)).toBe(false);
  });

  it("is undefined on a weekend with no special session", () => {
    expect(sessionOn(new Date(ist("2026-11-14T11:00:00")), CAL.holidays, CAL.special)).toBeUndefined(); // Saturday
    expect(sessionOn(new Date(ist("2026-11-15T18:30:00")), CAL.holidays, CAL.special)).toBeUndefined(); // Sunday
  });

  it("is the special session's own hours on a Sunday evening Muhurat day, and only then open", () => {
    const want = { start: MUHURAT.start, end: MUHURAT.end };
    for (const at of ["2026-11-08T00:00:00", "2026-11-08T08:45:00", "2026-11-08T18:30:00", "2026-11-08T23:00:00"])
      expect(sessionOn(new Date(ist(at)), CAL.holidays, CAL.special), at).toEqual(want);
    expect(isSessionOpen(new Date(ist("2026-11-08T17:59:59")), CAL.holidays, CAL.special)).toBe(false);
    expect(isSessionOpen(new Date(MUHURAT.start), CAL.holidays, CAL.special)).toBe(true);
    expect(isSessionOpen(new Date(MUHURAT.end - 1), CAL.holidays, CAL.special)).toBe(true);
    expect(isSessionOpen(new Date(MUHURAT.end), CAL.holidays, CAL.special)).toBe(false);
    // Without the Upstox list, that Sunday is just a weekend.
    expect(sessionOn(new Date(ist("2026-11-08T18:30:00")), NONE, NO_SPECIAL)).toBeUndefined();
  });

  it("a special session on a weekday replaces the normal hours (evening Muhurat on a trading day)", () => {
    const special = nseCalendar([
      {
        date: "2026-11-10",
        closedExchanges: [],
        openExchanges: [{ exchange: "NSE", start: ist("2026-11-10T18:00:00"), end: ist("2026-11-10T19:00:00") }],
      },
    ]);
    expect(sessionOn(new Date(ist("2026-11-10T10:00:00")), special.holidays, special.special)).toEqual({
      start: ist("2026-11-10T18:00:00"),
      end: ist("2026-11-10T19:00:00"),
    });
    expect(isSessionOpen(new Date(ist("2026-11-10T10:00:00")), special.holidays, special.special)).toBe(false);
    expect(isSessionOpen(new Date(ist("2026-11-10T18:30:00")), special.holidays, special.special)).toBe(true);
  });
});
