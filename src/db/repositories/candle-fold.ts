import type { Database, Statement } from "better-sqlite3";

const MINUTE = 60_000;
/** A fold starts once the recent table spans this long... */
const FOLD_AFTER_MS = 60 * MINUTE;
/** ...and moves all but the last few minutes, so a re-sent candle of a minute ago is still a recent-table write. */
const KEEP_RECENT_MS = 5 * MINUTE;
/** Instruments copied per step (one transaction): bounds how long a step holds the write lock. */
export const DEFAULT_FOLD_BATCH = 50;
/** Minutes of copied rows dropped from the recent table per step (a contiguous key range). */
const DROP_MS = 10 * MINUTE;

/** Which table holds a candle (the `candle_folds` row of its interval; see migration 008). */
export interface FoldState {
  recentFrom: number;
  foldingTo: number | null;
  foldedThrough: number;
}

const IDLE: FoldState = { recentFrom: 0, foldingTo: null, foldedThrough: 0 };

/**
 * True when candle (id, ts) lives in `candles_recent`, false when in `candles`. (While a fold
 * is under way, `candles_recent` may still hold a stale copy of a candle that now lives in
 * `candles`: readers skip it, see RECENT_FLOOR.)
 */
export function inRecent(s: FoldState, id: number, ts: number): boolean {
  if (s.foldingTo === null) return ts >= s.recentFrom;
  if (ts >= s.foldingTo) return true;
  if (ts < s.recentFrom) return false;
  return id > s.foldedThrough;
}

/**
 * SQL for where reads of instrument :id in `candles_recent` start: below it, while a fold is
 * under way, its rows there are copies of rows already in `candles` (maybe stale). Part of
 * the reading statement, so it comes from the same snapshot as the rows.
 */
export const RECENT_FLOOR = `COALESCE((SELECT folding_to FROM candle_folds
  WHERE interval = :iv AND folding_to IS NOT NULL AND :id <= folded_through), 0)`;

/**
 * The minutes present in `candles_recent` in [:from, :to), newest first: one index seek each.
 * (`candles_recent` holds about an hour, so a walk is short.)
 */
export const RECENT_MINUTES = `
  minute(ts) AS (
    SELECT MAX(ts) FROM candles_recent WHERE interval = :iv AND ts < :to
    UNION ALL
    SELECT (SELECT MAX(ts) FROM candles_recent WHERE interval = :iv AND ts < minute.ts) FROM minute WHERE minute.ts >= :from
  )`;

interface BatchParams {
  iv: number;
  from: number;
  to: number;
  lo: number;
  hi: number;
}

/**
 * Moves candles from the minute-keyed recent table into the instrument-keyed one: a fold
 * starts when the recent table spans an hour; each `step` then copies the next batch of
 * instruments (their rows, sorted, at the end of each one's range), and once all are copied,
 * drops the copied minutes from the recent table a contiguous range at a time. Every step is
 * one short transaction, so none holds the write lock long and the live minute keeps
 * appending meanwhile. Any process may take the next step.
 */
export class CandleFolder {
  private readonly stateStmt: Statement<[number], FoldState>;
  private readonly saveStmt: Statement<[FoldState & { iv: number }]>;
  private readonly oldestStmt: Statement<[number], number | null>;
  private readonly newestStmt: Statement<[number], number | null>;
  private readonly maxIdStmt: Statement<[], number | null>;
  private readonly copyStmt: Statement<[BatchParams]>;
  private readonly dropStmt: Statement<[number, number, number]>;
  private readonly stepTx: (iv: number) => boolean;

  constructor(
    db: Database,
    private readonly batch = DEFAULT_FOLD_BATCH,
  ) {
    this.stateStmt = db.prepare<[number], FoldState>(
      "SELECT recent_from AS recentFrom, folding_to AS foldingTo, folded_through AS foldedThrough FROM candle_folds WHERE interval = ?",
    );
    this.saveStmt = db.prepare(
      `INSERT INTO candle_folds (interval, recent_from, folding_to, folded_through) VALUES (:iv, :recentFrom, :foldingTo, :foldedThrough)
       ON CONFLICT (interval) DO UPDATE SET recent_from = excluded.recent_from, folding_to = excluded.folding_to, folded_through = excluded.folded_through`,
    );
    // Two statements, not MIN and MAX in one: only a lone MIN or MAX is a single index seek.
    this.oldestStmt = db.prepare<[number], number | null>("SELECT MIN(ts) FROM candles_recent WHERE interval = ?").pluck();
    this.newestStmt = db.prepare<[number], number | null>("SELECT MAX(ts) FROM candles_recent WHERE interval = ?").pluck();
    this.maxIdStmt = db.prepare<[], number | null>("SELECT MAX(id) FROM candle_instruments").pluck();
    // Per minute, the batch's instruments are one key range of the recent table.
    this.copyStmt = db.prepare(
      `WITH RECURSIVE ${RECENT_MINUTES}
       INSERT INTO candles (instrument_id, interval, ts, open, high, low, close, volume)
       SELECT r.instrument_id, r.interval, r.ts, r.open, r.high, r.low, r.close, r.volume
       FROM minute CROSS JOIN candles_recent r ON r.interval = :iv AND r.ts = minute.ts AND r.instrument_id > :lo AND r.instrument_id <= :hi
       WHERE minute.ts >= :from
       ORDER BY r.instrument_id, r.ts
       ON CONFLICT (instrument_id, interval, ts) DO UPDATE SET
         open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume`,
    );
    this.dropStmt = db.prepare("DELETE FROM candles_recent WHERE interval = ? AND ts >= ? AND ts < ?");
    const tx = db.transaction((iv: number) => this.stepIn(iv));
    // BEGIN IMMEDIATE: a transaction that reads first and upgrades later can fail with SQLITE_BUSY.
    this.stepTx = (iv) => tx.immediate(iv);
  }

  /** Where candles of this interval live now (read it inside the writing transaction). */
  state(iv: number): FoldState {
    return this.stateStmt.get(iv) ?? IDLE;
  }

  underWay(iv: number): boolean {
    return this.state(iv).foldingTo !== null;
  }

  /** Starts a fold if one is due, or moves the next batch of one under way. False when there was nothing to do. */
  step(iv: number): boolean {
    return this.stepTx(iv);
  }

  /** The query plans of a step's copy and drop (the tests check both search keys). */
  plans(db: Database): string[] {
    const explain = (sql: string, ...params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((p) => p.detail).join(" | ");
    return [explain(this.copyStmt.source, { iv: 1, from: 0, to: 1, lo: 0, hi: 1 }), explain(this.dropStmt.source, 1, 0, 1)];
  }

  private stepIn(iv: number): boolean {
    const s = this.state(iv);
    if (s.foldingTo === null) {
      const oldest = this.oldestStmt.get(iv);
      const newest = this.newestStmt.get(iv);
      if (oldest == null || newest == null || newest - oldest < FOLD_AFTER_MS) return false;
      this.copy(iv, { recentFrom: s.recentFrom, foldingTo: newest - KEEP_RECENT_MS, foldedThrough: 0 });
    } else if (s.foldedThrough < (this.maxIdStmt.get() ?? 0)) {
      // Instruments added during the fold have higher ids: they are copied too before anything is dropped.
      this.copy(iv, { ...s, foldingTo: s.foldingTo });
    } else {
      // From the oldest row there, not from recent_from: that may be far older (0 before the first fold).
      const from = Math.max(s.recentFrom, this.oldestStmt.get(iv) ?? s.foldingTo);
      const to = Math.min(s.foldingTo, from + DROP_MS);
      this.dropStmt.run(iv, s.recentFrom, to);
      this.saveStmt.run({ iv, ...(to === s.foldingTo ? { recentFrom: to, foldingTo: null, foldedThrough: 0 } : { ...s, recentFrom: to }) });
    }
    return true;
  }

  private copy(iv: number, s: FoldState & { foldingTo: number }): void {
    const hi = s.foldedThrough + this.batch;
    this.copyStmt.run({ iv, from: s.recentFrom, to: s.foldingTo, lo: s.foldedThrough, hi });
    this.saveStmt.run({ iv, ...s, foldedThrough: hi });
  }
}
