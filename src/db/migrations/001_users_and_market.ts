/** Users and what they watch: accounts, the instruments master, watchlists, alert rules, candles. */
export const sql = /* sql */ `
CREATE TABLE users (
  id                      INTEGER PRIMARY KEY,
  telegram_id             INTEGER UNIQUE,
  telegram_username       TEXT,
  display_name            TEXT,
  email                   TEXT,
  email_verified          INTEGER NOT NULL DEFAULT 0,
  channels                TEXT NOT NULL DEFAULT 'telegram' CHECK (channels IN ('telegram', 'email', 'both')),
  quiet_start             TEXT,
  quiet_end               TEXT,
  muted_until             INTEGER,
  status                  TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'banned')),
  upstox_user_id          TEXT,
  upstox_token_enc        BLOB,
  upstox_token_expires_at INTEGER,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL
);

CREATE TABLE instruments (
  instrument_key  TEXT PRIMARY KEY,
  trading_symbol  TEXT NOT NULL,
  name            TEXT,
  exchange        TEXT NOT NULL,
  segment         TEXT NOT NULL,
  instrument_type TEXT,
  isin            TEXT,
  lot_size        INTEGER,
  tick_size       REAL,
  expiry          INTEGER,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX instruments_symbol ON instruments (trading_symbol COLLATE NOCASE, segment);

CREATE TABLE watchlists (
  user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  instrument_key TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (user_id, instrument_key)
) WITHOUT ROWID;
CREATE INDEX watchlists_instrument ON watchlists (instrument_key);

CREATE TABLE alert_rules (
  id             INTEGER PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  instrument_key TEXT NOT NULL,
  kind           TEXT NOT NULL,
  params         TEXT NOT NULL,
  frequency      TEXT NOT NULL DEFAULT 'once' CHECK (frequency IN ('once', 'once_per_bar', 'every')),
  cooldown_s     INTEGER NOT NULL DEFAULT 0,
  status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'triggered', 'expired', 'deleted')),
  state          TEXT,
  expires_at     INTEGER,
  snoozed_until  INTEGER,
  last_fired_at  INTEGER,
  fire_count     INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX alert_rules_active_instrument ON alert_rules (instrument_key) WHERE status = 'active';
CREATE INDEX alert_rules_user ON alert_rules (user_id);

CREATE TABLE candles (
  instrument_key TEXT NOT NULL,
  interval       TEXT NOT NULL,
  ts             INTEGER NOT NULL,
  open           REAL NOT NULL,
  high           REAL NOT NULL,
  low            REAL NOT NULL,
  close          REAL NOT NULL,
  volume         INTEGER NOT NULL DEFAULT 0,
  oi             INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (instrument_key, interval, ts)
) WITHOUT ROWID;
`;
