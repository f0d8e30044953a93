import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { AlertRuleRepository } from "../../src/db/repositories/alert-rules.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { WatchlistRepository } from "../../src/db/repositories/watchlists.js";
import { removeDir, tempDir } from "../support/env.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const INFY = "NSE_EQ|INE009A01021";
const TCS = "NSE_EQ|INE467B01029";

describe("instruments in use", () => {
  let dir: string;
  let db: Database;
  let other: Database;
  beforeEach(() => {
    dir = tempDir("uab-watchlists-");
    db = openDatabase(path.join(dir, "bot.sqlite"));
    // A second connection stands for another process changing things under this one's cache.
    other = openDatabase(path.join(dir, "bot.sqlite"));
  });
  afterEach(() => {
    db.close();
    other.close();
    removeDir(dir);
  });

  it("follows watchlists, rules and users' status, also when another process changes them", () => {
    const watchlists = new WatchlistRepository(db);
    const users = new UserRepository(other);
    const rules = new AlertRuleRepository(other);
    const theirWatchlists = new WatchlistRepository(other);
    const sorted = () => [...watchlists.instrumentKeysInUse()].sort();

    const a = users.create({ telegramId: 1, channels: "telegram" });
    const b = users.create({ telegramId: 2, channels: "telegram" });
    expect(sorted()).toEqual([]);

    theirWatchlists.add(a.id, RELIANCE);
    expect(sorted()).toEqual([RELIANCE]);
    // Asked again with nothing changed: the same answer (from the cache).
    expect(watchlists.instrumentKeysInUse()).toBe(watchlists.instrumentKeysInUse());

    const rule = rules.create({ userId: b.id, instrumentKey: INFY, kind: "price_above", params: { level: 1500 } });
    expect(sorted()).toEqual([RELIANCE, INFY]);

    watchlists.add(b.id, TCS);
    expect(sorted()).toEqual([RELIANCE, INFY, TCS]);

    users.update(b.id, { status: "banned" });
    expect(sorted()).toEqual([RELIANCE]);
    users.update(b.id, { status: "active" });
    expect(sorted()).toEqual([RELIANCE, INFY, TCS]);

    rules.delete(rule.id, b.id);
    theirWatchlists.remove(a.id, RELIANCE);
    expect(sorted()).toEqual([TCS]);
  });

  it("watchedKeys: the same array until a watchlist changes (in any process), or a recheck after a user's status moved", () => {
    const watchlists = new WatchlistRepository(db);
    const users = new UserRepository(other);
    const theirWatchlists = new WatchlistRepository(other);
    const a = users.create({ telegramId: 1, channels: "telegram" });
    theirWatchlists.add(a.id, RELIANCE);
    theirWatchlists.add(a.id, INFY);
    const first = watchlists.watchedKeys();
    expect(first).toEqual([RELIANCE, INFY].sort());
    expect(watchlists.watchedKeys()).toBe(first);
    // A rule is not a watch: the set and the array stay.
    new AlertRuleRepository(other).create({ userId: a.id, instrumentKey: TCS, kind: "price_above", params: { level: 1 }, frequency: "once" });
    expect(watchlists.watchedKeys()).toBe(first);
    theirWatchlists.add(a.id, TCS);
    expect(watchlists.watchedKeys()).toEqual([RELIANCE, INFY, TCS].sort());
    users.update(a.id, { status: "banned" });
    // Only a recheck sees a status change (the stream rechecks when its rule book reloaded).
    expect(watchlists.watchedKeys(true)).toEqual([]);
  });
});
