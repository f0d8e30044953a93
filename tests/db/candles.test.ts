import BetterSqlite3 from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { CandleRepository } from "../../src/db/repositories/candles.js";
import type { MarketCandle } from "../../src/market/types.js";
import { seededRandom } from "../../src/market/simulator.js";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 1, 3, 45); // 09:15 IST

let dir: string;
let file: string;
const opened: Database[] = [];

function open(): Database {
  const db = openDatabase(file);
  opened.push(db);
  return db;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "uab-candles-"));
  file = path.join(dir, "bot.sqlite");
});

afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const candle = (minute: number, close = 100 + minute, volume = 10 + minute): MarketCandle => ({
  ts: T0 + minute * MINUTE,
  open: close - 1,
  high: close + 2,
  low: close - 2,
  close,
  volume,
});

/** The live pattern: one candle per instrument for each minute in [from, to). */
function live(repo: CandleRepository, keys: readonly string[], from: number, to: number, close = (k: number, m: number) => 100 + k * 1000 + m): void {
  for (let m = from; m < to; m++)
    repo.upsert(
      "1m",
      keys.map((key, k) => [key, candle(m, close(k, m))] as const),
    );
}

const count = (db: Database, table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe("CandleRepository", () => {
  it("returns the newest candles oldest first, upserts idempotently and lets a re-sent candle win", () => {
    const repo = new CandleRepository(open());
    expect(
      repo.upsert("1m", [
        ["A", candle(0)],
        ["A", candle(1)],
        ["B", candle(0, 50)],
        ["A", candle(2)],
      ]),
    ).toBe(4);
    expect(repo.recent("A", "1m", 10)).toEqual([candle(0), candle(1), candle(2)]);
    expect(repo.recent("A", "1m", 2)).toEqual([candle(1), candle(2)]);
    expect(repo.recent("B", "1m", 10)).toEqual([candle(0, 50)]);
    expect(repo.recent("nobody", "1m", 10)).toEqual([]);

    repo.upsert("1m", [["A", candle(1)]]);
    repo.upsert("1m", [["A", candle(1, 555, 7)]]);
    expect(repo.recent("A", "1m", 10)).toEqual([candle(0), candle(1, 555, 7), candle(2)]);
    expect(repo.stats("A", "1m")).toEqual({ count: 3, lastTs: candle(2).ts });
    expect(repo.stats("nobody", "1m")).toEqual({ count: 0, lastTs: null });
    expect(repo.before("A", "1m", candle(2).ts)).toEqual(candle(1, 555, 7));
    expect(repo.before("A", "1m", candle(0).ts)).toBeUndefined();
    expect(repo.before("nobody", "1m", candle(2).ts)).toBeUndefined();
  });

  it("gives the same answers once most candles were folded from the recent table into the by-instrument one", () => {
    const db = open();
    const repo = new CandleRepository(db);
    const keys = ["A", "B", "C"];
    live(repo, keys, 0, 200);
    // Folded: the recent table holds about an hour (plus a fold under way), the rest is by instrument.
    expect(count(db, "candles_recent")).toBeLessThanOrEqual(3 * 80);
    expect(count(db, "candles")).toBeGreaterThanOrEqual(3 * 120);

    const expected = (k: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => candle(from + i, 100 + k * 1000 + from + i));
    expect(repo.recent("B", "1m", 500)).toEqual(expected(1, 0, 200));
    expect(repo.recent("B", "1m", 150)).toEqual(expected(1, 50, 200));
    expect(repo.recent("C", "1m", 10)).toEqual(expected(2, 190, 200));
    expect(repo.stats("A", "1m")).toEqual({ count: 200, lastTs: candle(199).ts });
    for (const m of [1, 100, 150, 199]) expect(repo.before("A", "1m", candle(m).ts)).toEqual(candle(m - 1, 100 + m - 1));

    // A re-sent old candle (now in the by-instrument table) still replaces the stored one.
    repo.upsert("1m", [["A", candle(10, 1.5, 3)]]);
    repo.upsert("1m", [["A", candle(199, 2.5, 4)]]);
    const a = repo.recent("A", "1m", 500);
    expect(a).toHaveLength(200);
    expect(a[10]).toEqual(candle(10, 1.5, 3));
    expect(a[199]).toEqual(candle(199, 2.5, 4));
  });

  it("upserts a minute of many instruments (several statements of many rows), a repeated candle last one winning", () => {
    const repo = new CandleRepository(open());
    const keys = Array.from({ length: 257 }, (_, i) => `K${i}`);
    const rows = keys.map((k, i) => [k, candle(0, i)] as const);
    rows.splice(50, 0, ["K0", candle(0, 4242)]); // twice within one statement
    rows.push(["K7", candle(0, 7777)], ["K250", candle(0, 2500)]); // in different statements
    expect(repo.upsert("1m", rows)).toBe(260);
    const won = new Map([
      ["K0", 4242],
      ["K7", 7777],
      ["K250", 2500],
    ]);
    keys.forEach((k, i) => expect(repo.recent(k, "1m", 5)).toEqual([candle(0, won.get(k) ?? i)]));
  });

  it("stores history older than the recent table by instrument, next to live minutes", () => {
    const db = open();
    const repo = new CandleRepository(db);
    live(repo, ["A", "B"], 0, 100);
    // A warm-up: three days of history for a new instrument, up to the current minute.
    const history = Array.from({ length: 3 * 375 }, (_, i) => candle(-3 * 1440 + i, 7 + i));
    history.push(...Array.from({ length: 100 }, (_, m) => candle(m, 9000 + m)));
    expect(
      repo.upsert(
        "1m",
        history.map((c) => ["W", c] as const),
      ),
    ).toBe(history.length);
    expect(repo.recent("W", "1m", 2000)).toEqual(history);
    expect(repo.stats("W", "1m")).toEqual({ count: history.length, lastTs: candle(99).ts });
    // History did not stretch the recent table back by days.
    const oldestRecent = db.prepare("SELECT MIN(ts) AS t FROM candles_recent").get() as { t: number };
    expect(oldestRecent.t).toBeGreaterThanOrEqual(candle(30).ts);
  });

  it("keeps two connections (two processes) consistent when one of them folds", () => {
    const a = new CandleRepository(open());
    const b = new CandleRepository(open());
    live(a, ["X", "Y"], 0, 40);
    live(b, ["Z", "X"], 40, 120, (k, m) => (k === 0 ? 5000 + m : 100 + m));
    expect(b.recent("X", "1m", 500)).toEqual(Array.from({ length: 120 }, (_, m) => candle(m, 100 + m)));
    expect(a.recent("X", "1m", 500)).toEqual(b.recent("X", "1m", 500));
    expect(a.recent("Z", "1m", 500)).toEqual(Array.from({ length: 80 }, (_, i) => candle(40 + i, 5040 + i)));
    expect(a.stats("Y", "1m")).toEqual({ count: 40, lastTs: candle(39).ts });
  });

  it("forgets an instrument id whose write was rolled back", () => {
    const a = new CandleRepository(open());
    const b = new CandleRepository(open());
    const broken = { ...candle(0), close: null as unknown as number };
    expect(() =>
      a.upsert("1m", [
        ["NEW", candle(1)],
        ["NEW", broken],
      ]),
    ).toThrow(/NOT NULL/);
    // The id `a` saw for NEW was rolled back; another process may now hand it to another key.
    b.upsert("1m", [["OTHER", candle(0, 42)]]);
    a.upsert("1m", [["NEW", candle(1)]]);
    expect(b.recent("OTHER", "1m", 10)).toEqual([candle(0, 42)]);
    expect(b.recent("NEW", "1m", 10)).toEqual([candle(1)]);
  });

  it("matches a plain model through folds taken a few instruments at a time, re-sends, history and prunes", async () => {
    const db = open();
    // Two connections, as two processes: writes alternate, so each sees folds the other took.
    const repos = [new CandleRepository(db, { foldBatch: 3 }), new CandleRepository(open(), { foldBatch: 2 })];
    const rand = seededRandom(5);
    const keys = Array.from({ length: 9 }, (_, i) => `K${i}`);
    const model = new Map<string, Map<number, MarketCandle>>(keys.map((k) => [k, new Map()]));
    const put = (repo: CandleRepository, rows: (readonly [string, MarketCandle])[]) => {
      repo.upsert("1m", rows);
      for (const [k, c] of rows) model.get(k)!.set(c.ts, c);
    };
    const sorted = (k: string) => [...model.get(k)!.values()].sort((a, b) => a.ts - b.ts);
    let sawFoldUnderWay = false;
    for (let m = 0; m < 400; m++) {
      const repo = repos[m % 2]!;
      // The live minute, for most instruments (some skip minutes).
      put(
        repo,
        keys.filter(() => rand() < 0.9).map((k) => [k, candle(m, Math.round(rand() * 1e6) / 100)] as const),
      );
      // A re-sent candle from up to 90 minutes back, now in either table.
      if (rand() < 0.5) put(repo, [[keys[Math.floor(rand() * keys.length)]!, candle(m - Math.floor(rand() * 90), rand() * 100)]]);
      // Now and then a warm-up: history of one instrument reaching back days.
      if (m % 97 === 13)
        put(
          repo,
          Array.from({ length: 50 }, (_, i) => [keys[m % keys.length]!, candle(m - 3000 + i * 7, i)] as const),
        );
      const fold = db.prepare("SELECT folding_to FROM candle_folds WHERE interval = 1").get() as { folding_to: number | null } | undefined;
      if (fold?.folding_to != null) sawFoldUnderWay = true;
      if (m % 25 === 0) {
        const reader = repos[(m + 1) % 2]!;
        for (const k of keys) {
          const all = sorted(k);
          expect(reader.recent(k, "1m", 10_000)).toEqual(all);
          expect(reader.recent(k, "1m", 37)).toEqual(all.slice(-37));
          expect(reader.stats(k, "1m")).toEqual({ count: all.length, lastTs: all.at(-1)?.ts ?? null });
          const ts = candle(m - Math.floor(rand() * 120)).ts;
          expect(reader.before(k, "1m", ts)).toEqual(all.filter((c) => c.ts < ts).at(-1));
        }
      }
      if (m === 300) {
        const cut = candle(150).ts;
        let gone = 0;
        for (const rows of model.values()) for (const ts of [...rows.keys()]) if (ts < cut && rows.delete(ts)) gone++;
        expect(await repo.prune("1m", cut)).toBe(gone);
      }
    }
    expect(sawFoldUnderWay).toBe(true);
    for (const k of keys) expect(repos[0]!.recent(k, "1m", 10_000)).toEqual(sorted(k));
  });

  it("prunes old candles from both tables, by key range, and returns how many went", async () => {
    const db = open();
    const repo = new CandleRepository(db);
    const keys = ["A", "B", "C", "D"];
    live(repo, keys, 0, 150);
    expect(await repo.prune("1m", candle(100).ts)).toBe(4 * 100);
    for (const key of keys) expect(repo.recent(key, "1m", 500).map((c) => c.ts)).toEqual(Array.from({ length: 50 }, (_, i) => candle(100 + i).ts));
    expect(await repo.prune("1m", candle(100).ts)).toBe(0);
    expect(await repo.prune("1m", candle(149).ts)).toBe(4 * 49);
    expect(repo.recent("D", "1m", 500)).toEqual([candle(149, 3249)]);

    // Each delete is an index search, never a scan of the table; so are a fold step's move and delete.
    const plans = repo.prunePlans();
    expect(plans).toHaveLength(2);
    for (const plan of plans) expect(plan).toMatch(/^SEARCH \w+ USING PRIMARY KEY \(.*ts<\?\)$/);
    const [copy, drop] = repo.foldPlans();
    expect(copy).toContain("SEARCH r USING PRIMARY KEY (interval=? AND ts=? AND instrument_id>? AND instrument_id<?)");
    expect(copy).not.toMatch(/SCAN candles/);
    expect(drop).toBe("SEARCH candles_recent USING PRIMARY KEY (interval=? AND ts>? AND ts<?)");
  });
});

describe("migration 008 (candle layout)", () => {
  it("gives back the candles a version-7 database held", () => {
    const old = new BetterSqlite3(file);
    migrate(
      old,
      MIGRATIONS.filter((m) => m.version <= 7),
    );
    const insert = old.prepare("INSERT INTO candles (instrument_key, interval, ts, open, high, low, close, volume, oi) VALUES (?, '1m', ?, ?, ?, ?, ?, ?, 0)");
    const stored = new Map<string, MarketCandle[]>();
    old.transaction(() => {
      for (const key of ["NSE_EQ|INE002A01018", "NSE_FO|12345", "BSE_EQ|500325"]) {
        const rows = Array.from({ length: 300 }, (_, m) => candle(m, key.length * 100 + m + 0.25));
        for (const c of rows) insert.run(key, c.ts, c.open, c.high, c.low, c.close, c.volume);
        stored.set(key, rows);
      }
    })();
    old.close();

    const db = open();
    const repo = new CandleRepository(db);
    for (const [key, rows] of stored) {
      expect(repo.recent(key, "1m", 1000)).toEqual(rows);
      expect(repo.stats(key, "1m")).toEqual({ count: 300, lastTs: rows.at(-1)!.ts });
    }
    expect(count(db, "candles_recent")).toBe(0);
    // New candles after the migrated ones are recent-table writes; a re-sent migrated one still replaces it.
    live(repo, ["NSE_FO|12345"], 300, 302, (_k, m) => 1 + m);
    repo.upsert("1m", [["NSE_FO|12345", candle(5, 77)]]);
    const after = repo.recent("NSE_FO|12345", "1m", 1000);
    expect(after).toHaveLength(302);
    expect(after[5]).toEqual(candle(5, 77));
    expect(after.slice(300)).toEqual([candle(300, 301), candle(301, 302)]);
    expect(count(db, "candles_recent")).toBe(2);
  });
});
