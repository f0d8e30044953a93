import type { Database, Statement } from "better-sqlite3";

export type Channels = "telegram" | "email" | "both";

export interface User {
  id: number;
  telegramId: number | null;
  displayName: string | null;
  email: string | null;
  emailVerified: boolean;
  channels: Channels;
  status: "active" | "inactive" | "banned";
  upstoxTokenExpiresAt: number | null;
}

interface UserRow {
  id: number;
  telegram_id: number | null;
  display_name: string | null;
  email: string | null;
  email_verified: number;
  channels: Channels;
  status: User["status"];
  upstox_token_expires_at: number | null;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  telegramId: r.telegram_id,
  displayName: r.display_name,
  email: r.email,
  emailVerified: r.email_verified === 1,
  channels: r.channels,
  status: r.status,
  upstoxTokenExpiresAt: r.upstox_token_expires_at,
});

export interface NewUser {
  telegramId?: number | null;
  displayName?: string | null;
  email?: string | null;
  emailVerified?: boolean;
  channels?: Channels;
}

export class UserRepository {
  private readonly byId: Statement<[number], UserRow>;
  private readonly byTelegram: Statement<[number], UserRow>;
  private readonly insertStmt: Statement<[number | null, string | null, string | null, number, Channels, number, number]>;
  private readonly countStmt: Statement<[number], { total: number; active: number; linked: number; expired: number }>;

  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {
    this.byId = db.prepare("SELECT * FROM users WHERE id = ?");
    this.byTelegram = db.prepare("SELECT * FROM users WHERE telegram_id = ?");
    this.insertStmt = db.prepare(
      `INSERT INTO users (telegram_id, display_name, email, email_verified, channels, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.countStmt = db.prepare(
      `SELECT COUNT(*) AS total,
              COALESCE(SUM(status = 'active'), 0) AS active,
              COALESCE(SUM(upstox_token_enc IS NOT NULL), 0) AS linked,
              COALESCE(SUM(upstox_token_enc IS NOT NULL AND upstox_token_expires_at <= ?), 0) AS expired
       FROM users`,
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

  create(u: NewUser): User {
    const t = this.now();
    const info = this.insertStmt.run(
      u.telegramId ?? null,
      u.displayName ?? null,
      u.email ?? null,
      u.emailVerified ? 1 : 0,
      u.channels ?? "telegram",
      t,
      t,
    );
    return this.get(Number(info.lastInsertRowid))!;
  }

  counts(): { total: number; active: number; linked: number; expired: number } {
    return this.countStmt.get(this.now())!;
  }
}
