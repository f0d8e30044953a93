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
import { checkpointDue } from "../jobs/poll-quotes.js";
import { RuleBook } from "../src/signals/rule-book.js";
import type { Frequency, RuleKind } from "../src/signals/rules.js";
import { deletePrefix, TEST_REDIS_URL } from "../tests/support/env.js";
import { type BenchResult, percentile } from "./report.js";

/** Issue 11: quote batch received -> outbox rows written, 2,000 instruments × 50,000 rules, p99. */
const GOAL_P99_MS = 20;
const POLL_MS = 5000;
/** Polls of the first minute, not measured. */
const WARM_UP_POLLS = 12;
const QUIET_POLLS = 40;

interface Run {
  rules: number;
  p50: number;
  p99: number;
  alerts: number;
  polls: number;
  /** p50 of polls where no price moved: what the rule count alone costs. */
  quietP50: number;
  /** The most WAL pages between two of the poll's checkpoints (SQLite checkpoints inside a commit past 1,000). */
  walPages: number;
}

/**
 * Quote batch in hand -> the price rules evaluated -> signal and outbox rows committed, on
 * the production path (RuleBook, evaluateQuotes, Notifier, a real SQLite file). A busy
 * session: alert levels within ±5 % of the opening price (change_pct 1-5 %), every
 * instrument moving up to ±0.05 % a 5 s poll (about 2 % over a session) with now and then a
 * jump of up to 1.5 %, and rules a mix of once (they finish when they fire), every with a
 * 60 s cooldown, and once a bar, so some fire every poll (the figure's name says how many).
 * The first poll fires every rule already beyond its level, and the first minute warms the
 * JIT up: the figures are the steady state after it. The goal is on 50,000 rules; 10,000
 * and 200,000 show how the cost grows: with what moved and what fired, not with the number
 * of rules.
 */
export async function benchPipeline(instruments = 2000, ruleCounts = [10_000, 50_000, 200_000], polls = 252): Promise<BenchResult[]> {
  const runs: Run[] = [];
  for (const n of ruleCounts) runs.push(await runOnce(instruments, n, polls));
  const results: BenchResult[] = [];
  for (const r of runs) {
    const label = `quote batch -> outbox rows, ${instruments.toLocaleString("en-US")} instruments × ${r.rules.toLocaleString("en-US")} rules`;
    const what = `${r.alerts.toLocaleString("en-US")} alerts in ${r.polls} polls after the first minute`;
    if (r.rules === 50_000) {
      results.push({ name: `${label}, p99 (${what})`, value: r.p99, unit: "ms", goal: GOAL_P99_MS, better: "lower" });
      results.push({ name: `${label}, p50`, value: r.p50, unit: "ms", better: "lower" });
      results.push({
        name: "same, most WAL pages between the poll's checkpoints (every 20 s; SQLite's own, inside a commit, past 1,000)",
        value: r.walPages,
        unit: "pages",
        better: "lower",
      });
    } else results.push({ name: `${label}, p99 (${what})`, value: r.p99, unit: "ms", better: "lower" });
  }
  // Nothing crossed, nothing fired: flat from 10,000 to 200,000 rules when the cost follows what moved.
  for (const r of runs) {
    results.push({
      name: `same, ${r.rules.toLocaleString("en-US")} rules, prices unchanged (nothing crossed), p50`,
      value: r.quietP50,
      unit: "ms",
      better: "lower",
    });
  }
  return results;
}

async function runOnce(instruments: number, ruleCount: number, polls: number): Promise<Run> {
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
    const opening = new Map(keys.map((k) => [k, Math.round((100 + rand() * 2000) * 20) / 20]));
    const kinds: RuleKind[] = ["price_above", "price_below", "cross_up", "cross_down", "change_pct"];
    const frequencies: Frequency[] = ["once", "once", "every", "every", "once_per_bar"];
    const spread = 0.05;
    db.transaction(() => {
      const userIds = Array.from({ length: Math.ceil(ruleCount / 10) }, (_, i) => users.create({ telegramId: 10_000 + i, channels: "telegram" }).id);
      for (let i = 0; i < ruleCount; i++) {
        const key = keys[i % instruments]!;
        const p = opening.get(key)!;
        const kind = kinds[i % kinds.length]!;
        const params = kind === "change_pct" ? { pct: 1 + rand() * 4 } : { level: Math.round(p * (1 - spread + rand() * 2 * spread) * 20) / 20 };
        const frequency = frequencies[Math.floor(rand() * frequencies.length)]!;
        rules.create({ userId: userIds[i % userIds.length]!, instrumentKey: key, kind, params, frequency, cooldownSeconds: frequency === "every" ? 60 : 0 });
      }
    })();
    book.refresh();

    // Setting 50,000 rules up leaves garbage a collection would otherwise bill to the polls.
    (globalThis as { gc?: () => void }).gc?.();
    const prevClose = new Map(keys.map((k) => [k, opening.get(k)! * (0.99 + rand() * 0.02)]));
    let previous = new Map(opening);
    const times: number[] = [];
    let alerts = 0;
    let walPages = 0;
    for (let poll = 0; poll < polls; poll++) {
      now += POLL_MS;
      const batch = new Map<string, Quote>();
      for (const key of keys) {
        const jump = rand() < 0.002 ? (rand() - 0.5) * 0.03 : 0;
        const p = Math.max(1, Math.round(previous.get(key)! * (1 + (rand() - 0.5) * 0.001 + jump) * 20) / 20);
        batch.set(key, {
          instrumentKey: key,
          symbol: key.slice(-8),
          lastPrice: p,
          open: p,
          high: p,
          low: p,
          prevClose: prevClose.get(key)!,
          volume: 1,
          lastTradeAt: now,
        });
      }
      const t0 = performance.now();
      const r = evaluateQuotes(batch, previous, { db, book, rules, users, notifier, now, staleAfterMs: 30_000 });
      if (poll >= WARM_UP_POLLS) {
        times.push(performance.now() - t0);
        alerts += r.fired.length;
      }
      // As pollQuotes does once the alerts are queued: the WAL is folded back outside the measured path.
      if (checkpointDue(now, POLL_MS)) {
        const [wal] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ log: number }>;
        if (poll >= WARM_UP_POLLS) walPages = Math.max(walPages, wal?.log ?? 0);
      }
      previous = new Map<string, number>();
      for (const [k, q] of batch) previous.set(k, q.lastPrice);
    }
    // The same quotes again (a fresh trade time): no level lies between a price and itself.
    const quiet: number[] = [];
    let last = new Map<string, Quote>();
    for (const k of keys)
      last.set(k, {
        instrumentKey: k,
        symbol: k.slice(-8),
        lastPrice: previous.get(k)!,
        open: 0,
        high: 0,
        low: 0,
        prevClose: prevClose.get(k)!,
        volume: 1,
        lastTradeAt: now,
      });
    for (let i = 0; i < QUIET_POLLS; i++) {
      now += POLL_MS;
      const batch = new Map<string, Quote>();
      for (const [k, q] of last) batch.set(k, { ...q, lastTradeAt: now });
      const t0 = performance.now();
      evaluateQuotes(batch, previous, { db, book, rules, users, notifier, now, staleAfterMs: 30_000 });
      quiet.push(performance.now() - t0);
      if (checkpointDue(now, POLL_MS)) db.pragma("wal_checkpoint(PASSIVE)");
      last = batch;
    }
    return { rules: ruleCount, p50: percentile(times, 50), p99: percentile(times, 99), alerts, polls: times.length, quietP50: percentile(quiet, 50), walPages };
  } finally {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    redis.disconnect();
    await deletePrefix(prefix);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
