import type { Database } from "better-sqlite3";
import { backupDatabase, type BackupResult } from "../db/backup.js";

/** Online backups of the bot's database into BACKUP_DIR, keeping the newest BACKUP_RETENTION. */
export class Backups {
  constructor(
    private readonly db: Database,
    private readonly opts: { dir: string; retention: number; clock: () => number },
  ) {}

  /** Writes a backup now (named by the clock) and removes the copies beyond the retention. */
  take(): Promise<BackupResult> {
    return backupDatabase(this.db, this.opts.dir, this.opts.retention, new Date(this.opts.clock()));
  }
}
