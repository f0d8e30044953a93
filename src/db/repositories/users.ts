import { createHash, randomInt } from "node:crypto";
import type { Database, Statement } from "better-sqlite3";

export type Channels = "telegram" | "email" | "both";
export type AlertKindSetting = "on" | "silent" | "off";
/** Kinds of message a user can turn on, silent (no sound) or off. */
export const PREF_KINDS = ["price", "indicator", "portfolio", "orders"] as const;
export type PrefKind = (typeof PREF_KINDS)[number];

export interface User {
  id: number;
  telegramId: number | null;
  telegramUsername: string | null;
  displayName: string | null;
  email: string | null;
  emailVerified: boolean;
  emailPending: string | null;
  channels: Channels;
  status: "active" | "inactive" | "banned";
  upstoxTokenExpiresAt: number | null;
  /** Quiet hours in IST, "HH:MM" each, or null. */
  quietStart: string | null;
  quietEnd: string | null;
  mutedUntil: number | null;
  prefs: Partial<Record<PrefKind, AlertKindSetting>> & {
    /** Alert when a holding moves this % in a day. */
    holdingMovePct?: number;
    /** The trader's own trading limits (/limits), below the operator's. */
    maxOrderValue?: number;
    maxOrdersPerDay?: number;
    /** Price and indicator alerts carry their chart (a Telegram photo, an inline email image); off unless set. */
    alertCharts?: boolean;
  };
  createdAt: number;
}

interface UserRow {
  id: number;
  telegram_id: number | null;
  telegram_username: string | null;
  display_name: string | null;
  email: string | null;
  email_verified: number;
  email_pending: string | null;
  channels: Channels;
  status: User["status"];
  upstox_token_expires_at: number | null;
  quiet_start: string | null;
  quiet_end: string | null;
  muted_until: number | null;
  prefs: string;
  created_at: number;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  telegramId: r.telegram_id,
  telegramUsername: r.telegram_username,
  displayName: r.display_name,
  email: r.email,
  emailVerified: r.email_verified === 1,
  emailPending: r.email_pending,
  channels: r.channels,
  status: r.status,
  upstoxTokenExpiresAt: r.upstox_token_expires_at,
  quietStart: r.quiet_start,
  quietEnd: r.quiet_end,
  mutedUntil: r.muted_until,
  prefs: JSON.parse(r.prefs || "{}") as User["prefs"],
  createdAt: r.created_at,
});

export interface NewUser {
  telegramId?: number | null;
  telegramUsername?: string | null;
  displayName?: string | null;
  email?: string | null;
  emailVerified?: boolean;
  channels?: Channels;
}

const hashCode = (userId: number, code: string) => createHash("sha256").update(`${userId}:${code}`).digest("hex");
export const EMAIL_CODE_TTL_MS = 30 * 60_000;
const MAX_CODE_ATTEMPTS = 5;

export class UserRepository {
  private readonly byId: Statement<[number], UserRow>;
  private readonly byTelegram: Statement<[number], UserRow>;
  private readonly byUpstoxUser: Statement<[string], UserRow>;
  private readonly insertStmt: Statement<[number | null, string | null, string | null, string | null, number, Channels, number, number]>;
  private readonly countStmt: Statement<[number], { total: number; active: number; linked: number; expired: number }>;
  private readonly updateStmt: Statement<Record<string, unknown>>;
  private readonly listStmt: Statement<[number, number], UserRow>;
  private readonly activeIdsStmt: Statement<[], { id: number }>;
  private readonly startVerifyStmt: Statement<[string, string, number, number, number]>;
  private readonly codeStmt: Statement<
    [number],
    { email_pending: string | null; email_code_hash: string | null; email_code_expires_at: number | null; email_code_attempts: number }
  >;
  private readonly wrongCodeStmt: Statement<[number]>;
  private readonly verifiedStmt: Statement<[number, number]>;

  constructor(
    db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.byId = db.prepare("SELECT * FROM users WHERE id = ?");
    this.byTelegram = db.prepare("SELECT * FROM users WHERE telegram_id = ?");
    // Several chats may have linked one Upstox account: the one with the newest token wins.
    this.byUpstoxUser = db.prepare(
      `SELECT * FROM users WHERE upstox_user_id = ?
       ORDER BY (upstox_token_enc IS NOT NULL) DESC, upstox_token_expires_at DESC, id DESC LIMIT 1`,
    );
    this.insertStmt = db.prepare(
      `INSERT INTO users (telegram_id, telegram_username, display_name, email, email_verified, channels, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.countStmt = db.prepare(
      `SELECT COUNT(*) AS total,
              COALESCE(SUM(status = 'active'), 0) AS active,
              COALESCE(SUM(upstox_token_enc IS NOT NULL), 0) AS linked,
              COALESCE(SUM(upstox_token_enc IS NOT NULL AND upstox_token_expires_at <= ?), 0) AS expired
       FROM users`,
    );
    // One statement for every settings change: each column is kept unless its parameter is given.
    this.updateStmt = db.prepare(
      `UPDATE users SET
         telegram_username = CASE WHEN @setUsername THEN @username ELSE telegram_username END,
         display_name = CASE WHEN @setName THEN @name ELSE display_name END,
         channels = COALESCE(@channels, channels),
         status = COALESCE(@status, status),
         quiet_start = CASE WHEN @setQuiet THEN @quietStart ELSE quiet_start END,
         quiet_end = CASE WHEN @setQuiet THEN @quietEnd ELSE quiet_end END,
         muted_until = CASE WHEN @setMuted THEN @mutedUntil ELSE muted_until END,
         prefs = COALESCE(@prefs, prefs),
         updated_at = @now
       WHERE id = @id`,
    );
    this.listStmt = db.prepare("SELECT * FROM users ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?");
    this.activeIdsStmt = db.prepare("SELECT id FROM users WHERE status = 'active' AND telegram_id IS NOT NULL ORDER BY id");
    this.startVerifyStmt = db.prepare(
      "UPDATE users SET email_pending = ?, email_code_hash = ?, email_code_expires_at = ?, email_code_attempts = 0, updated_at = ? WHERE id = ?",
    );
    this.codeStmt = db.prepare("SELECT email_pending, email_code_hash, email_code_expires_at, email_code_attempts FROM users WHERE id = ?");
    this.wrongCodeStmt = db.prepare("UPDATE users SET email_code_attempts = email_code_attempts + 1 WHERE id = ?");
    this.verifiedStmt = db.prepare(
      `UPDATE users SET email = email_pending, email_verified = 1, email_pending = NULL, email_code_hash = NULL,
       email_code_expires_at = NULL, email_code_attempts = 0, updated_at = ? WHERE id = ?`,
    );
  }

  get(id: number): User | undefined {
    const r = this.byId.get(id);
    return r && toUser(r);
  }

  findByTelegramId(telegramId: number): User | undefined {
    const r = this.byTelegram.get(telegramId);
    return r && toUser(r);
  }

  /** The user linked to an Upstox account (order-update webhooks name the account, not our user). */
  findByUpstoxUserId(upstoxUserId: string): User | undefined {
    const r = this.byUpstoxUser.get(upstoxUserId);
    return r && toUser(r);
  }

  create(u: NewUser): User {
    const t = this.now();
    const info = this.insertStmt.run(
      u.telegramId ?? null,
      u.telegramUsername ?? null,
      u.displayName ?? null,
      u.email ?? null,
      u.emailVerified ? 1 : 0,
      u.channels ?? "telegram",
      t,
      t,
    );
    return this.get(Number(info.lastInsertRowid))!;
  }

  update(
    id: number,
    change: {
      username?: string | null;
      name?: string | null;
      channels?: Channels;
      status?: User["status"];
      quiet?: { start: string; end: string } | null;
      mutedUntil?: number | null;
      prefs?: User["prefs"];
    },
  ): User | undefined {
    this.updateStmt.run({
      id,
      now: this.now(),
      setUsername: change.username !== undefined ? 1 : 0,
      username: change.username ?? null,
      setName: change.name !== undefined ? 1 : 0,
      name: change.name ?? null,
      channels: change.channels ?? null,
      status: change.status ?? null,
      setQuiet: change.quiet !== undefined ? 1 : 0,
      quietStart: change.quiet?.start ?? null,
      quietEnd: change.quiet?.end ?? null,
      setMuted: change.mutedUntil !== undefined ? 1 : 0,
      mutedUntil: change.mutedUntil ?? null,
      prefs: change.prefs ? JSON.stringify(change.prefs) : null,
    });
    return this.get(id);
  }

  /** Starts verifying a new email address: returns the 6-digit code to send to it. */
  startEmailVerification(id: number, email: string): string {
    const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
    this.startVerifyStmt.run(email, hashCode(id, code), this.now() + EMAIL_CODE_TTL_MS, this.now(), id);
    return code;
  }

  /** Checks a code: on success the pending address becomes the verified one. */
  verifyEmail(id: number, code: string): "verified" | "wrong" | "expired" | "none" | "too many attempts" {
    const row = this.codeStmt.get(id);
    if (!row?.email_pending || !row.email_code_hash) return "none";
    if (row.email_code_attempts >= MAX_CODE_ATTEMPTS) return "too many attempts";
    if ((row.email_code_expires_at ?? 0) < this.now()) return "expired";
    if (hashCode(id, code.trim()) !== row.email_code_hash) {
      this.wrongCodeStmt.run(id);
      return "wrong";
    }
    this.verifiedStmt.run(this.now(), id);
    return "verified";
  }

  /** Newest first, for the admin's /users. */
  list(limit: number, offset = 0): User[] {
    return this.listStmt.all(limit, offset).map(toUser);
  }

  /** Everyone a broadcast reaches. */
  activeIds(): number[] {
    return this.activeIdsStmt.all().map((r) => r.id);
  }

  counts(): { total: number; active: number; linked: number; expired: number } {
    return this.countStmt.get(this.now())!;
  }
}
