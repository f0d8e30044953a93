/** IST wall-clock times and trading dates as the bot shows them. India has no daylight saving. */
import { istParts } from "../market/calendar.js";

/** "2025-01-06 09:30:07": an instant (epoch ms) as IST date and time to the second. */
export function formatIstTime(epochMs: number): string {
  const { date, minute } = istParts(new Date(epochMs));
  const ss = String(Math.floor((epochMs % 60_000) / 1000)).padStart(2, "0");
  return `${date} ${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}:${ss}`;
}

/** "2025-01-06 09:30": IST date and time to the minute. */
export function formatIstMinute(epochMs: number): string {
  return formatIstTime(epochMs).slice(0, 16);
}

/** "09:30": the IST time of day. */
export function formatIstClock(epochMs: number): string {
  return formatIstTime(epochMs).slice(11, 16);
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A trading date: "2025-01-06" → "Mon, 6 Jan 2025"; anything else is shown as given. */
export function formatDate(d: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  if (!m) return d;
  const t = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (t.toISOString().slice(0, 10) !== d) return d;
  return `${WEEKDAYS[t.getUTCDay()]}, ${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()}`;
}
