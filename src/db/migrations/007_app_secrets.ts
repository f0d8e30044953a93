/** Secrets the service makes for itself on first start (e.g. the key that signs unsubscribe links). */
export const sql = /* sql */ `
CREATE TABLE app_secrets (
  name       TEXT PRIMARY KEY,
  value      BLOB NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
`;
