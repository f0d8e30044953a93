/**
 * Named watchlists, and alert rules over a whole watchlist.
 *
 * A watchlist row now belongs to a list: '' is the trader's main list (every existing row),
 * any other name is one of their named lists.
 *
 * A rule over a list is a parent row (`watchlist` = the list's name, no instrument) that is
 * never evaluated itself, and one child row per member (`parent_id`), evaluated like any rule
 * with its own state, so each symbol fires, cools down and is auto-paused on its own. The
 * triggers keep the children following the list whatever code path changes it: a symbol
 * added gets a child of every live parent rule on that list, a symbol removed loses its
 * children. The rules-version triggers of migration 004 fire on these writes as on any other.
 */
export const sql = /* sql */ `
CREATE TABLE watchlists_named (
  user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  list           TEXT NOT NULL DEFAULT '',
  instrument_key TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (user_id, list, instrument_key)
) WITHOUT ROWID;
INSERT INTO watchlists_named (user_id, list, instrument_key, created_at)
  SELECT user_id, '', instrument_key, created_at FROM watchlists;
DROP TABLE watchlists;
ALTER TABLE watchlists_named RENAME TO watchlists;
CREATE INDEX watchlists_instrument ON watchlists (instrument_key);

CREATE TRIGGER watchlists_bump_version_insert AFTER INSERT ON watchlists
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'watchlists_version';
END;

CREATE TRIGGER watchlists_bump_version_delete AFTER DELETE ON watchlists
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'watchlists_version';
END;

CREATE TRIGGER watchlists_bump_version_update AFTER UPDATE OF user_id, list, instrument_key ON watchlists
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'watchlists_version';
END;

ALTER TABLE alert_rules ADD COLUMN watchlist TEXT;
ALTER TABLE alert_rules ADD COLUMN parent_id INTEGER REFERENCES alert_rules (id) ON DELETE CASCADE;
CREATE INDEX alert_rules_parent ON alert_rules (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX alert_rules_user_watchlist ON alert_rules (user_id, watchlist) WHERE watchlist IS NOT NULL;

CREATE TRIGGER watchlists_member_added AFTER INSERT ON watchlists
BEGIN
  INSERT INTO alert_rules (user_id, instrument_key, kind, params, frequency, cooldown_s, status, state, expires_at, snoozed_until, parent_id, created_at, updated_at)
  SELECT p.user_id, NEW.instrument_key, p.kind, p.params, p.frequency, p.cooldown_s, p.status, '{"armed":true}', p.expires_at, p.snoozed_until, p.id,
         NEW.created_at, NEW.created_at
  FROM alert_rules p
  WHERE p.user_id = NEW.user_id AND p.watchlist = NEW.list AND p.status IN ('active', 'paused')
    AND (p.expires_at IS NULL OR p.expires_at > NEW.created_at)
    AND NOT EXISTS (SELECT 1 FROM alert_rules c WHERE c.parent_id = p.id AND c.instrument_key = NEW.instrument_key AND c.status != 'deleted');
END;

CREATE TRIGGER watchlists_member_removed AFTER DELETE ON watchlists
BEGIN
  UPDATE alert_rules SET status = 'deleted'
  WHERE instrument_key = OLD.instrument_key AND status != 'deleted'
    AND parent_id IN (SELECT id FROM alert_rules WHERE user_id = OLD.user_id AND watchlist = OLD.list);
END;
`;
