/** Per-user settings the chat edits: alert kinds on/silent/off, and email verification. */
export const sql = /* sql */ `
ALTER TABLE users ADD COLUMN prefs TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN email_pending TEXT;
ALTER TABLE users ADD COLUMN email_code_hash TEXT;
ALTER TABLE users ADD COLUMN email_code_expires_at INTEGER;
ALTER TABLE users ADD COLUMN email_code_attempts INTEGER NOT NULL DEFAULT 0;
`;
