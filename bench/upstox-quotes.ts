import { performance } from "node:perf_hooks";
import { request } from "undici";
import { createLogger } from "../src/log/logger.js";
import { MAX_KEYS_PER_QUOTE_CALL, parseFullQuotes, UpstoxClient } from "../src/upstox/client.js";
import { FakeUpstox } from "../tests/fakes/upstox/index.js";
import { type BenchResult, percentile } from "./report.js";

/**
 * Quote batching and parsing against the fake Upstox server over real HTTP:
 * - calls made for N instruments against the ideal ceil(N/500);
 * - time to validate and re-key one 500-key full-quote response.
 */
export async function benchUpstoxQuotes(n = 5000): Promise<BenchResult[]> {
  const log = createLogger({ level: "silent", format: "json" });
  const fake = await FakeUpstox.start({ instruments: n, enforceRateLimits: false });
  const client = new UpstoxClient({ apiBase: fake.apiBase, hftBase: fake.hftBase, assetsBase: fake.apiBase, log });
  try {
    const session = { userId: 1, accessToken: fake.issueToken() };
    const keys = fake.instrumentKeys().slice(0, n);
    fake.clearRequests();
    const quotes = await client.getFullQuotes(session, keys);
    const calls = fake.requestsTo("/v2/market-quote/quotes").length;
    const ideal = Math.ceil(keys.length / MAX_KEYS_PER_QUOTE_CALL);

    // One real 500-key response body, parsed repeatedly: JSON decode + validation + re-keying.
    const batch = keys.slice(0, MAX_KEYS_PER_QUOTE_CALL);
    const res = await request(`${fake.apiBase}/v2/market-quote/quotes?instrument_key=${batch.map(encodeURIComponent).join(",")}`, {
      headers: { authorization: `Bearer ${session.accessToken}`, accept: "application/json" },
    });
    const body = await res.body.text();
    const times: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      const parsed = parseFullQuotes((JSON.parse(body) as { data: unknown }).data, log);
      times.push(performance.now() - t0);
      if (parsed.size !== batch.length) throw new Error(`parsed ${parsed.size} of ${batch.length}`);
    }
    const p50 = percentile(times.slice(10), 50);
    const p99 = percentile(times.slice(10), 99);
    // No goal of its own: parsing is part of a poll, whose whole budget is the pipeline's.
    return [
      {
        name: `quote calls for ${keys.length} instruments, got ${quotes.size} quotes (ideal ceil(N/500))`,
        value: calls,
        unit: "calls",
        goal: ideal,
        better: "lower",
      },
      { name: "parse one 500-key full-quote response, p50", value: p50, unit: "ms", better: "lower" },
      { name: "parse one 500-key full-quote response, p99", value: p99, unit: "ms", better: "lower" },
    ];
  } finally {
    await client.close();
    await fake.close();
  }
}
