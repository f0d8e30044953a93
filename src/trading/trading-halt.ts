import type { Database, Statement } from "better-sqlite3";

/**
 * The admin's /halt: one row in SQLite that every process reads at every card and every
 * Confirm, so a halt refuses the very next order whichever process handles it.
 */
export class TradingHalt {
  private readonly readStmt: Statement<[], { value: number }>;
  private readonly writeStmt: Statement<[number]>;

  constructor(db: Database) {
    this.readStmt = db.prepare("SELECT value FROM app_meta WHERE key = 'trading_halted'");
    this.writeStmt = db.prepare("UPDATE app_meta SET value = ? WHERE key = 'trading_halted'");
  }

  /** When trading was halted (epoch ms), or undefined while it runs. */
  haltedSince(): number | undefined {
    const v = this.readStmt.get()?.value ?? 0;
    return v > 0 ? v : undefined;
  }

  halt(now: number): boolean {
    if (this.haltedSince() !== undefined) return false;
    this.writeStmt.run(now);
    return true;
  }

  resume(): boolean {
    if (this.haltedSince() === undefined) return false;
    this.writeStmt.run(0);
    return true;
  }
}
