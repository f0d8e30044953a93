/**
 * IST (UTC+05:30, no DST) calendar helpers for the fake Upstox server.
 * A "day" is represented by the epoch ms of its IST midnight.
 */

export const IST_OFFSET_MS = 330 * 60_000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export interface IstParts {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** 0 = Sunday … 6 = Saturday */
  dow: number;
}

export function istParts(ms: number): IstParts {
  const d = new Date(ms + IST_OFFSET_MS);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
    dow: d.getUTCDay(),
  };
}

/** Epoch ms of an IST wall-clock time. */
export function istMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  return Date.UTC(year, month - 1, day, hour, minute, second) - IST_OFFSET_MS;
}

/** Epoch ms of the IST midnight starting the IST day that contains `ms`. */
export function istDayStart(ms: number): number {
  return Math.floor((ms + IST_OFFSET_MS) / DAY_MS) * DAY_MS - IST_OFFSET_MS;
}

const p2 = (n: number) => String(n).padStart(2, "0");
const p3 = (n: number) => String(n).padStart(3, "0");

/** "YYYY-MM-DD" of the IST day containing `ms`. */
export function istDateString(ms: number): string {
  const p = istParts(ms);
  return `${p.year}-${p2(p.month)}-${p2(p.day)}`;
}

/** Parses a strict, real "YYYY-MM-DD" date into its IST midnight, or null. */
export function parseIstDate(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  const ms = istMs(y, mo, d);
  const back = istParts(ms);
  if (back.year !== y || back.month !== mo || back.day !== d) return null;
  return ms;
}

/** Candle style: "2025-01-12T15:15:00+05:30". */
export function isoIst(ms: number): string {
  const p = istParts(ms);
  return `${p.year}-${p2(p.month)}-${p2(p.day)}T${p2(p.hour)}:${p2(p.minute)}:${p2(p.second)}+05:30`;
}

/** Quote style: "2023-10-19T05:21:51.099+05:30". */
export function isoIstMillis(ms: number): string {
  const p = istParts(ms);
  return `${p.year}-${p2(p.month)}-${p2(p.day)}T${p2(p.hour)}:${p2(p.minute)}:${p2(p.second)}.${p3(p.ms)}+05:30`;
}

/** Order style: "2023-10-19 13:25:13". */
export function orderTs(ms: number): string {
  const p = istParts(ms);
  return `${p.year}-${p2(p.month)}-${p2(p.day)} ${p2(p.hour)}:${p2(p.minute)}:${p2(p.second)}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Trade style (doc sample): "03-Aug-2017 15:03:42". */
export function tradeTs(ms: number): string {
  const p = istParts(ms);
  return `${p2(p.day)}-${MONTHS[p.month - 1] ?? "Jan"}-${p.year} ${p2(p.hour)}:${p2(p.minute)}:${p2(p.second)}`;
}

/** IST midnight `n` calendar months after the IST day `dayStart` (day clamped to month end). */
export function addMonths(dayStart: number, n: number): number {
  const p = istParts(dayStart);
  const total = p.year * 12 + (p.month - 1) + n;
  const y = Math.floor(total / 12);
  const m = (total % 12) + 1;
  const lastDay = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return istMs(y, m, Math.min(p.day, lastDay));
}
