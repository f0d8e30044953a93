/** What fired and what must be delivered: signals and the notifications outbox. */
export const sql = /* sql */ `
CREATE TABLE signals (
  id             INTEGER PRIMARY KEY,
  rule_id        INTEGER REFERENCES alert_rules (id) ON DELETE SET NULL,
  user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
  instrument_key TEXT NOT NULL,
  kind           TEXT NOT NULL,
  price          REAL,
  payload        TEXT NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE INDEX signals_created_at ON signals (created_at DESC);
CREATE INDEX signals_user_created ON signals (user_id, created_at DESC);

CREATE TABLE notifications (
  id              INTEGER PRIMARY KEY,
  user_id         INTEGER REFERENCES users (id) ON DELETE CASCADE,
  channel         TEXT NOT NULL CHECK (channel IN ('telegram', 'email')),
  kind            TEXT NOT NULL,
  dedup_key       TEXT NOT NULL UNIQUE,
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  next_attempt_at INTEGER,
  signal_id       INTEGER REFERENCES signals (id) ON DELETE SET NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  sent_at         INTEGER
);
CREATE INDEX notifications_pending ON notifications (next_attempt_at) WHERE status = 'pending';
`;
