import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { istInstant, istParts, isMarketOpen, isTradingDay, nextMarketOpen, nseHolidays, type HolidaySet } from "../../src/market/calendar.js";

const fixture = JSON.parse(readFileSync(new URL("../fakes/upstox/fixtures/market_holidays.json", import.meta.url), "utf8")) as {
  data: { date: string; closed_exchanges?: string[] }[];
};
const HOLIDAYS = nseHolidays(fixture.data);
const NONE: HolidaySet = new Set();

/** An instant given as IST wall-clock time, built from UTC (IST = UTC+05:30). */
function ist(date: string, hh: number, mm: number, ss = 0): Date {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d, hh, mm, ss) - (5 * 60 + 30) * 60_000);
}

describe("istParts / istInstant", () => {
  it("converts UTC instants to IST wall-clock parts, across the IST date line", () => {
    // 20:00 UTC on Sunday the 21st is 01:30 IST on Monday the 22nd.
    expect(istParts(new Date("2024-01-21T20:00:00Z"))).toEqual({ date: "2024-01-22", weekday: 1, minute: 90 });
    expect(istParts(new Date("2024-01-22T03:45:00Z"))).toEqual({ date: "2024-01-22", weekday: 1, minute: 9 * 60 + 15 });
  });

  it("istInstant is the inverse of istParts for a wall-clock time", () => {
    expect(istInstant("2024-01-22", 9 * 60 + 15).toISOString()).toBe("2024-01-22T03:45:00.000Z");
    expect(istInstant("2024-01-22", 0).toISOString()).toBe("2024-01-21T18:30:00.000Z");
    expect(ist("2024-01-22", 15, 30).toISOString()).toBe("2024-01-22T10:00:00.000Z");
  });
});

describe("nseHolidays", () => {
  it("keeps only days on which NSE itself is closed", () => {
    expect(HOLIDAYS.has("2024-01-26")).toBe(true); // Republic Day: every exchange closed
    expect(HOLIDAYS.has("2024-01-20")).toBe(false); // Special DR trading: only MCX, CDS, BCD closed
    expect(HOLIDAYS.has("2024-01-01")).toBe(false); // New Year: nothing closed
    expect([...HOLIDAYS]).toEqual(["2024-01-26"]);
  });

  it("tolerates entries without closed_exchanges", () => {
    expect(nseHolidays([{ date: "2024-03-08" }, { date: "2024-03-25", closed_exchanges: ["NSE", "BSE"] }])).toEqual(new Set(["2024-03-25"]));
  });
});

describe("isMarketOpen on a weekday", () => {
  const monday = "2024-01-22";

  it("opens at 09:15 IST inclusive", () => {
    expect(isMarketOpen(ist(monday, 9, 14, 59), HOLIDAYS)).toBe(false);
    expect(isMarketOpen(ist(monday, 9, 14), HOLIDAYS)).toBe(false);
    expect(isMarketOpen(ist(monday, 9, 15), HOLIDAYS)).toBe(true);
  });

  it("closes at 15:30 IST exclusive", () => {
    expect(isMarketOpen(ist(monday, 15, 29), HOLIDAYS)).toBe(true);
    expect(isMarketOpen(ist(monday, 15, 29, 59), HOLIDAYS)).toBe(true);
    expect(isMarketOpen(ist(monday, 15, 30), HOLIDAYS)).toBe(false);
  });

  it("is closed overnight, whatever the UTC date says", () => {
    expect(isMarketOpen(ist(monday, 0, 30), HOLIDAYS)).toBe(false);
    expect(isMarketOpen(ist(monday, 23, 59), HOLIDAYS)).toBe(false);
    // 09:15 UTC is 14:45 IST: open. 03:00 UTC is 08:30 IST: not yet.
    expect(isMarketOpen(new Date("2024-01-22T09:15:00Z"), HOLIDAYS)).toBe(true);
    expect(isMarketOpen(new Date("2024-01-22T03:00:00Z"), HOLIDAYS)).toBe(false);
  });
});

describe("closed days", () => {
  it("is closed all day on Saturday and Sunday", () => {
    for (const date of ["2024-01-27", "2024-01-28"]) {
      expect(isTradingDay(ist(date, 12, 0), NONE)).toBe(false);
      expect(isMarketOpen(ist(date, 9, 15), NONE)).toBe(false);
      expect(isMarketOpen(ist(date, 12, 0), NONE)).toBe(false);
    }
  });

  it("is closed on an NSE holiday from the Upstox list (Republic Day 2024)", () => {
    expect(isTradingDay(ist("2024-01-26", 12, 0), HOLIDAYS)).toBe(false);
    expect(isMarketOpen(ist("2024-01-26", 12, 0), HOLIDAYS)).toBe(false);
    // The same Friday with no holiday list would be open: it is the list that closes it.
    expect(isMarketOpen(ist("2024-01-26", 12, 0), NONE)).toBe(true);
  });

  it("is open on 2024-01-01, a holiday for no exchange", () => {
    expect(isMarketOpen(ist("2024-01-01", 10, 0), HOLIDAYS)).toBe(true);
  });

  it("uses the IST date for holidays: 20:00 UTC on the 25th is already Republic Day in IST", () => {
    const lateUtc = new Date("2024-01-25T20:00:00Z");
    expect(istParts(lateUtc).date).toBe("2024-01-26");
    expect(isTradingDay(lateUtc, HOLIDAYS)).toBe(false);
    expect(isTradingDay(new Date("2024-01-25T17:00:00Z"), HOLIDAYS)).toBe(true); // 22:30 IST on the 25th
  });
});

describe("nextMarketOpen", () => {
  it("returns the current session's open while the market is open", () => {
    expect(nextMarketOpen(ist("2024-01-22", 11, 0), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
    expect(nextMarketOpen(ist("2024-01-22", 9, 15), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
  });

  it("returns today's open before it", () => {
    expect(nextMarketOpen(ist("2024-01-22", 7, 0), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
    expect(nextMarketOpen(ist("2024-01-22", 0, 5), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
  });

  it("skips to the next day after the close", () => {
    expect(nextMarketOpen(ist("2024-01-22", 15, 30), HOLIDAYS)).toEqual(ist("2024-01-23", 9, 15));
  });

  it("skips the weekend from a Friday evening", () => {
    expect(nextMarketOpen(ist("2024-01-19", 16, 0), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
    expect(nextMarketOpen(ist("2024-01-20", 10, 0), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
    expect(nextMarketOpen(ist("2024-01-21", 23, 59), HOLIDAYS)).toEqual(ist("2024-01-22", 9, 15));
  });

  it("skips a holiday and the weekend after it", () => {
    // Thursday after the close -> Friday the 26th is Republic Day -> weekend -> Monday the 29th.
    expect(nextMarketOpen(ist("2024-01-25", 15, 45), HOLIDAYS)).toEqual(ist("2024-01-29", 9, 15));
    expect(nextMarketOpen(ist("2024-01-26", 9, 0), HOLIDAYS)).toEqual(ist("2024-01-29", 9, 15));
    // Without the holiday list the Friday would be the answer.
    expect(nextMarketOpen(ist("2024-01-25", 15, 45), NONE)).toEqual(ist("2024-01-26", 9, 15));
  });

  it("skips a run of holidays", () => {
    const long = new Set(["2024-01-23", "2024-01-24", "2024-01-25"]);
    expect(nextMarketOpen(ist("2024-01-22", 16, 0), long)).toEqual(ist("2024-01-26", 9, 15));
  });

  it("always returns an instant at or after the one given, and the market is open then", () => {
    for (let h = 0; h < 24 * 9; h += 5) {
      const at = new Date(ist("2024-01-18", 0, 0).getTime() + h * 3600_000 + 7 * 60_000);
      const next = nextMarketOpen(at, HOLIDAYS);
      expect(next.getTime()).toBeGreaterThanOrEqual(isMarketOpen(at, HOLIDAYS) ? 0 : at.getTime());
      expect(isMarketOpen(next, HOLIDAYS)).toBe(true);
      expect(istParts(next).minute).toBe(9 * 60 + 15);
    }
  });

  it("gives up with a clear error when the holiday list closes every day", () => {
    const all = new Set<string>();
    for (let i = 0; i < 60; i++) all.add(istParts(new Date(Date.UTC(2024, 0, 1 + i, 12))).date);
    expect(() => nextMarketOpen(ist("2024-01-01", 8, 0), all)).toThrow(/no trading day in the next 30 days/);
  });
});
