import type { Job } from "bullmq";
import type { Services } from "../src/services.js";

/** Daily (and at start-up): Upstox's exchange holidays and special sessions into the shared calendar. */
export async function refreshCalendarJob(_job: Job, s: Services): Promise<{ holidays: number; specialSessions: number } | { skipped: string }> {
  if (!s.upstox) return { skipped: "simulator mode: no Upstox holiday list" };
  const days = await s.upstox.client.getHolidays();
  const known = await s.calendar.store(days);
  s.log.info(known, "NSE holidays refreshed");
  return known;
}
