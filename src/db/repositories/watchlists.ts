import type { Database, Statement } from "better-sqlite3";

/** The list a trader's plain /watch adds to. */
export const MAIN_LIST = "";

export class WatchlistRepository {
  private readonly addStmt: Statement<[number, string, string, number]>;
  private readonly keysInUse: Statement<[], { instrument_key: string }>;
  private readonly removeStmt: Statement<[number, string, string]>;
  private readonly forUserStmt: Statement<[number, string], { instrument_key: string }>;
  private readonly listsStmt: Statement<[number], { list: string; n: number }>;
  private readonly clearStmt: Statement<[number, string]>;
  private readonly versionsStmt: Statement<[], { rules: number; watchlists: number }>;
  private inUse: { rules: number; watchlists: number; keys: readonly string[] } | undefined;
  private readonly watchedStmt: Statement<[], { instrument_key: string }>;
  private readonly watchlistsVersionStmt: Statement<[], { value: number }>;
  private watched: { version: number; keys: readonly string[] } | undefined;

  constructor(
    db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.addStmt = db.prepare("INSERT OR IGNORE INTO watchlists (user_id, list, instrument_key, created_at) VALUES (?, ?, ?, ?)");
    this.removeStmt = db.prepare("DELETE FROM watchlists WHERE user_id = ? AND list = ? AND instrument_key = ?");
    this.forUserStmt = db.prepare("SELECT instrument_key FROM watchlists WHERE user_id = ? AND list = ? ORDER BY created_at, instrument_key");
    this.listsStmt = db.prepare("SELECT list, COUNT(*) AS n FROM watchlists WHERE user_id = ? AND list != '' GROUP BY list ORDER BY list");
    this.clearStmt = db.prepare("DELETE FROM watchlists WHERE user_id = ? AND list = ?");
    // Coalescing: every key any active user watches or alerts on, once, however many users share it.
    this.keysInUse = db.prepare(
      `SELECT w.instrument_key FROM watchlists w JOIN users u ON u.id = w.user_id WHERE u.status = 'active'
       UNION
       SELECT r.instrument_key FROM alert_rules r JOIN users u ON u.id = r.user_id
       WHERE r.status = 'active' AND r.watchlist IS NULL AND u.status = 'active'`,
    );
    this.watchedStmt = db.prepare(
      "SELECT DISTINCT w.instrument_key FROM watchlists w JOIN users u ON u.id = w.user_id WHERE u.status = 'active' ORDER BY w.instrument_key",
    );
    this.watchlistsVersionStmt = db.prepare("SELECT value FROM app_meta WHERE key = 'watchlists_version'");
    // Both move on every change that can change the set above: rules (and users' status) by
    // migration 004's triggers, watchlists by 009's.
    this.versionsStmt = db.prepare(
      `SELECT (SELECT value FROM app_meta WHERE key = 'rules_version') AS rules,
              (SELECT value FROM app_meta WHERE key = 'watchlists_version') AS watchlists`,
    );
  }

  /**
   * True if it was not already on the list. `list` '' is the trader's main watchlist; a named
   * list exists while it has a symbol. Rules over the list gain this symbol (migration 012).
   */
  add(userId: number, instrumentKey: string, list = MAIN_LIST): boolean {
    return this.addStmt.run(userId, list, instrumentKey, this.now()).changes === 1;
  }

  /** True if it was on the list; rules over the list stop watching it. */
  remove(userId: number, instrumentKey: string, list = MAIN_LIST): boolean {
    return this.removeStmt.run(userId, list, instrumentKey).changes === 1;
  }

  /** One list's instruments, in the order they were added. */
  forUser(userId: number, list = MAIN_LIST): string[] {
    return this.forUserStmt.all(userId, list).map((r) => r.instrument_key);
  }

  /** The trader's named lists (not the main one) with their sizes, by name. */
  lists(userId: number): Array<{ name: string; size: number }> {
    return this.listsStmt.all(userId).map((r) => ({ name: r.list, size: r.n }));
  }

  /** Empties a list (a named one then no longer exists); returns how many symbols it had. */
  clear(userId: number, list: string): number {
    return this.clearStmt.run(userId, list).changes;
  }

  /**
   * The distinct instruments the bot must poll. Worked out again only when a rule, a user's
   * status or a watchlist changed (in any process): at 50,000 rules the query takes ~25 ms,
   * and every poll and candle fetch asks.
   */
  instrumentKeysInUse(): readonly string[] {
    const v = this.versionsStmt.get()!;
    if (this.inUse?.rules !== v.rules || this.inUse.watchlists !== v.watchlists) {
      this.inUse = { ...v, keys: this.keysInUse.all().map((r) => r.instrument_key) };
    }
    return this.inUse.keys;
  }

  /**
   * The distinct instruments active users watch (not those they only alert on), the same
   * array until a watchlist changes or `recheck` asks again: the stream pairs it with the
   * rule book, which already holds the alerted ones, and rechecks when the book reloaded
   * (a user's status moved, say) but not when one of its own rules merely fired.
   */
  watchedKeys(recheck = false): readonly string[] {
    const version = this.watchlistsVersionStmt.get()!.value;
    if (recheck || this.watched?.version !== version) {
      const keys = this.watchedStmt.all().map((r) => r.instrument_key);
      const same = this.watched && this.watched.keys.length === keys.length && keys.every((k, i) => k === this.watched!.keys[i]);
      this.watched = { version, keys: same ? this.watched!.keys : keys };
    }
    return this.watched.keys;
  }
}
