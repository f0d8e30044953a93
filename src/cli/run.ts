import { ConfigError } from "../config/load.js";
import { BackupInvalidError } from "../db/backup.js";

export class UsageError extends Error {
  override name = "UsageError";
}

/** Runs a one-shot command: prints its result, or a clear error without a stack trace. */
export function runCli(fn: () => Promise<string>): void {
  fn().then(
    (out) => {
      process.stdout.write(`${out}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      const known = err instanceof ConfigError || err instanceof UsageError || err instanceof BackupInvalidError;
      process.stderr.write(`${known ? err.message : String((err as Error)?.stack ?? err)}\n`);
      process.exit(err instanceof ConfigError ? 78 : err instanceof UsageError ? 64 : 1);
    },
  );
}
