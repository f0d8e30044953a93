import type { Database, Statement } from "better-sqlite3";
import type { MarketCandle } from "../../market/types.js";

export type CandleInterval = "1m";

type CandleRow = MarketCandle;

/** Closed candles by instrument and interval; upserts are idempotent on (instrument, interval, ts). */
export class CandleRepository {
  private readonly upsertStmt: Statement;
  private readonly recentStmt: Statement<[string, string, number], CandleRow>;
  private readonly beforeStmt: Statement<[string, string, number], CandleRow>;
  private readonly countStmt: Statement<[string, string], { n: number; last: number | null }>;
  private readonly pruneStmt: Statement<[string, number]>;

  constructor(private readonly db: Database) {
    this.upsertStmt = db.prepare(
      `INSERT INTO candles (instrument_key, interval, ts, open, high, low, close, volume, oi)
       VALUES (@key, @interval, @ts, @open, @high, @low, @close, @volume, 0)
       ON CONFLICT (instrument_key, interval, ts) DO UPDATE SET
         open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume`,
    );
    this.recentStmt = db.prepare("SELECT ts, open, high, low, close, volume FROM candles WHERE instrument_key = ? AND interval = ? ORDER BY ts DESC LIMIT ?");
    this.beforeStmt = db.prepare(
      "SELECT ts, open, high, low, close, volume FROM candles WHERE instrument_key = ? AND interval = ? AND ts < ? ORDER BY ts DESC LIMIT 1",
    );
    this.countStmt = db.prepare("SELECT COUNT(*) AS n, MAX(ts) AS last FROM candles WHERE instrument_key = ? AND interval = ?");
    this.pruneStmt = db.prepare("DELETE FROM candles WHERE interval = ? AND ts < ?");
  }

  /** Upserts many instruments' candles in one transaction. */
  upsert(interval: CandleInterval, rows: Iterable<readonly [string, MarketCandle]>): number {
    let n = 0;
    this.db.transaction(() => {
      for (const [key, c] of rows) {
        this.upsertStmt.run({ key, interval, ts: c.ts, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
        n++;
      }
    })();
    return n;
  }

  /** The newest `limit` candles, returned oldest first. */
  recent(key: string, interval: CandleInterval, limit: number): MarketCandle[] {
    return this.recentStmt.all(key, interval, limit).reverse();
  }

  /** The candle just before `ts` (for breakouts measured against the previous close). */
  before(key: string, interval: CandleInterval, ts: number): MarketCandle | undefined {
    return this.beforeStmt.get(key, interval, ts);
  }

  stats(key: string, interval: CandleInterval): { count: number; lastTs: number | null } {
    const r = this.countStmt.get(key, interval)!;
    return { count: r.n, lastTs: r.last };
  }

  /** Drops candles older than `beforeTs`: one-minute history is kept for a bounded time. */
  prune(interval: CandleInterval, beforeTs: number): number {
    return this.pruneStmt.run(interval, beforeTs).changes;
  }
}
