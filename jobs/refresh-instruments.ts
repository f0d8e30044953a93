import type { Job } from "bullmq";
import { refreshInstruments } from "../src/market/instruments-master.js";
import type { Services } from "../src/services.js";

/** Daily: reloads Upstox's instruments master (published around 06:00 IST) into SQLite. */
export async function refreshInstrumentsJob(_job: Job, s: Services): Promise<{ loaded: number; removed: number } | { skipped: string }> {
  if (!s.upstox) return { skipped: "simulator mode: no Upstox instruments to load" };
  const result = await refreshInstruments(s.upstox.client, s.instruments, s.config.upstox.instrumentFiles);
  s.log.info({ ...result, files: s.config.upstox.instrumentFiles }, "instruments master refreshed");
  return result;
}
