import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { openDatabase } from "../src/db/open.js";
import { CandleRepository } from "../src/db/repositories/candles.js";
import type { MarketCandle } from "../src/market/types.js";
import { seededRandom } from "../src/market/simulator.js";
import { type BenchResult, percentile } from "./report.js";

/** Issue 11 goals for the candle store. */
const GOAL_LIVE_ROWS_PER_S = 100_000;
const GOAL_RECENT_P50_MS = 1;
/** Our choice for prune and the fold: no transaction holds the write lock longer than this. */
const GOAL_LOCK_HOLD_MS = 50;

const MINUTE = 60_000;
const INSTRUMENTS = 2000;
/** 2,000 × 1,000 = 2M rows before anything is measured. */
const FILL_MINUTES = 1000;
/** Two hours of the live pattern: the figure includes the folds of the recent table. */
const LIVE_MINUTES = 120;
const READS = 2000;
/** Minutes for the lock-hold figure: more than a fold cycle (an hour, then the fold's steps). */
const HOLD_MINUTES = 110;

/**
 * The candle store on a real file opened with the production `openDatabase`, filled with
 * 2M rows (2,000 instruments × 1,000 minutes) through the repository the way production
 * fills it (a minute at a time; the recent table folds as it goes). Then: (a) the live
 * pattern, one `upsert` of 2,000 candles per minute; (b) the newest 500 candles of random
 * instruments through `recent`; (c) `prune` (what the daily job runs) of the oldest
 * day, with its query plans and its longest transaction.
 */
export async function benchCandleStore(): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "uab-bench-candles-"));
  const file = path.join(dir, "bench.sqlite");
  const db = openDatabase(file);
  try {
    const repo = new CandleRepository(db);
    const rand = seededRandom(11);
    const keys = Array.from({ length: INSTRUMENTS }, (_, i) => `NSE_EQ|INEBENCH${String(i).padStart(4, "0")}`);
    const price = keys.map(() => 100 + rand() * 2000);
    const t0 = Date.parse("2025-01-01T09:15:00+05:30");
    const minute = (m: number): Map<string, MarketCandle> => {
      const rows = new Map<string, MarketCandle>();
      for (let i = 0; i < INSTRUMENTS; i++) {
        const open = price[i]!;
        const close = (price[i] = open * (1 + (rand() - 0.5) * 0.002));
        rows.set(keys[i]!, {
          ts: t0 + m * MINUTE,
          open,
          high: Math.max(open, close) * 1.0005,
          low: Math.min(open, close) * 0.9995,
          close,
          volume: Math.floor(rand() * 5000),
        });
      }
      return rows;
    };

    const fillStarted = performance.now();
    for (let m = 0; m < FILL_MINUTES; m++) repo.upsert("1m", minute(m));
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    db.pragma("wal_checkpoint(TRUNCATE)");

    // (a) The live pattern, as production runs it (SQLite's automatic checkpoint included:
    // it runs inside whichever commit crosses 1,000 WAL pages, after the write lock is released).
    const batches = Array.from({ length: LIVE_MINUTES }, (_, i) => minute(FILL_MINUTES + i));
    const perMinute: number[] = [];
    for (const rows of batches) {
      const t = performance.now();
      repo.upsert("1m", rows);
      perMinute.push(performance.now() - t);
    }
    const liveMs = perMinute.reduce((a, b) => a + b, 0);
    // (a') The write-lock hold. Each upsert is two short transactions (the minute, then one fold
    // step), so the slowest upsert bounds the longest hold, once the checkpoint (not a hold,
    // and mostly fsync on this machine) is taken out of it: another hour and more of minutes,
    // a whole fold, with checkpoints between minutes.
    db.pragma("wal_autocheckpoint = 0");
    const holds: number[] = [];
    for (let i = 0; i < HOLD_MINUTES; i++) {
      const rows = minute(FILL_MINUTES + LIVE_MINUTES + i);
      const t = performance.now();
      repo.upsert("1m", rows);
      holds.push(performance.now() - t);
      if (i % 10 === 9) db.pragma("wal_checkpoint(PASSIVE)");
    }

    // (b) The newest 500 candles of one instrument, random instruments.
    const reads: number[] = [];
    for (let i = 0; i < READS; i++) {
      const key = keys[Math.floor(rand() * INSTRUMENTS)]!;
      const t = performance.now();
      const got = repo.recent(key, "1m", 500);
      reads.push(performance.now() - t);
      if (got.length !== 500) throw new Error(`recent gave ${got.length} candles, not 500`);
    }

    // (c) Prune the oldest day (375 one-minute candles × 2,000 instruments).
    const plans = repo.prunePlans();
    const byKey = plans.every((p) => /^SEARCH \w+ USING PRIMARY KEY \(.*ts<\?\)$/.test(p));
    // Each prune transaction runs synchronously between two pauses: the longest stall of the
    // event loop is the longest transaction (so the longest write-lock hold), from above. The
    // checkpoint is again left out of it, and timed after.
    const stalls = monitorEventLoopDelay({ resolution: 1 });
    stalls.enable();
    const pruneStarted = performance.now();
    const removed = await repo.prune("1m", t0 + 375 * MINUTE);
    const pruneMs = performance.now() - pruneStarted;
    stalls.disable();
    const longestPruneTx = stalls.max / 1e6;
    const checkpointStarted = performance.now();
    db.pragma("wal_checkpoint(PASSIVE)");
    const pruneCheckpointMs = performance.now() - checkpointStarted;
    if (removed !== 375 * INSTRUMENTS) throw new Error(`prune removed ${removed} rows, not ${375 * INSTRUMENTS}`);

    const rows = (INSTRUMENTS * LIVE_MINUTES).toLocaleString("en-US");
    return [
      {
        name: `live inserts: ${LIVE_MINUTES} minutes × ${INSTRUMENTS.toLocaleString("en-US")} instruments, one upsert a minute, at 2M rows (${rows} rows, folds included)`,
        value: (INSTRUMENTS * LIVE_MINUTES) / (liveMs / 1000),
        unit: "rows/s",
        goal: GOAL_LIVE_ROWS_PER_S,
        better: "higher",
      },
      { name: "live inserts: one minute of 2,000, p50", value: percentile(perMinute, 50), unit: "ms", better: "lower" },
      { name: "live inserts: slowest upsert (its commit may run the automatic checkpoint)", value: Math.max(...perMinute), unit: "ms", better: "lower" },
      {
        name: `live inserts: slowest upsert without the checkpoint, ${HOLD_MINUTES} minutes (the minute plus a fold step: bounds the longest write-lock hold)`,
        value: Math.max(...holds),
        unit: "ms",
        goal: GOAL_LOCK_HOLD_MS,
        better: "lower",
      },
      {
        name: `last 500 candles of one instrument at 2M rows (${READS} random instruments), p50`,
        value: percentile(reads, 50),
        unit: "ms",
        goal: GOAL_RECENT_P50_MS,
        better: "lower",
      },
      { name: "last 500 candles of one instrument, p99", value: percentile(reads, 99), unit: "ms", better: "lower" },
      { name: `prune searches a key, never scans (1 = yes; plans: ${plans.join("; ")})`, value: byKey ? 1 : 0, unit: "", goal: 1, better: "higher" },
      {
        name: `prune of the oldest day (${removed.toLocaleString("en-US")} rows, pauses between transactions included)`,
        value: pruneMs,
        unit: "ms",
        better: "lower",
      },
      {
        name: "prune: longest transaction (event-loop stall; bounds the longest write-lock hold)",
        value: longestPruneTx,
        unit: "ms",
        goal: GOAL_LOCK_HOLD_MS,
        better: "lower",
      },
      { name: "prune: the checkpoint after it (not a lock hold)", value: pruneCheckpointMs, unit: "ms", better: "lower" },
      { name: "fill: 2M rows a minute at a time (not a goal)", value: (INSTRUMENTS * FILL_MINUTES) / fillSeconds, unit: "rows/s", better: "higher" },
    ];
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
