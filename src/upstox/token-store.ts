import type { Database, Statement } from "better-sqlite3";
import { decryptToken, encryptToken, tokenExpiry } from "./token-crypto.js";

export interface UpstoxSession {
  /** Our user id: rate limits and expiry are tracked per user. */
  userId: number;
  accessToken: string;
}

export type TokenState = { state: "none" } | { state: "valid"; expiresAt: number } | { state: "expired"; expiredAt: number };

/** Users' Upstox access tokens, encrypted in the users table. */
export class TokenStore {
  private readonly saveStmt: Statement<[Buffer, number, string | null, number, number]>;
  private readonly loadStmt: Statement<[number], { upstox_token_enc: Buffer | null; upstox_token_expires_at: number | null }>;
  private readonly expireStmt: Statement<[{ now: number; id: number }]>;
  private readonly anyValidStmt: Statement<[{ now: number; preferred: number | null }], { id: number; upstox_token_enc: Buffer }>;
  private readonly clearStmt: Statement<[number, number]>;
  private readonly linkedStmt: Statement<[number], { id: number }>;

  constructor(
    db: Database,
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.saveStmt = db.prepare("UPDATE users SET upstox_token_enc = ?, upstox_token_expires_at = ?, upstox_user_id = ?, updated_at = ? WHERE id = ?");
    this.loadStmt = db.prepare("SELECT upstox_token_enc, upstox_token_expires_at FROM users WHERE id = ?");
    // Only moves a still-valid token to expired, so exactly one caller learns it just expired.
    this.expireStmt = db.prepare(
      "UPDATE users SET upstox_token_expires_at = @now, updated_at = @now WHERE id = @id AND upstox_token_enc IS NOT NULL AND upstox_token_expires_at > @now",
    );
    this.anyValidStmt = db.prepare(
      `SELECT id, upstox_token_enc FROM users
       WHERE upstox_token_enc IS NOT NULL AND upstox_token_expires_at > @now AND status = 'active'
       ORDER BY telegram_id IS @preferred DESC, upstox_token_expires_at DESC, id LIMIT 1`,
    );
    this.clearStmt = db.prepare("UPDATE users SET upstox_token_enc = NULL, upstox_token_expires_at = NULL, updated_at = ? WHERE id = ?");
    this.linkedStmt = db.prepare("SELECT id FROM users WHERE upstox_token_enc IS NOT NULL AND upstox_token_expires_at > ? AND status = 'active' ORDER BY id");
  }

  /** Active users with a valid token, in one query (no token is decrypted). */
  linkedUserIds(): number[] {
    return this.linkedStmt.all(this.now()).map((r) => r.id);
  }

  /** Stores a freshly issued token; its expiry is the next 03:30 IST. Returns that expiry. */
  save(userId: number, accessToken: string, upstoxUserId: string | null, issuedAt = new Date(this.now())): number {
    const expiresAt = tokenExpiry(issuedAt).getTime();
    this.saveStmt.run(encryptToken(accessToken, this.key), expiresAt, upstoxUserId, this.now(), userId);
    return expiresAt;
  }

  state(userId: number): TokenState {
    const row = this.loadStmt.get(userId);
    if (!row?.upstox_token_enc || row.upstox_token_expires_at === null) return { state: "none" };
    return row.upstox_token_expires_at > this.now()
      ? { state: "valid", expiresAt: row.upstox_token_expires_at }
      : { state: "expired", expiredAt: row.upstox_token_expires_at };
  }

  /** The user's session if their token is still valid. */
  session(userId: number): UpstoxSession | undefined {
    const row = this.loadStmt.get(userId);
    if (!row?.upstox_token_enc || (row.upstox_token_expires_at ?? 0) <= this.now()) return undefined;
    return { userId, accessToken: decryptToken(row.upstox_token_enc, this.key) };
  }

  /** Any user's valid session, for market data that is the same for everyone. */
  /**
   * The token that serves market data everyone shares (quotes, candles, history), so all of
   * it counts against one user's Upstox limits: the preferred user's (UPSTOX_MARKET_DATA_USER,
   * a Telegram id) while valid, else the token valid longest, ties going to the earliest user.
   */
  marketDataSession(preferredTelegramId?: number): UpstoxSession | undefined {
    const row = this.anyValidStmt.get({ now: this.now(), preferred: preferredTelegramId ?? null });
    return row && { userId: row.id, accessToken: decryptToken(row.upstox_token_enc, this.key) };
  }

  /** Marks the token expired now. True only for the call that changed it: report once. */
  markExpired(userId: number): boolean {
    return this.expireStmt.run({ now: this.now(), id: userId }).changes === 1;
  }

  clear(userId: number): void {
    this.clearStmt.run(this.now(), userId);
  }
}
