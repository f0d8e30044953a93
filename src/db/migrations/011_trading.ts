/**
 * Trading from chat. `order_cards`: every confirmation card (place, modify or cancel an order,
 * place or cancel a GTT), who may confirm it, until when, and what came of it; a card moves
 * out of `open` exactly once, which is what makes a double tap place one order. Its id is in
 * the order's tag, so an unclear placement is looked up by it. `gtt_orders`: the GTTs the bot
 * knows of, each rule's last seen status and which of their transitions were already told.
 * `trading_halted` (0 or the halt's epoch ms) is the admin's /halt, read at every confirm.
 */
export const sql = /* sql */ `
CREATE TABLE order_cards (
  id          TEXT PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  action      TEXT NOT NULL CHECK (action IN ('place', 'modify', 'cancel', 'gtt_place', 'gtt_cancel')),
  request     TEXT NOT NULL,
  summary     TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'open'
              CHECK (status IN ('open', 'confirming', 'done', 'failed', 'unknown', 'dismissed', 'expired')),
  outcome     TEXT,
  chat_id     INTEGER,
  message_id  INTEGER,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  decided_at  INTEGER
);
CREATE INDEX order_cards_user_created ON order_cards (user_id, created_at);

CREATE TABLE gtt_orders (
  gtt_order_id     TEXT PRIMARY KEY,
  user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  instrument_key   TEXT NOT NULL,
  trading_symbol   TEXT,
  transaction_type TEXT NOT NULL CHECK (transaction_type IN ('BUY', 'SELL')),
  type             TEXT NOT NULL,
  quantity         INTEGER NOT NULL,
  product          TEXT,
  rules            TEXT NOT NULL DEFAULT '[]',
  told             TEXT NOT NULL DEFAULT '[]',
  expires_at       INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX gtt_orders_user ON gtt_orders (user_id, created_at);

INSERT INTO app_meta (key, value) VALUES ('trading_halted', 0);
`;
