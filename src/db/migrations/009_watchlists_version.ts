/**
 * A version number bumped by triggers whenever a watchlist gains or loses an instrument, so
 * the instruments in use (watched or alerted on by an active user) are worked out again only
 * when this or the rules version moves, not by a UNION over every rule at every poll.
 */
export const sql = /* sql */ `
INSERT INTO app_meta (key, value) VALUES ('watchlists_version', 1);

CREATE TRIGGER watchlists_bump_version_insert AFTER INSERT ON watchlists
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'watchlists_version';
END;

CREATE TRIGGER watchlists_bump_version_delete AFTER DELETE ON watchlists
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'watchlists_version';
END;

CREATE TRIGGER watchlists_bump_version_update AFTER UPDATE OF user_id, instrument_key ON watchlists
BEGIN
  UPDATE app_meta SET value = value + 1 WHERE key = 'watchlists_version';
END;
`;
