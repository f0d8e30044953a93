/**
 * The NSE cash-market calendar in IST, as pure functions of a Date. India has no daylight
 * saving, so IST is a fixed +05:30 and needs no time-zone database.
 */

export const IST_OFFSET_MS = 330 * 60_000;
export const MARKET_OPEN_MINUTE = 9 * 60 + 15;
export const MARKET_CLOSE_MINUTE = 15 * 60 + 30;

export interface IstParts {
  /** YYYY-MM-DD in IST. */
  date: string;
  /** 0 = Sunday … 6 = Saturday, in IST. */
  weekday: number;
  /** Minutes since IST midnight. */
  minute: number;
}

export function istParts(at: Date): IstParts {
  const ist = new Date(at.getTime() + IST_OFFSET_MS);
  return {
    date: ist.toISOString().slice(0, 10),
    weekday: ist.getUTCDay(),
    minute: ist.getUTCHours() * 60 + ist.getUTCMinutes(),
  };
}

/** The instant of an IST wall-clock time on an IST date. */
export function istInstant(date: string, minute: number): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - IST_OFFSET_MS + minute * 60_000);
}

/** Dates (YYYY-MM-DD) on which NSE is closed for trading, e.g. from the Upstox holidays API. */
export type HolidaySet = ReadonlySet<string>;

export function isTradingDay(at: Date, holidays: HolidaySet): boolean {
  const { date, weekday } = istParts(at);
  return weekday !== 0 && weekday !== 6 && !holidays.has(date);
}

/** True between 09:15 (inclusive) and 15:30 (exclusive) IST on a trading day. */
export function isMarketOpen(at: Date, holidays: HolidaySet): boolean {
  if (!isTradingDay(at, holidays)) return false;
  const { minute } = istParts(at);
  return minute >= MARKET_OPEN_MINUTE && minute < MARKET_CLOSE_MINUTE;
}

/** The next session open at or after `at` (the current session's open if it is open now). */
export function nextMarketOpen(at: Date, holidays: HolidaySet): Date {
  if (isMarketOpen(at, holidays)) return istInstant(istParts(at).date, MARKET_OPEN_MINUTE);
  let day = at;
  for (let i = 0; i < 30; i++) {
    const { date } = istParts(day);
    const open = istInstant(date, MARKET_OPEN_MINUTE);
    if (open.getTime() >= at.getTime() && isTradingDay(open, holidays)) return open;
    day = new Date(istInstant(date, 0).getTime() + 24 * 3600_000);
  }
  throw new Error("no trading day in the next 30 days: check the holiday list");
}

interface HolidayEntry {
  date: string;
  closed_exchanges?: readonly string[];
}

/** NSE holidays from the Upstox holidays payload: only days where NSE itself is closed. */
export function nseHolidays(entries: readonly HolidayEntry[]): Set<string> {
  return new Set(entries.filter((e) => e.closed_exchanges?.includes("NSE")).map((e) => e.date));
}

/** A day whose NSE session differs from 09:15–15:30: a weekend special session, muhurat trading. */
export interface SpecialSession {
  date: string;
  start: number;
  end: number;
}

export interface ExchangeDay {
  date: string;
  closedExchanges: readonly string[];
  openExchanges: readonly { exchange: string; start: number; end: number }[];
}

/**
 * Reads Upstox's holiday list for NSE: a day with NSE among the closed exchanges is a
 * holiday; a day listing NSE among the open ones runs exactly those hours (a Saturday
 * special session, muhurat trading), whatever the weekday.
 */
export function nseCalendar(days: readonly ExchangeDay[]): { holidays: Set<string>; special: Map<string, SpecialSession> } {
  const holidays = new Set<string>();
  const special = new Map<string, SpecialSession>();
  for (const d of days) {
    const open = d.openExchanges.find((e) => e.exchange === "NSE");
    if (open) special.set(d.date, { date: d.date, start: open.start, end: open.end });
    else if (d.closedExchanges.includes("NSE")) holidays.add(d.date);
  }
  return { holidays, special };
}

/** Like isMarketOpen, but a special session's own hours replace the normal ones on its day. */
export function isSessionOpen(at: Date, holidays: HolidaySet, special: ReadonlyMap<string, SpecialSession>): boolean {
  const s = special.get(istParts(at).date);
  if (s) return at.getTime() >= s.start && at.getTime() < s.end;
  return isMarketOpen(at, holidays);
}

/**
 * The NSE session on the IST day containing `at`, as instants: a special session's own
 * hours on its day, else 09:15–15:30 on a trading day; undefined on a holiday or weekend.
 */
export function sessionOn(at: Date, holidays: HolidaySet, special: ReadonlyMap<string, SpecialSession>): { start: number; end: number } | undefined {
  const { date } = istParts(at);
  const s = special.get(date);
  if (s) return { start: s.start, end: s.end };
  if (!isTradingDay(at, holidays)) return undefined;
  return { start: istInstant(date, MARKET_OPEN_MINUTE).getTime(), end: istInstant(date, MARKET_CLOSE_MINUTE).getTime() };
}
