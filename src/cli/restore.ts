import { loadConfig, readEnvFile } from "../config/load.js";
import { listBackups, restoreDatabase } from "../db/backup.js";
import { runCli, UsageError } from "./run.js";

const USAGE = `usage: npm run restore -- <backup-file | --latest | --list>

Replaces the bot's database with a backup (stop the bot first). The current database is
kept as pre-restore-<time>.sqlite beside it, so a restore can be undone the same way.`;

runCli(async () => {
  const arg = process.argv[2];
  if (!arg || arg === "--help" || arg === "-h") throw new UsageError(USAGE);
  const config = loadConfig({ ...readEnvFile(), ...process.env });
  const backups = listBackups(config.backup.dir);
  if (arg === "--list") return backups.length ? backups.join("\n") : `No backups in ${config.backup.dir}`;
  let file = arg;
  if (arg === "--latest") {
    const latest = backups.at(-1);
    if (!latest) throw new UsageError(`No backups in ${config.backup.dir} to restore.`);
    file = latest;
  } else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}\n\n${USAGE}`);
  const r = await restoreDatabase(file, config.databasePath);
  return (
    `Restored ${config.databasePath} from ${r.restoredFrom} (schema version ${r.schemaVersion}).` +
    (r.safetyCopy ? `\nThe database as it was before is saved at ${r.safetyCopy}.` : "")
  );
});
