import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { openDatabase } from "../src/db/open.js";
import { AlertRuleRepository } from "../src/db/repositories/alert-rules.js";
import { UserRepository } from "../src/db/repositories/users.js";
import type { Quote } from "../src/market/types.js";
import { seededRandom } from "../src/market/simulator.js";
import { Notifier } from "../src/notify/notifier.js";
import { Outbox } from "../src/notify/outbox.js";
import { createQueues, DEFAULT_DELIVERY } from "../src/queue/queues.js";
import { evaluateQuotes } from "../src/signals/engine.js";
import { RuleBook } from "../src/signals/rule-book.js";
import type { RuleKind } from "../src/signals/rules.js";
import { deletePrefix, TEST_REDIS_URL } from "../tests/support/env.js";
import { type BenchResult, percentile } from "./report.js";

/**
 * Quote batch in hand -> every rule evaluated -> signal and outbox rows committed, for
 * 2,000 instruments and 50,000 rules in a real SQLite file. The limit is half of the
 * shortest poll interval (1 s): a poll must finish well before the next one starts.
 */
export async function benchPipeline(instruments = 2000, ruleCount = 50_000, polls = 60): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "uab-bench-"));
  const db = openDatabase(path.join(dir, "bench.sqlite"));
  // The Notifier's queues: evaluation only records rows (what is measured), nothing is queued.
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = `bench-pipeline-${process.pid}`;
  const queues = createQueues(redis, prefix);
  try {
    let now = Date.parse("2025-01-15T10:00:00+05:30");
    const clock = () => now;
    const users = new UserRepository(db, clock);
    const rules = new AlertRuleRepository(db, clock);
    const notifier = new Notifier({ db, outbox: new Outbox(db, rules, clock), users, queues, delivery: DEFAULT_DELIVERY, clock });
    const book = new RuleBook(rules);
    const rand = seededRandom(7);
    const keys = Array.from({ length: instruments }, (_, i) => `NSE_EQ|INEBENCH${String(i).padStart(4, "0")}`);
    const prices = new Map(keys.map((k) => [k, 100 + rand() * 2000]));
    const kinds: RuleKind[] = ["price_above", "price_below", "cross_up", "cross_down", "change_pct"];
    db.transaction(() => {
      const userIds = Array.from({ length: ruleCount / 10 }, (_, i) => users.create({ telegramId: 10_000 + i, channels: "telegram" }).id);
      for (let i = 0; i < ruleCount; i++) {
        const key = keys[i % instruments]!;
        const p = prices.get(key)!;
        const kind = kinds[i % kinds.length]!;
        // Levels spread ±3 % around the price: some rules fire as prices wander, most stay quiet.
        const params = kind === "change_pct" ? { pct: 1 + rand() * 4 } : { level: Math.round(p * (0.97 + rand() * 0.06) * 20) / 20 };
        rules.create({ userId: userIds[i % userIds.length]!, instrumentKey: key, kind, params, frequency: "every", cooldownSeconds: 60 });
      }
    })();
    book.refresh();

    const times: number[] = [];
    let fired = 0;
    let previous = new Map(prices);
    for (let poll = 0; poll < polls; poll++) {
      now += 5000;
      const batch = new Map<string, Quote>();
      for (const key of keys) {
        const p = previous.get(key)! * (1 + (rand() - 0.5) * 0.004);
        batch.set(key, {
          instrumentKey: key,
          symbol: key.slice(-8),
          lastPrice: Math.round(p * 20) / 20,
          open: p,
          high: p,
          low: p,
          prevClose: prices.get(key)!,
          volume: 1,
          lastTradeAt: now,
        });
      }
      const t0 = performance.now();
      const r = evaluateQuotes(batch, new Map([...previous].map(([k, v]) => [k, v])), { db, book, rules, users, notifier, now, staleAfterMs: 30_000 });
      times.push(performance.now() - t0);
      fired += r.fired.length;
      previous = new Map([...batch].map(([k, q]) => [k, q.lastPrice]));
    }
    const warm = times.slice(5);
    const p50 = percentile(warm, 50);
    const p99 = percentile(warm, 99);
    const rss = process.memoryUsage().rss / 2 ** 20;
    const limit = 500;
    return [
      {
        name: `quote batch -> outbox rows, ${instruments} instruments / ${ruleCount} rules, p50 (${fired} alerts over ${polls} polls)`,
        value: p50,
        unit: "ms",
        limit,
        ratio: p50 / limit,
        target: "<= 1.00",
      },
      { name: "quote batch -> outbox rows, p99", value: p99, unit: "ms", limit, ratio: p99 / limit, target: "<= 1.00" },
      { name: "RSS with 50,000 rules in memory", value: rss, unit: "MB", limit: 1024, ratio: rss / 1024, target: "<= 1.00" },
    ];
  } finally {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    redis.disconnect();
    await deletePrefix(prefix);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
