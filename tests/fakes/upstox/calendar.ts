import { fixtureData } from "./fixtures.js";
import { DAY_MS, istDateString, istDayStart, istMs, istParts, parseIstDate } from "./time.js";

export interface ExchangeSession {
  exchange: string;
  start_time: number;
  end_time: number;
}

export interface HolidayEntry {
  date: string;
  description: string;
  holiday_type: string;
  closed_exchanges: string[];
  open_exchanges: ExchangeSession[];
}

/** Exchange codes accepted by /v2/market/status/{exchange}. */
export const EXCHANGES = ["NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"] as const;

/** Normal sessions in IST minutes after midnight, in the order of fixtures/market_timings.json. */
const NORMAL_HOURS: ReadonlyArray<readonly [string, number, number]> = [
  ["MCX", 9 * 60, 23 * 60 + 30],
  ["NSE", 9 * 60 + 15, 15 * 60 + 30],
  ["NFO", 9 * 60 + 15, 15 * 60 + 30],
  ["CDS", 9 * 60, 17 * 60],
  ["BSE", 9 * 60 + 15, 15 * 60 + 30],
  ["BCD", 9 * 60, 17 * 60],
  ["BFO", 9 * 60 + 15, 15 * 60 + 30],
];

const EQUITY_SIDE = ["NSE", "NFO", "CDS", "BSE", "BCD", "BFO"];

/** Fixed-date exchange holidays generated for any year (only on weekdays, like the real list). */
const FIXED_HOLIDAYS: ReadonlyArray<{ month: number; day: number; description: string; mcxEvening: boolean }> = [
  { month: 1, day: 26, description: "Republic Day", mcxEvening: false },
  { month: 5, day: 1, description: "Maharashtra Day", mcxEvening: true },
  { month: 8, day: 15, description: "Independence Day", mcxEvening: true },
  { month: 10, day: 2, description: "Mahatma Gandhi Jayanti", mcxEvening: true },
  { month: 12, day: 25, description: "Christmas", mcxEvening: true },
];

/**
 * Trading calendar of the fake: fixtures/market_holidays.json (2024), fixed-date holidays of
 * every year, anything added with addHoliday(), weekends closed, normal sessions otherwise.
 */
export class MarketCalendar {
  private readonly explicit = new Map<string, HolidayEntry>();

  constructor() {
    for (const h of fixtureData<HolidayEntry[]>("market_holidays.json")) this.explicit.set(h.date, h);
  }

  addHoliday(entry: HolidayEntry): void {
    this.explicit.set(entry.date, structuredClone(entry));
  }

  private generated(dayStart: number): HolidayEntry | undefined {
    const p = istParts(dayStart);
    if (p.dow === 0 || p.dow === 6) return undefined;
    const f = FIXED_HOLIDAYS.find((h) => h.month === p.month && h.day === p.day);
    if (!f) return undefined;
    return {
      date: istDateString(dayStart),
      description: f.description,
      holiday_type: "TRADING_HOLIDAY",
      closed_exchanges: f.mcxEvening ? [...EQUITY_SIDE] : [...EQUITY_SIDE, "MCX"],
      open_exchanges: f.mcxEvening ? [{ exchange: "MCX", start_time: dayStart + 17 * 3_600_000, end_time: dayStart + (23 * 60 + 30) * 60_000 }] : [],
    };
  }

  /** The holiday entry of an IST day, if any. */
  holidayOn(dayStart: number): HolidayEntry | undefined {
    const e = this.explicit.get(istDateString(dayStart));
    return e ? structuredClone(e) : this.generated(dayStart);
  }

  /** What GET /v2/market/holidays lists: explicit entries plus the generated ones of `year`. */
  holidaysForYear(year: number): HolidayEntry[] {
    const byDate = new Map<string, HolidayEntry>();
    for (const h of FIXED_HOLIDAYS) {
      const g = this.generated(istMs(year, h.month, h.day));
      if (g) byDate.set(g.date, g);
    }
    for (const [date, e] of this.explicit) byDate.set(date, structuredClone(e));
    return [...byDate.values()].sort((a, b) => a.date.localeCompare(b.date));
  }

  /** Sessions of an IST day (empty when everything is closed). */
  timings(dayStart: number): ExchangeSession[] {
    const h = this.holidayOn(dayStart);
    if (h) return h.open_exchanges.map((s) => ({ ...s }));
    const dow = istParts(dayStart).dow;
    if (dow === 0 || dow === 6) return [];
    return NORMAL_HOURS.map(([exchange, a, b]) => ({ exchange, start_time: dayStart + a * 60_000, end_time: dayStart + b * 60_000 }));
  }

  session(dayStart: number, exchange: string): ExchangeSession | undefined {
    return this.timings(dayStart).find((s) => s.exchange === exchange);
  }

  /** Latest session of `exchange` that started at or before `now` (searching back ~3 weeks). */
  lastSessionAtOrBefore(now: number, exchange: string): ExchangeSession | undefined {
    let day = istDayStart(now);
    for (let i = 0; i < 21; i++, day -= DAY_MS) {
      const s = this.session(day, exchange);
      if (s && s.start_time <= now) return s;
    }
    return undefined;
  }

  static parseDate(s: string): number | null {
    return parseIstDate(s);
  }
}
