import { loadConfig, readEnvFile } from "../config/load.js";
import { backupDatabase } from "../db/backup.js";
import { openDatabase } from "../db/open.js";
import { runCli } from "./run.js";

/** `npm run backup`: one online backup now, with the configured retention. */
runCli(async () => {
  const config = loadConfig({ ...readEnvFile(), ...process.env });
  const db = openDatabase(config.databasePath);
  try {
    const r = await backupDatabase(db, config.backup.dir, config.backup.retention);
    return `Backup written: ${r.file} (${(r.bytes / 1024).toFixed(1)} KiB)` + (r.removed.length ? `\nRemoved ${r.removed.length} old backup(s).` : "");
  } finally {
    db.close();
  }
});
