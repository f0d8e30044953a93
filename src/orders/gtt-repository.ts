import type { Database, Statement } from "better-sqlite3";
import type { GttRuleSnapshot, GttSnapshot } from "./gtt-update.js";

/**
 * The `gtt_orders` table (migration 011): the GTTs the bot knows of, who owns each, its rules
 * as last seen (JSON) and the dedup keys of what was already told about it (JSON list).
 */
export interface StoredGtt {
  gttOrderId: string;
  /** Our user who owns the GTT; never changes once stored. */
  userId: number;
  instrumentKey: string;
  symbol: string | null;
  /** The ENTRY leg's side. */
  transactionType: "BUY" | "SELL";
  type: string;
  quantity: number;
  product: string | null;
  rules: GttRuleSnapshot[];
  told: string[];
  expiresAt: number | null;
  /** When Upstox created the GTT, else when the bot first saw it (epoch ms). */
  createdAt: number;
  updatedAt: number;
}

interface GttRow {
  gtt_order_id: string;
  user_id: number;
  instrument_key: string;
  trading_symbol: string | null;
  transaction_type: "BUY" | "SELL";
  type: string;
  quantity: number;
  product: string | null;
  rules: string;
  told: string;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
}

/** A row as written: the stored shape with its lists as JSON (`told` null: keep the stored one). */
type WriteParams = Omit<StoredGtt, "rules" | "told" | "updatedAt"> & { rules: string; told: string | null; now: number };

/** A JSON column read back; a value that is not a list (hand-edited, corrupt) reads as empty. */
function jsonList<T>(text: string): T[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

const toStored = (r: GttRow): StoredGtt => ({
  gttOrderId: r.gtt_order_id,
  userId: r.user_id,
  instrumentKey: r.instrument_key,
  symbol: r.trading_symbol,
  transactionType: r.transaction_type,
  type: r.type,
  quantity: r.quantity,
  product: r.product,
  rules: jsonList<GttRuleSnapshot>(r.rules),
  told: jsonList<string>(r.told).filter((k): k is string => typeof k === "string"),
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class GttRepository {
  private readonly byId: Statement<[string], GttRow>;
  private readonly ownerStmt: Statement<[string], { user_id: number }>;
  private readonly forUserStmt: Statement<[number, number], GttRow>;
  private readonly upsertStmt: Statement<[WriteParams]>;

  constructor(
    db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.byId = db.prepare("SELECT * FROM gtt_orders WHERE gtt_order_id = ?");
    this.ownerStmt = db.prepare("SELECT user_id FROM gtt_orders WHERE gtt_order_id = ?");
    this.forUserStmt = db.prepare("SELECT * FROM gtt_orders WHERE user_id = ? ORDER BY created_at DESC, gtt_order_id DESC LIMIT ?");
    // The owner and created_at never change; what a source may not send (the symbol, the
    // product, the expiry) keeps its stored value; `told` is kept unless given.
    this.upsertStmt = db.prepare(
      `INSERT INTO gtt_orders (gtt_order_id, user_id, instrument_key, trading_symbol, transaction_type, type, quantity, product,
         rules, told, expires_at, created_at, updated_at)
       VALUES (@gttOrderId, @userId, @instrumentKey, @symbol, @transactionType, @type, @quantity, @product,
         @rules, COALESCE(@told, '[]'), @expiresAt, @createdAt, @now)
       ON CONFLICT (gtt_order_id) DO UPDATE SET
         instrument_key = excluded.instrument_key,
         trading_symbol = COALESCE(excluded.trading_symbol, trading_symbol),
         transaction_type = excluded.transaction_type,
         type = excluded.type,
         quantity = excluded.quantity,
         product = COALESCE(excluded.product, product),
         rules = excluded.rules,
         told = COALESCE(@told, told),
         expires_at = COALESCE(excluded.expires_at, expires_at),
         updated_at = excluded.updated_at`,
    );
  }

  get(gttOrderId: string): StoredGtt | undefined {
    const r = this.byId.get(gttOrderId);
    return r && toStored(r);
  }

  /** Our user who owns the GTT, or undefined when the bot does not know it. */
  owner(gttOrderId: string): number | undefined {
    return this.ownerStmt.get(gttOrderId)?.user_id;
  }

  /** A user's GTTs, newest first. */
  forUser(userId: number, limit = 200): StoredGtt[] {
    return this.forUserStmt.all(userId, limit).map(toStored);
  }

  /**
   * Stores a snapshot: a new GTT belongs to `userId`, a known one keeps its owner. The rules
   * are written as given (merge them first to keep further-along statuses, see mergeRules);
   * `told` replaces the stored list when given. Returns the stored GTT.
   */
  upsert(userId: number, snapshot: GttSnapshot, told?: readonly string[], now: number = this.now()): StoredGtt {
    this.upsertStmt.run({
      gttOrderId: snapshot.gttOrderId,
      userId,
      instrumentKey: snapshot.instrumentKey,
      symbol: snapshot.symbol,
      transactionType: snapshot.transactionType,
      type: snapshot.type,
      quantity: snapshot.quantity,
      product: snapshot.product,
      rules: JSON.stringify(snapshot.rules),
      told: told === undefined ? null : JSON.stringify([...told]),
      expiresAt: snapshot.expiresAt,
      createdAt: snapshot.createdAt ?? now,
      now,
    });
    return this.get(snapshot.gttOrderId)!;
  }
}
