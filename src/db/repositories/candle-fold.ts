import type { Database, Statement } from "better-sqlite3";

const MINUTE = 60_000;
/** A fold starts once the recent table spans this long... */
const FOLD_AFTER_MS = 60 * MINUTE;
/** ...and moves all but the last few minutes, so a re-sent candle of a minute ago is still a recent-table write. */
const KEEP_RECENT_MS = 5 * MINUTE;
/** Instruments moved per step (one transaction): bounds how long a step holds the write lock. */
export const DEFAULT_FOLD_BATCH = 100;

/** Which table holds a candle (the `candle_folds` row of its interval; see migration 008). */
export interface FoldState {
  recentFrom: number;
  foldingTo: number | null;
  foldedThrough: number;
}

const IDLE: FoldState = { recentFrom: 0, foldingTo: null, foldedThrough: 0 };

/** True when candle (id, ts) lives in `candles_recent`, false when in `candles`. */
export function inRecent(s: FoldState, id: number, ts: number): boolean {
  if (s.foldingTo === null) return ts >= s.recentFrom;
  if (ts >= s.foldingTo) return true;
  if (ts < s.recentFrom) return false;
  return id > s.foldedThrough;
}

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
 * starts when the recent table spans an hour, then each `step` moves the next batch of
 * instruments in its own short transaction, so no step holds the write lock long and the
 * live minute keeps appending meanwhile. Any process may take the next step.
 */
export class CandleFolder {
  private readonly stateStmt: Statement<[number], FoldState>;
  private readonly saveStmt: Statement<[FoldState & { iv: number }]>;
  private readonly oldestStmt: Statement<[number], number | null>;
  private readonly newestStmt: Statement<[number], number | null>;
  private readonly maxIdStmt: Statement<[], number | null>;
  private readonly moveStmt: Statement<[BatchParams]>;
  private readonly dropStmt: Statement<[BatchParams]>;
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
    this.moveStmt = db.prepare(
      `WITH RECURSIVE ${RECENT_MINUTES}
       INSERT INTO candles (instrument_id, interval, ts, open, high, low, close, volume)
       SELECT r.instrument_id, r.interval, r.ts, r.open, r.high, r.low, r.close, r.volume
       FROM minute CROSS JOIN candles_recent r ON r.interval = :iv AND r.ts = minute.ts AND r.instrument_id > :lo AND r.instrument_id <= :hi
       WHERE minute.ts >= :from
       ORDER BY r.instrument_id, r.ts
       ON CONFLICT (instrument_id, interval, ts) DO UPDATE SET
         open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume`,
    );
    this.dropStmt = db.prepare(
      `WITH RECURSIVE ${RECENT_MINUTES}
       DELETE FROM candles_recent
       WHERE interval = :iv AND ts IN (SELECT ts FROM minute WHERE ts >= :from) AND instrument_id > :lo AND instrument_id <= :hi`,
    );
    const tx = db.transaction((iv: number) => this.stepIn(iv));
    // BEGIN IMMEDIATE: a transaction that reads first and upgrades later can fail with SQLITE_BUSY.
    this.stepTx = (iv) => tx.immediate(iv);
  }

  /** Where candles of this interval live now (read it inside the writing transaction). */
  state(iv: number): FoldState {
    return this.stateStmt.get(iv) ?? IDLE;
  }

  /** Starts a fold if one is due, or moves the next batch of one under way. False when there was nothing to do. */
  step(iv: number): boolean {
    return this.stepTx(iv);
  }

  /** The query plans of a step's move and delete (the tests check both search keys). */
  plans(db: Database): string[] {
    const params: BatchParams = { iv: 1, from: 0, to: 1, lo: 0, hi: 1 };
    return [this.moveStmt, this.dropStmt].map((stmt) =>
      (db.prepare<[BatchParams], { detail: string }>(`EXPLAIN QUERY PLAN ${stmt.source}`).all(params) as { detail: string }[]).map((p) => p.detail).join(" | "),
    );
  }

  private stepIn(iv: number): boolean {
    let s = this.state(iv);
    if (s.foldingTo === null) {
      const oldest = this.oldestStmt.get(iv);
      const newest = this.newestStmt.get(iv);
      if (oldest == null || newest == null || newest - oldest < FOLD_AFTER_MS) return false;
      s = { recentFrom: s.recentFrom, foldingTo: newest - KEEP_RECENT_MS, foldedThrough: 0 };
    }
    const batch: BatchParams = { iv, from: s.recentFrom, to: s.foldingTo!, lo: s.foldedThrough, hi: s.foldedThrough + this.batch };
    this.moveStmt.run(batch);
    this.dropStmt.run(batch);
    // Instruments added during the fold have higher ids: the fold ends after the highest one.
    const done = batch.hi >= (this.maxIdStmt.get() ?? 0);
    this.saveStmt.run({ iv, ...(done ? { recentFrom: s.foldingTo!, foldingTo: null, foldedThrough: 0 } : { ...s, foldedThrough: batch.hi }) });
    return true;
  }
}
