import type { Database, Statement } from "better-sqlite3";
import type { InstrumentInfo } from "../../market/types.js";

interface InstrumentRow {
  instrument_key: string;
  trading_symbol: string;
  name: string | null;
  exchange: string;
  segment: string;
  instrument_type: string | null;
  isin: string | null;
  lot_size: number | null;
  tick_size: number | null;
  expiry: number | null;
}

const toInfo = (r: InstrumentRow): InstrumentInfo => ({
  instrumentKey: r.instrument_key,
  tradingSymbol: r.trading_symbol,
  name: r.name ?? r.trading_symbol,
  exchange: r.exchange,
  segment: r.segment,
  instrumentType: r.instrument_type ?? "",
  isin: r.isin,
  lotSize: r.lot_size ?? 1,
  tickSize: r.tick_size ?? 0.05,
  expiry: r.expiry,
});

export class InstrumentRepository {
  private readonly upsertStmt: Statement;
  private readonly byKey: Statement<[string], InstrumentRow>;
  private readonly bySymbol: Statement<[string], InstrumentRow>;
  private readonly prefixStmt: Statement<[string, number], InstrumentRow>;
  private readonly countStmt: Statement<[], { n: number }>;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.upsertStmt = db.prepare(
      `INSERT INTO instruments (instrument_key, trading_symbol, name, exchange, segment, instrument_type, isin, lot_size, tick_size, expiry, updated_at)
       VALUES (@instrumentKey, @tradingSymbol, @name, @exchange, @segment, @instrumentType, @isin, @lotSize, @tickSize, @expiry, @updatedAt)
       ON CONFLICT (instrument_key) DO UPDATE SET trading_symbol = excluded.trading_symbol, name = excluded.name,
         exchange = excluded.exchange, segment = excluded.segment, instrument_type = excluded.instrument_type,
         isin = excluded.isin, lot_size = excluded.lot_size, tick_size = excluded.tick_size, expiry = excluded.expiry,
         updated_at = excluded.updated_at`,
    );
    this.byKey = db.prepare("SELECT * FROM instruments WHERE instrument_key = ?");
    this.countStmt = db.prepare("SELECT COUNT(*) AS n FROM instruments");
    this.prefixStmt = db.prepare(
      `SELECT * FROM instruments WHERE trading_symbol LIKE ? ESCAPE '\\'
       ORDER BY segment = 'NSE_EQ' DESC, segment = 'NSE_INDEX' DESC, length(trading_symbol), trading_symbol LIMIT ?`,
    );
    // NSE cash first: `RELIANCE` means the NSE equity unless the user says otherwise.
    this.bySymbol = db.prepare(
      `SELECT * FROM instruments WHERE trading_symbol = ? COLLATE NOCASE
       ORDER BY segment = 'NSE_EQ' DESC, segment = 'NSE_INDEX' DESC, segment LIMIT 1`,
    );
  }

  /** Upserts in one transaction; returns the updated_at it stamped (see removeNotUpdatedSince). */
  upsertMany(list: readonly InstrumentInfo[]): number {
    const updatedAt = this.now();
    this.db.transaction(() => {
      for (const i of list) this.upsertStmt.run({ ...i, expiry: i.expiry ?? null, updatedAt });
    })();
    return updatedAt;
  }

  count(): number {
    return this.countStmt.get()!.n;
  }

  /** Symbols starting with `prefix`, NSE equities first: for suggestions and autocomplete. */
  searchByPrefix(prefix: string, limit = 10): InstrumentInfo[] {
    const escaped = prefix.trim().replace(/[\\%_]/g, (c) => `\\${c}`);
    return this.prefixStmt.all(`${escaped}%`, limit).map(toInfo);
  }

  /**
   * Removes instruments not written since `since` (epoch ms): after a full upsert of a fresh
   * master file, those are the ones Upstox dropped (expired contracts, delistings). With
   * `exchanges`, only rows of those exchanges are considered, so refreshing the NSE file never
   * deletes BSE rows. Returns how many rows went.
   */
  removeNotUpdatedSince(since: number, exchanges?: readonly string[]): number {
    if (exchanges && exchanges.length === 0) return 0;
    if (!exchanges) return this.db.prepare("DELETE FROM instruments WHERE updated_at < ?").run(since).changes;
    const marks = exchanges.map(() => "?").join(", ");
    return this.db.prepare(`DELETE FROM instruments WHERE updated_at < ? AND exchange IN (${marks})`).run(since, ...exchanges).changes;
  }

  get(instrumentKey: string): InstrumentInfo | undefined {
    const r = this.byKey.get(instrumentKey);
    return r && toInfo(r);
  }

  findBySymbol(symbol: string): InstrumentInfo | undefined {
    const r = this.bySymbol.get(symbol.trim());
    return r && toInfo(r);
  }
}
