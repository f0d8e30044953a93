/** Orders the bot knows about (placed by it or seen in the book) and the admin audit log. */
export const sql = /* sql */ `
CREATE TABLE orders (
  order_id         TEXT PRIMARY KEY,
  user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  tag              TEXT,
  instrument_key   TEXT NOT NULL,
  trading_symbol   TEXT,
  transaction_type TEXT NOT NULL CHECK (transaction_type IN ('BUY', 'SELL')),
  order_type       TEXT NOT NULL,
  product          TEXT,
  quantity         INTEGER NOT NULL,
  price            REAL,
  trigger_price    REAL,
  status           TEXT NOT NULL,
  filled_quantity  INTEGER NOT NULL DEFAULT 0,
  average_price    REAL,
  status_message   TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX orders_user_created ON orders (user_id, created_at DESC);
CREATE INDEX orders_tag ON orders (tag) WHERE tag IS NOT NULL;

CREATE TABLE audit_log (
  id                INTEGER PRIMARY KEY,
  actor_telegram_id INTEGER,
  action            TEXT NOT NULL,
  target            TEXT,
  details           TEXT,
  created_at        INTEGER NOT NULL
);
CREATE INDEX audit_log_created_at ON audit_log (created_at DESC);
`;
