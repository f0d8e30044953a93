/**
 * A version number bumped by triggers whenever the set of active rules changes (a rule
 * added, deleted, paused, edited; a user banned), so each process keeps its rules in memory
 * and reloads them only when this number moves. Firing a rule (state, last_fired_at,
 * fire_count) deliberately does not bump it: that happens on the hot path.
 */
export const sql = /* sql */ `
CREATE TABLE app_meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO app_meta (key, value) VALUES ('rules_version', 1);

CREATE TRIGGER alert_rules_bump_version_insert AFTER INSERT ON alert_rules
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'rules_version';
END;

CREATE TRIGGER alert_rules_bump_version_delete AFTER DELETE ON alert_rules
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'rules_version';
END;

CREATE TRIGGER alert_rules_bump_version_update
AFTER UPDATE OF user_id, instrument_key, kind, params, frequency, cooldown_s, status, expires_at, snoozed_until ON alert_rules
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'rules_version';
END;

CREATE TRIGGER users_bump_rules_version AFTER UPDATE OF status ON users
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'rules_version';
END;
`;
