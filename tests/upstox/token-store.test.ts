import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import { TokenStore } from "../../src/upstox/token-store.js";

describe("TokenStore", () => {
  let dir: string;
  let db: Database;
  let now: number;
  const key = randomBytes(32);

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "uab-tokens-"));
    db = openDatabase(path.join(dir, "bot.sqlite"));
    now = Date.parse("2026-11-25T10:00:00+05:30");
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores the token encrypted, with expiry at the next 03:30 IST", () => {
    const users = new UserRepository(db, () => now);
    const store = new TokenStore(db, key, () => now);
    const u = users.create({ telegramId: 1 });
    const expiresAt = store.save(u.id, "plain-access-token-123", "UPX1");
    expect(new Date(expiresAt).toISOString()).toBe(new Date("2026-11-26T03:30:00+05:30").toISOString());
    const row = db.prepare("SELECT upstox_token_enc, upstox_user_id FROM users WHERE id = ?").get(u.id) as { upstox_token_enc: Buffer; upstox_user_id: string };
    expect(row.upstox_token_enc.toString("latin1")).not.toContain("plain-access-token-123");
    expect(row.upstox_user_id).toBe("UPX1");
    expect(store.session(u.id)).toEqual({ userId: u.id, accessToken: "plain-access-token-123" });
    expect(store.state(u.id)).toEqual({ state: "valid", expiresAt });
  });

  it("reports an expiry exactly once, and then has no session", () => {
    const users = new UserRepository(db, () => now);
    const store = new TokenStore(db, key, () => now);
    const u = users.create({ telegramId: 1 });
    store.save(u.id, "tok", null);
    expect(store.markExpired(u.id)).toBe(true);
    expect(store.markExpired(u.id)).toBe(false);
    expect(store.session(u.id)).toBeUndefined();
    expect(store.state(u.id).state).toBe("expired");
  });

  it("lets time expire tokens, and marketDataSession picks a user whose token is still valid", () => {
    const users = new UserRepository(db, () => now);
    const store = new TokenStore(db, key, () => now);
    const a = users.create({ telegramId: 1 });
    const b = users.create({ telegramId: 2 });
    expect(store.marketDataSession()).toBeUndefined();
    store.save(a.id, "tok-a", null, new Date(Date.parse("2026-11-25T02:00:00+05:30")));
    store.save(b.id, "tok-b", null);
    expect(store.marketDataSession()?.accessToken).toBe("tok-b");
    store.markExpired(b.id);
    expect(store.marketDataSession()).toBeUndefined();
    expect(store.state(a.id).state).toBe("expired");
    expect(store.state(users.create({ telegramId: 3 }).id)).toEqual({ state: "none" });
  });
  it("serves market data from the operator's chosen token while valid, else the longest valid, ties to the earliest user", () => {
    const users = new UserRepository(db, () => now);
    const store = new TokenStore(db, key, () => now);
    const early = users.create({ telegramId: 11 });
    const late = users.create({ telegramId: 22 });
    const chosen = users.create({ telegramId: 33 });
    // Same day: every token ends at the same 03:30, so the earliest user wins the tie.
    store.save(late.id, "tok-late", null);
    store.save(early.id, "tok-early", null);
    store.save(chosen.id, "tok-chosen", null);
    expect(store.marketDataSession()?.accessToken).toBe("tok-early");
    expect(store.marketDataSession(33)?.accessToken).toBe("tok-chosen");
    // A later login (after 03:30) is valid a day longer than the others: it serves.
    store.save(late.id, "tok-late-2", null, new Date(now + 86_400_000));
    expect(store.marketDataSession()?.accessToken).toBe("tok-late-2");
    // The chosen user's login ended: the policy falls back instead of failing.
    store.markExpired(chosen.id);
    expect(store.marketDataSession(33)?.accessToken).toBe("tok-late-2");
    // A preferred id nobody has changes nothing.
    expect(store.marketDataSession(99)?.accessToken).toBe("tok-late-2");
  });
});
