import type { Job } from "bullmq";
import { backupDatabase, type BackupResult } from "../src/db/backup.js";
import type { Services } from "../src/services.js";

/** The scheduled online backup of the SQLite database, keeping BACKUP_RETENTION copies. */
export async function backupJob(_job: Job, s: Services): Promise<BackupResult> {
  const result = await backupDatabase(s.db, s.config.backup.dir, s.config.backup.retention, new Date(s.clock()));
  s.log.info({ file: result.file, bytes: result.bytes, removed: result.removed.length }, "database backup written");
  return result;
}
