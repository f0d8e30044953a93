import BetterSqlite3, { type Database } from "better-sqlite3";
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { MIGRATIONS } from "./migrations/index.js";

const BACKUP_NAME = /^bot-(\d{8}T\d{6}\d{3}Z)\.sqlite$/;

export interface BackupResult {
  file: string;
  bytes: number;
  removed: string[];
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

/** Backups in `dir`, oldest first. */
export function listBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => BACKUP_NAME.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Takes an online backup (SQLite's backup API: consistent while the bot keeps writing),
 * then keeps only the newest `retention` copies.
 */
export async function backupDatabase(db: Database, dir: string, retention: number, now = new Date()): Promise<BackupResult> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bot-${stamp(now)}.sqlite`);
  // Written under a temporary name so a crash never leaves a half-file that looks like a backup.
  const partial = `${file}.partial`;
  await db.backup(partial);
  // The copy inherits the live database's WAL flag; a backup is a single self-contained file,
  // so switch it to a rollback journal. Otherwise every read-only open (verify, restore) leaves
  // -wal and -shm files beside it, and reading it from read-only media fails.
  useRollbackJournal(partial);
  renameSync(partial, file);
  const all = listBackups(dir);
  const removed = all.slice(0, Math.max(0, all.length - retention));
  for (const old of removed) {
    unlinkSync(old);
    removeSidecars(old);
  }
  return { file, bytes: statSync(file).size, removed };
}

function useRollbackJournal(file: string): void {
  const copy = new BetterSqlite3(file, { fileMustExist: true });
  try {
    copy.pragma("journal_mode = DELETE");
  } finally {
    copy.close();
  }
}

/** Removes the -wal/-shm files a read-only open of a WAL-mode file may have left. */
function removeSidecars(file: string): void {
  for (const suffix of ["-wal", "-shm"]) {
    const f = file + suffix;
    if (existsSync(f)) unlinkSync(f);
  }
}

/**
 * Opens a backup read-only for `fn`, then removes any -wal/-shm files that opening created
 * (only a backup made in WAL mode, e.g. by an older build, gets them; its -wal is empty).
 */
async function withReadonly<T>(file: string, fn: (db: Database) => T | Promise<T>): Promise<T> {
  const hadSidecars = ["-wal", "-shm"].some((s) => existsSync(file + s));
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    return await fn(db);
  } finally {
    db.close();
    if (!hadSidecars && (!existsSync(`${file}-wal`) || statSync(`${file}-wal`).size === 0)) removeSidecars(file);
  }
}

/** The synchronous twin of withReadonly, for checks that need no await. */
function withReadonlySync<T>(file: string, fn: (db: Database) => T): T {
  const hadSidecars = ["-wal", "-shm"].some((s) => existsSync(file + s));
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
    if (!hadSidecars && (!existsSync(`${file}-wal`) || statSync(`${file}-wal`).size === 0)) removeSidecars(file);
  }
}

export class BackupInvalidError extends Error {
  override name = "BackupInvalidError";
}

/** Checks that a file is an intact bot database this build can read. */
export function verifyBackup(file: string): { schemaVersion: number } {
  if (!existsSync(file)) throw new BackupInvalidError(`No backup file at ${file}`);
  try {
    return withReadonlySync(file, (src) => {
      const integrity = src.pragma("integrity_check", { simple: true });
      if (integrity !== "ok") throw new BackupInvalidError(`${file} failed the integrity check: ${String(integrity)}`);
      const hasMigrations = src.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
      if (!hasMigrations) throw new BackupInvalidError(`${file} is a SQLite database but not one of this bot's (no schema_migrations table)`);
      const { v } = src.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
      const known = MIGRATIONS.at(-1)!.version;
      if ((v ?? 0) > known) throw new BackupInvalidError(`${file} has schema version ${v}, newer than this build (${known})`);
      return { schemaVersion: v ?? 0 };
    });
  } catch (err) {
    if (err instanceof BackupInvalidError) throw err;
    throw new BackupInvalidError(`${file} is not a readable bot database: ${(err as Error).message}`);
  }
}

export interface RestoreResult {
  restoredFrom: string;
  /** A copy of the database as it was just before the restore, so a restore can itself be undone. */
  safetyCopy: string | undefined;
  schemaVersion: number;
}

/**
 * Replaces the live database with a backup. Copies page by page through SQLite's backup
 * API (never a raw file copy), so the WAL and any open readers stay consistent.
 */
export async function restoreDatabase(backupFile: string, databasePath: string, now = new Date()): Promise<RestoreResult> {
  const { schemaVersion } = verifyBackup(backupFile);
  let safetyCopy: string | undefined;
  if (existsSync(databasePath)) {
    const live = new BetterSqlite3(databasePath, { fileMustExist: true });
    try {
      safetyCopy = path.join(path.dirname(databasePath), `pre-restore-${stamp(now)}.sqlite`);
      await live.backup(safetyCopy);
    } finally {
      live.close();
    }
    useRollbackJournal(safetyCopy);
  } else {
    mkdirSync(path.dirname(databasePath), { recursive: true });
  }
  await withReadonly(backupFile, (src) => src.backup(databasePath));
  return { restoredFrom: backupFile, safetyCopy, schemaVersion };
}
