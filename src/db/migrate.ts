import type { Database } from "better-sqlite3";
import { MIGRATIONS, type Migration } from "./migrations/index.js";

export class SchemaTooNewError extends Error {
  constructor(
    readonly dbVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `The database is at schema version ${dbVersion}, but this build only knows up to ${knownVersion}. ` +
        `It was written by a newer version of the bot: upgrade the bot, or restore a backup made by this version.`,
    );
    this.name = "SchemaTooNewError";
  }
}

/** The schema version without writing anything: 0 for a database the bot never migrated. */
export function readSchemaVersion(db: Database): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!exists) return 0;
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  return row.v ?? 0;
}

/** Throws SchemaTooNewError, before anything is written, if the database is newer than `migrations`. */
export function assertSchemaNotTooNew(db: Database, migrations: readonly Migration[] = MIGRATIONS): void {
  const current = readSchemaVersion(db);
  const known = migrations.at(-1)?.version ?? 0;
  if (current > known) throw new SchemaTooNewError(current, known);
}

export function schemaVersion(db: Database): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Applies every migration newer than the database, each in its own transaction, and
 * returns the versions applied. A database newer than this build is refused, not touched.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, now = Date.now): number[] {
  assertSchemaNotTooNew(db, migrations);
  const current = schemaVersion(db);
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, now());
    })();
    applied.push(m.version);
  }
  return applied;
}
