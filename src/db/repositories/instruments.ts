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
});

export class InstrumentRepository {
  private readonly upsertStmt: Statement;
  private readonly byKey: Statement<[string], InstrumentRow>;
  private readonly bySymbol: Statement<[string], InstrumentRow>;

  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {
    this.upsertStmt = db.prepare(
      `INSERT INTO instruments (instrument_key, trading_symbol, name, exchange, segment, instrument_type, isin, lot_size, tick_size, updated_at)
       VALUES (@instrumentKey, @tradingSymbol, @name, @exchange, @segment, @instrumentType, @isin, @lotSize, @tickSize, @updatedAt)
       ON CONFLICT (instrument_key) DO UPDATE SET trading_symbol = excluded.trading_symbol, name = excluded.name,
         exchange = excluded.exchange, segment = excluded.segment, instrument_type = excluded.instrument_type,
         isin = excluded.isin, lot_size = excluded.lot_size, tick_size = excluded.tick_size, updated_at = excluded.updated_at`,
    );
    this.byKey = db.prepare("SELECT * FROM instruments WHERE instrument_key = ?");
    // NSE cash first: `RELIANCE` means the NSE equity unless the user says otherwise.
    this.bySymbol = db.prepare(
      `SELECT * FROM instruments WHERE trading_symbol = ? COLLATE NOCASE
       ORDER BY segment = 'NSE_EQ' DESC, segment = 'NSE_INDEX' DESC, segment LIMIT 1`,
    );
  }

  upsertMany(list: readonly InstrumentInfo[]): void {
    const updatedAt = this.now();
    this.db.transaction(() => {
      for (const i of list) this.upsertStmt.run({ ...i, updatedAt });
    })();
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
