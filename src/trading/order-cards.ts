import { randomBytes } from "node:crypto";
import type { Database, Statement } from "better-sqlite3";
import type { CardRequest } from "./card-request.js";

export type CardStatus = "open" | "confirming" | "done" | "failed" | "unknown" | "dismissed" | "expired";

export interface OrderCard {
  id: string;
  userId: number;
  request: CardRequest;
  /** One line for /audit and the logs: "BUY 5 RELIANCE LIMIT @ 1450 (D)". */
  summary: string;
  status: CardStatus;
  outcome: Record<string, unknown> | null;
  chatId: number | null;
  messageId: number | null;
  createdAt: number;
  expiresAt: number;
}

/** Why a Confirm did not take the card. */
export type ClaimRefusal = "missing" | "not_yours" | "expired" | "decided";

interface Row {
  id: string;
  user_id: number;
  request: string;
  summary: string;
  status: CardStatus;
  outcome: string | null;
  chat_id: number | null;
  message_id: number | null;
  created_at: number;
  expires_at: number;
}

const toCard = (r: Row): OrderCard => ({
  id: r.id,
  userId: r.user_id,
  request: JSON.parse(r.request) as CardRequest,
  summary: r.summary,
  status: r.status,
  outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as Record<string, unknown>),
  chatId: r.chat_id,
  messageId: r.message_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/**
 * Confirmation cards in SQLite, shared by every process. A card leaves `open` exactly once,
 * in one UPDATE that checks owner, status and expiry together: two taps, a replayed callback
 * or a second device race for that row and only one wins.
 */
export class OrderCards {
  private readonly insertStmt: Statement;
  private readonly getStmt: Statement<[string], Row>;
  private readonly claimStmt: Statement<[number, string, number, number]>;
  private readonly finishStmt: Statement<[string, string | null, number, string]>;
  private readonly dismissStmt: Statement<[number, string, number]>;
  private readonly expireStmt: Statement<[string, number]>;
  private readonly messageStmt: Statement<[number, number, string]>;
  private readonly placedSinceStmt: Statement<[number, number], { n: number }>;

  constructor(db: Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO order_cards (id, user_id, action, request, summary, status, created_at, expires_at)
       VALUES (@id, @userId, @action, @request, @summary, 'open', @createdAt, @expiresAt)`,
    );
    this.getStmt = db.prepare("SELECT * FROM order_cards WHERE id = ?");
    this.claimStmt = db.prepare(
      "UPDATE order_cards SET status = 'confirming', decided_at = ? WHERE id = ? AND user_id = ? AND status = 'open' AND expires_at > ?",
    );
    this.finishStmt = db.prepare("UPDATE order_cards SET status = ?, outcome = ?, decided_at = ? WHERE id = ?");
    this.dismissStmt = db.prepare("UPDATE order_cards SET status = 'dismissed', decided_at = ? WHERE id = ? AND user_id = ? AND status = 'open'");
    this.expireStmt = db.prepare("UPDATE order_cards SET status = 'expired' WHERE id = ? AND status = 'open' AND expires_at <= ?");
    this.messageStmt = db.prepare("UPDATE order_cards SET chat_id = ?, message_id = ? WHERE id = ?");
    // Orders sent from chat count whether Upstox took them or the answer was lost, on the day they were confirmed.
    this.placedSinceStmt = db.prepare(
      "SELECT COUNT(*) AS n FROM order_cards WHERE user_id = ? AND decided_at >= ? AND action IN ('place', 'gtt_place') AND status IN ('confirming', 'done', 'unknown')",
    );
  }

  create(c: { userId: number; request: CardRequest; summary: string; now: number; ttlMs: number }): OrderCard {
    const id = randomBytes(6).toString("hex");
    this.insertStmt.run({
      id,
      userId: c.userId,
      action: c.request.action,
      request: JSON.stringify(c.request),
      summary: c.summary,
      createdAt: c.now,
      expiresAt: c.now + c.ttlMs,
    });
    return this.get(id)!;
  }

  get(id: string): OrderCard | undefined {
    const r = this.getStmt.get(id);
    return r ? toCard(r) : undefined;
  }

  /** Takes an open card for its owner; the reason when it cannot be taken. */
  claim(id: string, userId: number, now: number): { ok: true; card: OrderCard } | { ok: false; reason: ClaimRefusal; card?: OrderCard } {
    if (this.claimStmt.run(now, id, userId, now).changes === 1) return { ok: true, card: this.get(id)! };
    const card = this.get(id);
    if (!card) return { ok: false, reason: "missing" };
    if (card.userId !== userId) return { ok: false, reason: "not_yours" };
    if (card.status === "open" && card.expiresAt <= now) {
      this.expireStmt.run(id, now);
      return { ok: false, reason: "expired", card: this.get(id)! };
    }
    return { ok: false, reason: card.status === "expired" ? "expired" : "decided", card };
  }

  finish(id: string, status: Exclude<CardStatus, "open" | "confirming">, outcome: Record<string, unknown> | null, now: number): void {
    this.finishStmt.run(status, outcome === null ? null : JSON.stringify(outcome), now, id);
  }

  /** The owner's Cancel on an open card; false when it was already decided or is not theirs. */
  dismiss(id: string, userId: number, now: number): boolean {
    return this.dismissStmt.run(now, id, userId).changes === 1;
  }

  attachMessage(id: string, chatId: number, messageId: number): void {
    this.messageStmt.run(chatId, messageId, id);
  }

  /** Orders and GTTs this user sent from chat since `since` (the IST day's start, for the daily limit). */
  placedSince(userId: number, since: number): number {
    return this.placedSinceStmt.get(userId, since)?.n ?? 0;
  }
}
