import BetterSqlite3, { type Database } from "better-sqlite3";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate, schemaVersion, SchemaTooNewError } from "../../src/db/migrate.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { openDatabase } from "../../src/db/open.js";

const LATEST = MIGRATIONS.at(-1)!.version;
const TABLES = [
  "alert_rules",
  "app_meta",
  "app_secrets",
  "audit_log",
  "candle_folds",
  "candle_instruments",
  "candles",
  "candles_recent",
  "gtt_orders",
  "instruments",
  "notifications",
  "order_cards",
  "orders",
  "schema_migrations",
  "signals",
  "users",
  "watchlists",
];

let dir: string;
let dbFile: string;
const open: Database[] = [];

function track(db: Database): Database {
  open.push(db);
  return db;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "uab-migrate-"));
  dbFile = path.join(dir, "bot.sqlite");
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const tableNames = (db: Database) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

function insertUser(db: Database, telegramId: number, name: string): number {
  return Number(db.prepare("INSERT INTO users (telegram_id, display_name, created_at, updated_at) VALUES (?, ?, 1, 1)").run(telegramId, name).lastInsertRowid);
}

describe("openDatabase on an empty file", () => {
  it("creates every table and records every migration", () => {
    const db = track(openDatabase(dbFile));
    expect(tableNames(db)).toEqual(TABLES);
    expect(schemaVersion(db)).toBe(LATEST);
    const rows = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all();
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
  });

  it("creates missing parent folders", () => {
    const nested = path.join(dir, "a", "b", "bot.sqlite");
    const db = track(openDatabase(nested));
    expect(tableNames(db)).toContain("users");
  });

  it("uses WAL, foreign keys and a busy timeout", () => {
    const db = track(openDatabase(dbFile));
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
    // WAL is a property of the file: a second, plain connection sees it too.
    const other = track(new BetterSqlite3(dbFile));
    expect(other.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("keys candles by instrument in history and by minute in the recent table", () => {
    const db = track(openDatabase(dbFile));
    const pk = (table: string) =>
      (db.pragma(`table_info(${table})`) as { name: string; pk: number }[])
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name);
    expect(pk("candles")).toEqual(["instrument_id", "interval", "ts"]);
    expect(pk("candles_recent")).toEqual(["interval", "ts", "instrument_id"]);

    const insert = db.prepare("INSERT INTO candles (instrument_id, interval, ts, open, high, low, close) VALUES (?, ?, ?, 1, 1, 1, 1)");
    insert.run(1, 1, 1000);
    insert.run(1, 1440, 1000);
    insert.run(1, 1, 2000);
    expect(() => insert.run(1, 1, 1000)).toThrow(/UNIQUE constraint failed/);
  });

  it("indexes signals by created_at descending", () => {
    const db = track(openDatabase(dbFile));
    const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'signals'").all() as {
      name: string;
      sql: string | null;
    }[];
    const byCreatedAt = indexes.filter((i) => i.sql && /\(\s*created_at\s+DESC\s*\)/i.test(i.sql));
    expect(byCreatedAt.map((i) => i.name)).toEqual(["signals_created_at"]);
    // And the planner uses it for the "latest signals" query.
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM signals ORDER BY created_at DESC LIMIT 10").all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toContain("signals_created_at");
  });

  it("refuses a second notification with the same dedup_key", () => {
    const db = track(openDatabase(dbFile));
    const userId = insertUser(db, 111, "A");
    const insert = db.prepare(
      "INSERT INTO notifications (user_id, channel, kind, dedup_key, payload, created_at, updated_at) VALUES (?, 'telegram', 'price_alert', ?, '{}', 1, 1)",
    );
    insert.run(userId, "rule:1:fire:1000:telegram");
    insert.run(userId, "rule:1:fire:1000:email");
    expect(() => insert.run(userId, "rule:1:fire:1000:telegram")).toThrow(/UNIQUE constraint failed: notifications.dedup_key/);
    expect(db.prepare("SELECT COUNT(*) AS n FROM notifications").get()).toEqual({ n: 2 });
    const idx = db.pragma("index_list(notifications)") as { name: string; unique: number; origin: string }[];
    expect(idx.some((i) => i.unique === 1 && i.origin === "u")).toBe(true);
  });

  it("enforces foreign keys: deleting a user cascades to their alert rules", () => {
    const db = track(openDatabase(dbFile));
    const userId = insertUser(db, 222, "B");
    db.prepare("INSERT INTO alert_rules (user_id, instrument_key, kind, params, created_at, updated_at) VALUES (?, 'NSE_EQ|X', 'price_above', '{}', 1, 1)").run(
      userId,
    );
    expect(() =>
      db.prepare("INSERT INTO alert_rules (user_id, instrument_key, kind, params, created_at, updated_at) VALUES (999, 'K', 'k', '{}', 1, 1)").run(),
    ).toThrow(/FOREIGN KEY/);
    db.prepare("DELETE FROM users WHERE id = ?").run(userId);
    expect(db.prepare("SELECT COUNT(*) AS n FROM alert_rules").get()).toEqual({ n: 0 });
  });

  it("can skip migrations when asked", () => {
    const db = track(openDatabase(dbFile, { migrate: false }));
    expect(tableNames(db)).toEqual([]);
  });
});

describe("migrate", () => {
  it("brings a version-1 database to the latest version and keeps its rows", () => {
    const old = track(new BetterSqlite3(dbFile));
    expect(migrate(old, MIGRATIONS.slice(0, 1))).toEqual([1]);
    insertUser(old, 424242, "Old User");
    expect(tableNames(old)).not.toContain("signals");
    old.close();

    const db = track(openDatabase(dbFile));
    expect(schemaVersion(db)).toBe(LATEST);
    expect(tableNames(db)).toEqual(TABLES);
    expect(db.prepare("SELECT telegram_id, display_name FROM users").all()).toEqual([{ telegram_id: 424242, display_name: "Old User" }]);
    const versions = (db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]).map((r) => r.version);
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("applies nothing the second time", () => {
    const db = track(new BetterSqlite3(dbFile));
    let t = 1000;
    expect(migrate(db, MIGRATIONS, () => t)).toEqual(MIGRATIONS.map((m) => m.version));
    t = 2000;
    expect(migrate(db, MIGRATIONS, () => t)).toEqual([]);
    const rows = db.prepare("SELECT version, applied_at FROM schema_migrations").all() as { applied_at: number }[];
    expect(rows).toHaveLength(MIGRATIONS.length);
    expect(rows.every((r) => r.applied_at === 1000)).toBe(true);
  });

  it("rolls back a failing migration as a whole and records nothing for it", () => {
    const db = track(new BetterSqlite3(dbFile));
    const broken = [
      ...MIGRATIONS.slice(0, 1),
      { version: 2, name: "broken", sql: "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);" },
    ];
    expect(() => migrate(db, broken)).toThrow(/no such table/);
    expect(schemaVersion(db)).toBe(1);
    expect(tableNames(db)).not.toContain("half_done");
    // The real migrations then still apply cleanly.
    expect(migrate(db)).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
  });

  it("refuses a database newer than this build and leaves it untouched", () => {
    const setup = track(new BetterSqlite3(dbFile));
    migrate(setup, MIGRATIONS);
    const future = LATEST + 1;
    setup.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 5)").run(future);
    setup.exec("CREATE TABLE future_table (x INTEGER)");
    insertUser(setup, 7, "Keep me");
    const before = setup.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
    expect(setup.pragma("journal_mode", { simple: true })).toBe("delete");
    setup.close();
    const bytesBefore = readFileSync(dbFile);

    let caught: unknown;
    try {
      openDatabase(dbFile);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SchemaTooNewError);
    const err = caught as SchemaTooNewError;
    expect(err.dbVersion).toBe(future);
    expect(err.knownVersion).toBe(LATEST);
    expect(err.message).toMatch(/newer version of the bot/);
    // Not a byte changed: not even the journal mode was switched to WAL.
    expect(readFileSync(dbFile).equals(bytesBefore)).toBe(true);
    expect(existsSync(`${dbFile}-wal`)).toBe(false);

    const after = track(new BetterSqlite3(dbFile, { readonly: true }));
    expect(after.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all()).toEqual(before);
    expect(after.prepare("SELECT MAX(version) AS v FROM schema_migrations").get()).toEqual({ v: future });
    expect(after.prepare("SELECT display_name FROM users").all()).toEqual([{ display_name: "Keep me" }]);
  });

  it("calls migrate directly with the too-new check too", () => {
    const db = track(new BetterSqlite3(dbFile));
    migrate(db, MIGRATIONS);
    expect(() => migrate(db, MIGRATIONS.slice(0, 2))).toThrow(SchemaTooNewError);
    expect(schemaVersion(db)).toBe(LATEST);
  });
});
