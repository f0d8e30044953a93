import type { MarketCalendar } from "./calendar.js";
import { roundTo, unit, type Instrument } from "./instruments.js";
import { DAY_MS, isoIst, istDayStart, istMs, istParts } from "./time.js";

/** [timestamp (ISO, +05:30), open, high, low, close, volume, open interest] */
export type Candle = [string, number, number, number, number, number, number];
export type CandleUnit = "minutes" | "hours" | "days" | "weeks" | "months";

/** Hard cap on the candles one response carries (the newest ones are kept). */
export const MAX_CANDLES = 10_000;

/** Earliest data the v3 API has per unit (docs: minutes/hours from Jan 2022, days+ from Jan 2000). */
export const DATA_START: Record<CandleUnit, number> = {
  minutes: istMs(2022, 1, 1),
  hours: istMs(2022, 1, 1),
  days: istMs(2000, 1, 1),
  weeks: istMs(2000, 1, 1),
  months: istMs(2000, 1, 1),
};

const TWO_PI = Math.PI * 2;

/** Smooth deterministic price path of an instrument around its base price. */
export function pricePath(inst: Instrument, t: number): number {
  const k = inst.key;
  const days = t / DAY_MS;
  const v =
    inst.basePrice *
    (1 +
      0.06 * Math.sin(TWO_PI * (days / 45) + unit(`${k}#p1`) * TWO_PI) +
      0.02 * Math.sin(TWO_PI * (days / 4.3) + unit(`${k}#p2`) * TWO_PI) +
      0.004 * Math.sin(TWO_PI * (t / (97 * 60_000)) + unit(`${k}#p3`) * TWO_PI));
  return Math.max(inst.tick || 0.05, v);
}

function candle(inst: Instrument, ts: number, from: number, to: number): Candle {
  const tick = inst.tick || 0.05;
  const open = roundTo(pricePath(inst, from), tick);
  const close = roundTo(pricePath(inst, to), tick);
  const wiggle = 0.001 + 0.002 * ((to - from) / DAY_MS > 1 ? 4 : 1);
  const high = roundTo(Math.max(open, close) * (1 + unit(`${inst.key}#h#${ts}`) * wiggle), tick);
  const low = roundTo(Math.min(open, close) * (1 - unit(`${inst.key}#l#${ts}`) * wiggle), tick);
  const minutes = Math.max(1, (to - from) / 60_000);
  const volume = inst.isIndex ? 0 : Math.floor(minutes * (200 + unit(`${inst.key}#v#${ts}`) * 5_000));
  return [isoIst(ts), open, high, low, close, volume, 0];
}

export interface CandleQuery {
  inst: Instrument;
  unit: CandleUnit;
  interval: number;
  /** IST midnight of the first day (inclusive). */
  fromDay: number;
  /** IST midnight after the last day (exclusive). */
  toDayExclusive: number;
  now: number;
  calendar: MarketCalendar;
  cap?: number;
}

/**
 * Synthetic candles, NEWEST FIRST, for market sessions of the instrument's exchange only
 * (weekends/holidays skipped), never starting after `now`.
 */
export function generateCandles(q: CandleQuery): Candle[] {
  const cap = q.cap ?? MAX_CANDLES;
  const out: Candle[] = [];
  const first = Math.max(q.fromDay, DATA_START[q.unit]);
  const exch = q.inst.sessionExchange;
  const lastDay = Math.min(q.toDayExclusive, istDayStart(q.now) + DAY_MS);

  if (q.unit === "minutes" || q.unit === "hours") {
    const step = q.interval * (q.unit === "hours" ? 60 : 1) * 60_000;
    for (let day = lastDay - DAY_MS; day >= first && out.length < cap; day -= DAY_MS) {
      const s = q.calendar.session(day, exch);
      if (!s) continue;
      const dayCandles: Candle[] = [];
      for (let t = s.start_time; t < s.end_time && t <= q.now; t += step) dayCandles.push(candle(q.inst, t, t, Math.min(t + step, s.end_time, q.now)));
      for (let i = dayCandles.length - 1; i >= 0 && out.length < cap; i--) out.push(dayCandles[i]!);
    }
    return out;
  }

  if (q.unit === "days") {
    for (let day = lastDay - DAY_MS; day >= first && out.length < cap; day -= DAY_MS) {
      const s = q.calendar.session(day, exch);
      if (!s || s.start_time > q.now) continue;
      out.push(candle(q.inst, day, s.start_time, Math.min(s.end_time, q.now)));
    }
    return out;
  }

  // weeks (bucket starts Monday) / months (bucket starts on the 1st)
  const bucketStart = (day: number): number => {
    const p = istParts(day);
    if (q.unit === "weeks") return day - ((p.dow + 6) % 7) * DAY_MS;
    return istMs(p.year, p.month, 1);
  };
  const nextBucket = (start: number): number => {
    if (q.unit === "weeks") return start + 7 * DAY_MS;
    const p = istParts(start);
    return p.month === 12 ? istMs(p.year + 1, 1, 1) : istMs(p.year, p.month + 1, 1);
  };
  const prevBucket = (start: number): number => bucketStart(start - DAY_MS);
  for (let b = bucketStart(lastDay - DAY_MS); b >= bucketStart(first) && out.length < cap; b = prevBucket(b)) {
    const end = nextBucket(b);
    let open: number | undefined;
    let close: number | undefined;
    for (let day = Math.max(b, first); day < end && day < lastDay; day += DAY_MS) {
      const s = q.calendar.session(day, exch);
      if (!s || s.start_time > q.now) continue;
      open ??= s.start_time;
      close = Math.min(s.end_time, q.now);
    }
    if (open !== undefined && close !== undefined) out.push(candle(q.inst, b, open, close));
  }
  return out;
}

/** Candles supplied by a test (setCandles), restricted to the range and sorted newest first. */
export function filterCandles(candles: readonly Candle[], fromDay: number, toDayExclusive: number): Candle[] {
  return candles
    .map((c) => [Date.parse(c[0]), c] as const)
    .filter(([t]) => t >= fromDay && t < toDayExclusive)
    .sort((a, b) => b[0] - a[0])
    .map(([, c]) => [...c] as Candle);
}
