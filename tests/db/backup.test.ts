import BetterSqlite3, { type Database } from "better-sqlite3";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackupInvalidError, backupDatabase, listBackups, restoreDatabase, verifyBackup } from "../../src/db/backup.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { openDatabase } from "../../src/db/open.js";

const LATEST = MIGRATIONS.at(-1)!.version;

let dir: string;
let dbPath: string;
let backupDir: string;
const handles: Database[] = [];

function track(db: Database): Database {
  handles.push(db);
  return db;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "uab-backup-"));
  dbPath = path.join(dir, "live", "bot.sqlite");
  backupDir = path.join(dir, "backups");
});

afterEach(() => {
  for (const db of handles.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function addUser(db: Database, telegramId: number, name: string): void {
  db.prepare("INSERT INTO users (telegram_id, display_name, created_at, updated_at) VALUES (?, ?, 1, 1)").run(telegramId, name);
}

const userNames = (db: Database) =>
  (db.prepare("SELECT display_name FROM users ORDER BY telegram_id").all() as { display_name: string }[]).map((r) => r.display_name);

function readNames(file: string): string[] {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    return userNames(db);
  } finally {
    db.close();
  }
}

/** Dates a day apart, from a fixed start. */
const day = (n: number) => new Date(Date.UTC(2025, 0, 1 + n, 21, 0, 0, 123));

describe("backupDatabase", () => {
  it("writes a consistent, verifiable copy while the source stays open and in use", async () => {
    const db = track(openDatabase(dbPath));
    addUser(db, 1, "Asha");
    addUser(db, 2, "Bala");

    const result = await backupDatabase(db, backupDir, 5, day(0));
    expect(path.dirname(result.file)).toBe(backupDir);
    expect(path.basename(result.file)).toBe("bot-20250101T210000123Z.sqlite");
    expect(result.bytes).toBeGreaterThan(0);
    expect(result.removed).toEqual([]);
    expect(readNames(result.file)).toEqual(["Asha", "Bala"]);
    expect(verifyBackup(result.file)).toEqual({ schemaVersion: LATEST });
    // No half-written file is left behind under the temporary name.
    expect(readdirSync(backupDir).filter((f) => f.endsWith(".partial"))).toEqual([]);

    // The source is still usable, and later writes do not leak into the finished backup.
    addUser(db, 3, "Chitra");
    expect(userNames(db)).toEqual(["Asha", "Bala", "Chitra"]);
    expect(readNames(result.file)).toEqual(["Asha", "Bala"]);
  });

  it("keeps only the newest N copies", async () => {
    const db = track(openDatabase(dbPath));
    const retention = 3;
    const made: string[] = [];
    const removedAll: string[] = [];
    for (let i = 0; i < retention + 3; i++) {
      addUser(db, 100 + i, `user-${i}`);
      const r = await backupDatabase(db, backupDir, retention, day(i));
      made.push(r.file);
      removedAll.push(...r.removed);
      expect(listBackups(backupDir).length).toBe(Math.min(i + 1, retention));
    }
    expect(listBackups(backupDir)).toEqual(made.slice(-retention));
    expect(removedAll).toEqual(made.slice(0, 3));
    for (const f of removedAll) expect(existsSync(f)).toBe(false);
    // The newest copy holds everything written before it.
    expect(readNames(made.at(-1)!)).toHaveLength(retention + 3);
  });

  it("leaves unrelated files in the backup folder alone", async () => {
    const db = track(openDatabase(dbPath));
    await backupDatabase(db, backupDir, 1, day(0));
    writeFileSync(path.join(backupDir, "notes.txt"), "keep");
    writeFileSync(path.join(backupDir, "bot-manual.sqlite"), "keep");
    await backupDatabase(db, backupDir, 1, day(1));
    expect(readdirSync(backupDir).sort()).toEqual(["bot-20250102T210000123Z.sqlite", "bot-manual.sqlite", "notes.txt"]);
  });
});

describe("backup files", () => {
  it("are single self-contained files: rollback journal, no -wal/-shm left by verify or restore", async () => {
    const db = track(openDatabase(dbPath));
    addUser(db, 1, "Asha");
    const { file } = await backupDatabase(db, backupDir, 5, day(0));
    const probe = new BetterSqlite3(file, { readonly: true });
    expect(probe.pragma("journal_mode", { simple: true })).toBe("delete");
    probe.close();
    verifyBackup(file);
    await restoreDatabase(file, dbPath, day(1));
    expect(readdirSync(backupDir)).toEqual([path.basename(file)]);
    // The live database stays in WAL mode after a restore from a rollback-journal backup.
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    const fresh = track(new BetterSqlite3(dbPath));
    expect(fresh.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("verifying a WAL-mode backup from an older build leaves no -wal/-shm files behind", async () => {
    const legacy = path.join(backupDir, "bot-20240101T000000000Z.sqlite");
    const src = track(openDatabase(dbPath));
    addUser(src, 5, "Legacy");
    mkdirSync(backupDir, { recursive: true });
    await src.backup(legacy);
    const probe = new BetterSqlite3(legacy, { readonly: true });
    expect(probe.pragma("journal_mode", { simple: true })).toBe("wal");
    probe.close();
    for (const s of ["-wal", "-shm"]) rmSync(legacy + s, { force: true });

    expect(verifyBackup(legacy)).toEqual({ schemaVersion: LATEST });
    expect(readdirSync(backupDir)).toEqual([path.basename(legacy)]);
    await restoreDatabase(legacy, path.join(dir, "elsewhere", "bot.sqlite"), day(1));
    expect(readdirSync(backupDir)).toEqual([path.basename(legacy)]);
    expect(readNames(path.join(dir, "elsewhere", "bot.sqlite"))).toEqual(["Legacy"]);
  });
});

describe("listBackups", () => {
  it("lists backups oldest first regardless of creation order, and [] for a missing folder", async () => {
    expect(listBackups(path.join(dir, "nope"))).toEqual([]);
    const db = track(openDatabase(dbPath));
    await backupDatabase(db, backupDir, 10, day(5));
    await backupDatabase(db, backupDir, 10, day(1));
    await backupDatabase(db, backupDir, 10, new Date(Date.UTC(2024, 11, 31, 23, 59, 59, 999)));
    expect(listBackups(backupDir).map((f) => path.basename(f))).toEqual([
      "bot-20241231T235959999Z.sqlite",
      "bot-20250102T210000123Z.sqlite",
      "bot-20250106T210000123Z.sqlite",
    ]);
  });
});

describe("restoreDatabase", () => {
  it("brings back the old data and keeps a safety copy of what it replaced", async () => {
    const db = track(openDatabase(dbPath));
    addUser(db, 1, "Before");
    const { file } = await backupDatabase(db, backupDir, 5, day(0));
    addUser(db, 2, "After");
    db.prepare("UPDATE users SET display_name = 'Changed' WHERE telegram_id = 1").run();
    db.close();

    const r = await restoreDatabase(file, dbPath, day(1));
    expect(r.restoredFrom).toBe(file);
    expect(r.schemaVersion).toBe(LATEST);
    expect(readNames(dbPath)).toEqual(["Before"]);

    expect(r.safetyCopy).toBeDefined();
    expect(path.dirname(r.safetyCopy!)).toBe(path.dirname(dbPath));
    expect(readNames(r.safetyCopy!)).toEqual(["Changed", "After"]);

    // The restored database opens normally and is fully migrated.
    const reopened = track(openDatabase(dbPath));
    expect(userNames(reopened)).toEqual(["Before"]);
    expect(reopened.pragma("integrity_check", { simple: true })).toBe("ok");
  });

  it("works while another connection has the live database open in WAL mode", async () => {
    const writer = track(openDatabase(dbPath));
    addUser(writer, 1, "Original");
    const { file } = await backupDatabase(writer, backupDir, 5, day(0));
    addUser(writer, 2, "Later");

    const reader = track(new BetterSqlite3(dbPath));
    expect(reader.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(userNames(reader)).toEqual(["Original", "Later"]);

    const r = await restoreDatabase(file, dbPath, day(1));
    expect(readNames(r.safetyCopy!)).toEqual(["Original", "Later"]);

    // Both open connections see the restored data on their next query.
    expect(userNames(reader)).toEqual(["Original"]);
    expect(userNames(writer)).toEqual(["Original"]);
    expect(reader.pragma("integrity_check", { simple: true })).toBe("ok");
    // And the writer can keep writing to the restored database.
    addUser(writer, 3, "New");
    expect(userNames(reader)).toEqual(["Original", "New"]);
  });

  it("creates the database when there is none, with no safety copy", async () => {
    const src = track(openDatabase(path.join(dir, "src.sqlite")));
    addUser(src, 9, "Fresh");
    const { file } = await backupDatabase(src, backupDir, 5, day(0));
    const target = path.join(dir, "new", "place", "bot.sqlite");
    const r = await restoreDatabase(file, target, day(1));
    expect(r.safetyCopy).toBeUndefined();
    expect(readNames(target)).toEqual(["Fresh"]);
  });

  it("refuses an invalid backup without touching the live database", async () => {
    const db = track(openDatabase(dbPath));
    addUser(db, 1, "Live");
    const junk = path.join(dir, "junk.sqlite");
    writeFileSync(junk, "this is not a database at all, just text ".repeat(50));
    await expect(restoreDatabase(junk, dbPath, day(1))).rejects.toBeInstanceOf(BackupInvalidError);
    expect(userNames(db)).toEqual(["Live"]);
    expect(readdirSync(path.dirname(dbPath)).some((f) => f.startsWith("pre-restore-"))).toBe(false);
  });
});

describe("verifyBackup", () => {
  it("rejects a file that is not SQLite", () => {
    const junk = path.join(dir, "junk.sqlite");
    writeFileSync(junk, "hello, I am a text file pretending to be a database\n".repeat(100));
    expect(() => verifyBackup(junk)).toThrow(BackupInvalidError);
    expect(() => verifyBackup(junk)).toThrow(/junk\.sqlite/);
  });

  it("rejects a SQLite database that is not the bot's", () => {
    const other = path.join(dir, "other.sqlite");
    const db = new BetterSqlite3(other);
    db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);");
    db.close();
    expect(() => verifyBackup(other)).toThrow(BackupInvalidError);
    expect(() => verifyBackup(other)).toThrow(/no schema_migrations/);
  });

  it("rejects a missing file", () => {
    const missing = path.join(dir, "missing.sqlite");
    expect(() => verifyBackup(missing)).toThrow(BackupInvalidError);
    expect(() => verifyBackup(missing)).toThrow(/No backup file/);
    // Checking must not create it.
    expect(existsSync(missing)).toBe(false);
  });

  it("rejects a backup made by a newer build", () => {
    const future = path.join(dir, "future.sqlite");
    const db = new BetterSqlite3(future);
    db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    db.prepare("INSERT INTO schema_migrations VALUES (?, 'future', 1)").run(LATEST + 1);
    db.close();
    expect(() => verifyBackup(future)).toThrow(/newer than this build/);
  });

  it("accepts a real backup and reports its schema version", async () => {
    const db = track(openDatabase(dbPath));
    const { file } = await backupDatabase(db, backupDir, 5, day(0));
    expect(verifyBackup(file)).toEqual({ schemaVersion: LATEST });
    expect(() => verifyBackup(file)).not.toThrow();
  });
});
