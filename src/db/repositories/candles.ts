import type { Database, Statement } from "better-sqlite3";
import { performance } from "node:perf_hooks";
import type { MarketCandle } from "../../market/types.js";
import { CandleFolder, DEFAULT_FOLD_BATCH, inRecent, RECENT_FLOOR, RECENT_MINUTES } from "./candle-fold.js";

export type CandleInterval = "1m";
/**
 * Longer bars fetched whole from Upstox (hourly and daily history for rules on those bars and
 * 52-week ranges). They are written once a day, not a minute at a time, so they go straight
 * into `candles` (instrument first) and never through `candles_recent`.
 */
export type BarInterval = "1h" | "1d";

/** Intervals are stored as small integers (migration 008): their length in minutes. */
const INTERVAL_CODE: Readonly<Record<CandleInterval, number>> = { "1m": 1 };
const BAR_CODE: Readonly<Record<BarInterval, number>> = { "1h": 60, "1d": 1440 };

/** A prune transaction stops taking instruments after this long, so other writers wait at most about this. */
const PRUNE_BATCH_MS = 10;

/**
 * Recent-table rows go in statements of this many rows: a live minute of 2,000 is 20
 * statement runs instead of 2,000 (measured: 3.2–4.2 ms a minute instead of 5.3–7.7).
 */
const ROWS_PER_INSERT = 100;
const RECENT_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?)";

/** ts, open, high, low, close, volume: the raw row shape every read returns. */
type RawCandle = [number, number, number, number, number, number];

const COLUMNS = "ts, open, high, low, close, volume";
const SET_OHLCV = "open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume";
/** One instrument's rows in `candles_recent` before :to, newest first (the walk is the outer loop: CROSS JOIN). */
const RECENT_OF_ONE = `
  WITH RECURSIVE ${RECENT_MINUTES.replaceAll(":from", RECENT_FLOOR)}
  SELECT r.ts, r.open, r.high, r.low, r.close, r.volume
  FROM minute CROSS JOIN candles_recent r ON r.interval = :iv AND r.ts = minute.ts AND r.instrument_id = :id
  WHERE minute.ts >= ${RECENT_FLOOR}`;

interface RecentParams {
  iv: number;
  id: number;
  to: number;
}

/**
 * Closed candles by instrument and interval; upserts are idempotent on (instrument, interval, ts),
 * and a re-sent candle replaces the stored one.
 *
 * Two tables (migration 008): the last hour or so in `candles_recent`, keyed minute first,
 * so a minute of 2,000 instruments is an append; older candles in `candles`, keyed
 * instrument first, so one instrument's history is one range. Each `upsert` also takes one
 * short step of folding the recent table into the other (see CandleFolder). An instrument's
 * recent-table candles are always newer than its others, and reads take both parts in one
 * read transaction, so a fold by another process is never seen half done.
 */
export class CandleRepository {
  /** instrument_key -> candle_instruments.id; ids never change once committed. */
  private readonly ids = new Map<string, number>();
  private readonly folder: CandleFolder;

  private readonly idStmt: Statement<[string], number>;
  private readonly newIdStmt: Statement<[string]>;
  private readonly allIdsStmt: Statement<[], number>;
  private readonly upsertRecentStmt: Statement<unknown[]>;
  private readonly upsertRecentManyStmt: Statement<unknown[]>;
  /** Parameters of one upsertRecentManyStmt run, filled in place. */
  private readonly recentParams = new Array<number>(ROWS_PER_INSERT * 8);
  private readonly upsertHistoryStmt: Statement<unknown[]>;
  private readonly recentPartStmt: Statement<[RecentParams & { limit: number }], RawCandle>;
  private readonly historyPartStmt: Statement<[number, number, number], RawCandle>;
  private readonly recentBeforeStmt: Statement<[RecentParams], RawCandle>;
  private readonly historyBeforeStmt: Statement<[number, number, number], RawCandle>;
  private readonly recentStatsStmt: Statement<[RecentParams], { n: number; last: number | null }>;
  private readonly historyStatsStmt: Statement<[number, number], { n: number; last: number | null }>;
  private readonly pruneRecentStmt: Statement<[number, number]>;
  private readonly pruneHistoryStmt: Statement<[number, number, number]>;
  private readonly barsBeforeStmt: Statement<[number, number, number, number], RawCandle>;
  private readonly barStatsStmt: Statement<[number, number], { n: number; first: number | null; last: number | null }>;
  private readonly writeBars: (iv: number, key: string, bars: readonly MarketCandle[], added: Map<string, number>) => number;

  private readonly write: (iv: number, rows: Iterable<readonly [string, MarketCandle]>, added: Map<string, number>) => number;
  private readonly readRecent: (iv: number, id: number, limit: number) => RawCandle[];
  /** Runs reads over both tables as one snapshot (a savepoint inside a caller's transaction). */
  private readonly readOne: <T>(fn: () => T) => T;
  private readonly pruneSome: (iv: number, ids: readonly number[], from: number, beforeTs: number) => [removed: number, next: number];

  constructor(
    private readonly db: Database,
    options: { foldBatch?: number } = {},
  ) {
    this.folder = new CandleFolder(db, options.foldBatch ?? DEFAULT_FOLD_BATCH);
    this.idStmt = db.prepare<[string], number>("SELECT id FROM candle_instruments WHERE instrument_key = ?").pluck();
    this.newIdStmt = db.prepare("INSERT INTO candle_instruments (instrument_key) VALUES (?) ON CONFLICT (instrument_key) DO NOTHING");
    this.allIdsStmt = db.prepare<[], number>("SELECT id FROM candle_instruments ORDER BY id").pluck();
    const insertRecent = (rows: number) =>
      `INSERT INTO candles_recent (interval, ts, instrument_id, open, high, low, close, volume) VALUES ${Array<string>(rows).fill(RECENT_VALUES).join(", ")}
       ON CONFLICT (interval, ts, instrument_id) DO UPDATE SET ${SET_OHLCV}`;
    this.upsertRecentStmt = db.prepare(insertRecent(1));
    // A candle repeated within one statement is upserted in order: the later one wins.
    this.upsertRecentManyStmt = db.prepare(insertRecent(ROWS_PER_INSERT));
    this.upsertHistoryStmt = db.prepare(
      `INSERT INTO candles (instrument_id, interval, ts, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (instrument_id, interval, ts) DO UPDATE SET ${SET_OHLCV}`,
    );
    this.recentPartStmt = db.prepare<[RecentParams & { limit: number }], RawCandle>(`${RECENT_OF_ONE} LIMIT :limit`).raw();
    this.historyPartStmt = db
      .prepare<[number, number, number], RawCandle>(`SELECT ${COLUMNS} FROM candles WHERE instrument_id = ? AND interval = ? ORDER BY ts DESC LIMIT ?`)
      .raw();
    this.recentBeforeStmt = db.prepare<[RecentParams], RawCandle>(`${RECENT_OF_ONE} LIMIT 1`).raw();
    this.historyBeforeStmt = db
      .prepare<[number, number, number], RawCandle>(
        `SELECT ${COLUMNS} FROM candles WHERE instrument_id = ? AND interval = ? AND ts < ? ORDER BY ts DESC LIMIT 1`,
      )
      .raw();
    this.recentStatsStmt = db.prepare<[RecentParams], { n: number; last: number | null }>(`SELECT COUNT(*) AS n, MAX(ts) AS last FROM (${RECENT_OF_ONE})`);
    this.historyStatsStmt = db.prepare<[number, number], { n: number; last: number | null }>(
      "SELECT COUNT(*) AS n, MAX(ts) AS last FROM candles WHERE instrument_id = ? AND interval = ?",
    );
    this.pruneRecentStmt = db.prepare("DELETE FROM candles_recent WHERE interval = ? AND ts < ?");
    this.pruneHistoryStmt = db.prepare("DELETE FROM candles WHERE instrument_id = ? AND interval = ? AND ts < ?");

    this.barsBeforeStmt = db
      .prepare<[number, number, number, number], RawCandle>(
        `SELECT ${COLUMNS} FROM candles WHERE instrument_id = ? AND interval = ? AND ts < ? ORDER BY ts DESC LIMIT ?`,
      )
      .raw();
    this.barStatsStmt = db.prepare<[number, number], { n: number; first: number | null; last: number | null }>(
      "SELECT COUNT(*) AS n, MIN(ts) AS first, MAX(ts) AS last FROM candles WHERE instrument_id = ? AND interval = ?",
    );
    this.writeBars = immediate(db, (iv: number, key: string, bars: readonly MarketCandle[], added: Map<string, number>) => {
      const id = this.ids.get(key) ?? added.get(key) ?? this.addInstrument(key, added);
      for (const c of bars) this.upsertHistoryStmt.run(id, iv, c.ts, c.open, c.high, c.low, c.close, c.volume);
      return bars.length;
    });

    this.write = immediate(db, (iv: number, rows: Iterable<readonly [string, MarketCandle]>, added: Map<string, number>) => {
      const where = this.folder.state(iv);
      const p = this.recentParams;
      let n = 0;
      let k = 0;
      for (const [key, c] of rows) {
        const id = this.ids.get(key) ?? added.get(key) ?? this.addInstrument(key, added);
        n++;
        if (!inRecent(where, id, c.ts)) {
          this.upsertHistoryStmt.run(id, iv, c.ts, c.open, c.high, c.low, c.close, c.volume);
          continue;
        }
        p[k] = iv;
        p[k + 1] = c.ts;
        p[k + 2] = id;
        p[k + 3] = c.open;
        p[k + 4] = c.high;
        p[k + 5] = c.low;
        p[k + 6] = c.close;
        p[k + 7] = c.volume;
        k += 8;
        if (k === p.length) {
          this.upsertRecentManyStmt.run(p);
          k = 0;
        }
      }
      for (let j = 0; j < k; j += 8) this.upsertRecentStmt.run(p.slice(j, j + 8));
      return n;
    });
    this.readRecent = db.transaction((iv: number, id: number, limit: number) => {
      const recent = this.recentPartStmt.all({ iv, id, to: Number.MAX_SAFE_INTEGER, limit });
      return recent.length < limit ? recent.concat(this.historyPartStmt.all(id, iv, limit - recent.length)) : recent;
    });
    this.readOne = db.transaction(<T>(fn: () => T): T => fn()) as <T>(fn: () => T) => T;
    this.pruneSome = immediate(db, (iv: number, ids: readonly number[], from: number, beforeTs: number): [number, number] => {
      const started = performance.now();
      let removed = 0;
      let i = from;
      while (i < ids.length && (i === from || performance.now() - started < PRUNE_BATCH_MS)) {
        removed += this.pruneHistoryStmt.run(ids[i]!, iv, beforeTs).changes;
        i++;
      }
      return [removed, i];
    });
  }

  /** Upserts many instruments' candles in one transaction, then takes one step of folding if one is due. */
  upsert(interval: CandleInterval, rows: Iterable<readonly [string, MarketCandle]>): number {
    const iv = INTERVAL_CODE[interval];
    const added = new Map<string, number>();
    const n = this.write(iv, rows, added);
    // Only ids that were committed are remembered: a rolled-back id may be handed out again.
    for (const [key, id] of added) this.ids.set(key, id);
    this.folder.step(iv);
    return n;
  }

  /** The newest `limit` candles, returned oldest first. */
  recent(key: string, interval: CandleInterval, limit: number): MarketCandle[] {
    const id = this.idOf(key);
    if (id === undefined || limit <= 0) return [];
    const rows = this.readRecent(INTERVAL_CODE[interval], id, limit);
    const out = new Array<MarketCandle>(rows.length);
    for (let i = 0, n = rows.length; i < n; i++) out[i] = toCandle(rows[n - 1 - i]!);
    return out;
  }

  /** The candle just before `ts` (for breakouts measured against the previous close). */
  before(key: string, interval: CandleInterval, ts: number): MarketCandle | undefined {
    const id = this.idOf(key);
    if (id === undefined) return undefined;
    const iv = INTERVAL_CODE[interval];
    // Usually the minute before is in the recent table: one statement, its own snapshot. (An
    // instrument's recent-table rows are newer than all its others, so a hit there is the answer.)
    const recent = this.recentBeforeStmt.get({ iv, id, to: ts });
    if (recent) return toCandle(recent);
    const row = this.readOne(() => this.recentBeforeStmt.get({ iv, id, to: ts }) ?? this.historyBeforeStmt.get(id, iv, ts));
    return row && toCandle(row);
  }

  /** Upserts one instrument's hourly or daily bars (each keyed by its start) in one transaction. */
  upsertBars(interval: BarInterval, key: string, bars: readonly MarketCandle[]): number {
    const added = new Map<string, number>();
    const n = this.writeBars(BAR_CODE[interval], key, bars, added);
    for (const [k, id] of added) this.ids.set(k, id);
    return n;
  }

  /** The newest `limit` stored bars starting before `beforeTs`, oldest first. */
  bars(key: string, interval: BarInterval, beforeTs: number, limit: number): MarketCandle[] {
    const id = this.idOf(key);
    if (id === undefined || limit <= 0) return [];
    const rows = this.barsBeforeStmt.all(id, BAR_CODE[interval], beforeTs, limit);
    const out = new Array<MarketCandle>(rows.length);
    for (let i = 0, n = rows.length; i < n; i++) out[i] = toCandle(rows[n - 1 - i]!);
    return out;
  }

  /** How many bars are stored, and the first and last bar's start. */
  barStats(key: string, interval: BarInterval): { count: number; firstTs: number | null; lastTs: number | null } {
    const id = this.idOf(key);
    if (id === undefined) return { count: 0, firstTs: null, lastTs: null };
    const row = this.barStatsStmt.get(id, BAR_CODE[interval])!;
    return { count: row.n, firstTs: row.first, lastTs: row.last };
  }

  /** Drops hourly or daily bars older than `beforeTs` (the same short transactions as `prune`). */
  async pruneBars(interval: BarInterval, beforeTs: number): Promise<number> {
    let removed = 0;
    const ids = this.allIdsStmt.all();
    for (let next = 0; next < ids.length;) {
      const [n, after] = this.pruneSome(BAR_CODE[interval], ids, next, beforeTs);
      next = after;
      removed += n;
      await new Promise((resolve) => setTimeout(resolve, PRUNE_BATCH_MS));
    }
    return removed;
  }

  stats(key: string, interval: CandleInterval): { count: number; lastTs: number | null } {
    const id = this.idOf(key);
    if (id === undefined) return { count: 0, lastTs: null };
    const iv = INTERVAL_CODE[interval];
    return this.readOne(() => {
      const recent = this.recentStatsStmt.get({ iv, id, to: Number.MAX_SAFE_INTEGER })!;
      const history = this.historyStatsStmt.get(id, iv)!;
      return { count: recent.n + history.n, lastTs: recent.last ?? history.last };
    });
  }

  /**
   * Drops candles older than `beforeTs`: one-minute history is kept for a bounded time.
   * Each instrument's old rows are one key range (an index search, not a scan); instruments
   * go in transactions of about PRUNE_BATCH_MS each, with a pause of that long after each, so
   * a writer in another process (whose busy handler polls in growing sleeps) gets the lock in
   * between. Returns how many rows went.
   */
  async prune(interval: CandleInterval, beforeTs: number): Promise<number> {
    let removed = 0;
    for (const n of this.pruneSteps(interval, beforeTs)) {
      removed += n;
      await new Promise((resolve) => setTimeout(resolve, PRUNE_BATCH_MS));
    }
    return removed;
  }

  /** The query plans of a fold step's move and delete (the tests check both search keys). */
  foldPlans(): string[] {
    return this.folder.plans(this.db);
  }

  /** The query plan of each delete `prune` runs (the bench and tests check they search a key, never scan). */
  prunePlans(): string[] {
    return [this.pruneRecentStmt, this.pruneHistoryStmt].map((stmt) => {
      const explain = this.db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${stmt.source}`);
      return explain
        .all(...Array.from({ length: stmt.source.split("?").length - 1 }, () => 0))
        .map((p) => p.detail)
        .join(" | ");
    });
  }

  /** Runs prune's transactions one by one, yielding the rows each removed. */
  private *pruneSteps(interval: CandleInterval, beforeTs: number): Generator<number> {
    const iv = INTERVAL_CODE[interval];
    // A fold under way leaves copies in the recent table: finish it first, so each candle is counted once.
    while (this.folder.underWay(iv)) {
      this.folder.step(iv);
      // Each fold step is a transaction of its own: the pause between steps applies to them too.
      yield 0;
    }
    yield this.pruneRecentStmt.run(iv, beforeTs).changes;
    const ids = this.allIdsStmt.all();
    for (let next = 0; next < ids.length;) {
      const [n, after] = this.pruneSome(iv, ids, next, beforeTs);
      next = after;
      yield n;
    }
  }

  private addInstrument(key: string, added: Map<string, number>): number {
    this.newIdStmt.run(key);
    const id = this.idStmt.get(key)!;
    added.set(key, id);
    return id;
  }

  private idOf(key: string): number | undefined {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.idStmt.get(key);
      if (id !== undefined) this.ids.set(key, id);
    }
    return id;
  }
}

/**
 * A write transaction that takes the write lock up front (BEGIN IMMEDIATE): a transaction
 * that reads first and upgrades later can fail with SQLITE_BUSY when another process
 * committed in between, whatever the busy timeout.
 */
function immediate<A extends unknown[], R>(db: Database, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args) => tx.immediate(...args);
}

function toCandle(r: RawCandle): MarketCandle {
  return { ts: r[0], open: r[1], high: r[2], low: r[3], close: r[4], volume: r[5] };
}
