import type { Database, Statement } from "better-sqlite3";

export interface AuditEntry {
  id: number;
  actorTelegramId: number | null;
  action: string;
  target: string | null;
  details: unknown;
  createdAt: number;
}

export class AuditLog {
  private readonly insertStmt: Statement<[number | null, string, string | null, string | null, number]>;
  private readonly recentStmt: Statement<
    [number],
    { id: number; actor_telegram_id: number | null; action: string; target: string | null; details: string | null; created_at: number }
  >;

  constructor(
    db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare("INSERT INTO audit_log (actor_telegram_id, action, target, details, created_at) VALUES (?, ?, ?, ?, ?)");
    this.recentStmt = db.prepare("SELECT * FROM audit_log ORDER BY created_at DESC, id DESC LIMIT ?");
  }

  record(actorTelegramId: number | null, action: string, target?: string | null, details?: unknown): void {
    this.insertStmt.run(actorTelegramId, action, target ?? null, details === undefined ? null : JSON.stringify(details), this.now());
  }

  recent(limit = 20): AuditEntry[] {
    return this.recentStmt.all(limit).map((r) => ({
      id: r.id,
      actorTelegramId: r.actor_telegram_id,
      action: r.action,
      target: r.target,
      details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
      createdAt: r.created_at,
    }));
  }
}
