import type { InstrumentRepository } from "../db/repositories/instruments.js";
import type { UpstoxClient } from "../upstox/client.js";

export type InstrumentFile = "NSE" | "BSE" | "MCX" | "complete";

/**
 * Replaces the instruments table's contents for the given exchange files with Upstox's
 * current master: new and changed instruments upserted, ones Upstox dropped (expired or
 * delisted) removed.
 */
export async function refreshInstruments(
  client: UpstoxClient,
  repo: InstrumentRepository,
  files: readonly InstrumentFile[],
): Promise<{ loaded: number; removed: number }> {
  let loaded = 0;
  let removed = 0;
  for (const file of files) {
    const list = await client.downloadInstruments(file);
    // An empty or tiny file is a broken download, not a market with no instruments.
    if (list.length === 0) throw new Error(`instruments file ${file} had no valid records; keeping the current list`);
    const stampedAt = repo.upsertMany(list);
    loaded += list.length;
    const exchanges = file === "complete" ? undefined : [file];
    removed += repo.removeNotUpdatedSince(stampedAt, exchanges);
  }
  return { loaded, removed };
}
