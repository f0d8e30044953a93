import type { Job } from "bullmq";
import type { BackupResult } from "../src/db/backup.js";
import type { Services } from "../src/services.js";

/** The scheduled online backup of the SQLite database, keeping BACKUP_RETENTION copies (the same service /backup uses). */
export async function backupJob(_job: Job, s: Services): Promise<BackupResult> {
  const result = await s.backups.take();
  s.log.info({ file: result.file, bytes: result.bytes, removed: result.removed.length }, "database backup written");
  return result;
}
