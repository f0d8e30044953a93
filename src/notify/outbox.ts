import type { Database, Statement } from "better-sqlite3";
import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { AlertRule, RuleState } from "../signals/rules.js";

/**
 * The outbox is the source of truth for delivery: a notification exists as a row with a
 * unique dedup key before any job is queued, and a row is `sent` only after the send worked.
 */

export type Channel = "telegram" | "email";
export type NotificationStatus = "pending" | "sent" | "dead";

export interface Notification {
  id: number;
  userId: number | null;
  channel: Channel;
  kind: string;
  dedupKey: string;
  payload: Record<string, unknown>;
  status: NotificationStatus;
  attempts: number;
  lastError: string | null;
  createdAt: number;
}

interface NotificationRow {
  id: number;
  user_id: number | null;
  channel: Channel;
  kind: string;
  dedup_key: string;
  payload: string;
  status: NotificationStatus;
  attempts: number;
  last_error: string | null;
  created_at: number;
}

const toNotification = (r: NotificationRow): Notification => ({
  id: r.id,
  userId: r.user_id,
  channel: r.channel,
  kind: r.kind,
  dedupKey: r.dedup_key,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
  status: r.status,
  attempts: r.attempts,
  lastError: r.last_error,
  createdAt: r.created_at,
});

export interface Firing {
  rule: AlertRule;
  /** The notification kind (template): price_alert or indicator_alert. Defaults to price_alert. */
  kind?: "price_alert" | "indicator_alert";
  state: RuleState;
  finished?: "triggered" | "expired" | "paused";
  firedAt: number;
  price: number;
  /** Stored with the signal and handed to the template. */
  payload: Record<string, unknown>;
  /** The owner's channels, as the Notifier decided them (Notifier.recordFiring). */
  channels: Channel[];
  /** Held until then (a watchlist rule past its messages a minute): delivered then, grouped with what else waits. */
  notBefore?: number;
}

export class Outbox {
  private readonly insertSignal: Statement;
  private readonly insertNotification: Statement;
  private readonly idByDedup: Statement<[string], { id: number }>;
  private readonly byId: Statement<[number], NotificationRow>;
  private readonly markSentStmt: Statement<[number, number, number]>;
  private readonly markFailedStmt: Statement<[string, number | null, number, number]>;
  private readonly markDeadStmt: Statement<[string, number, number]>;
  private readonly staleStmt: Statement<[number, number], { id: number }>;
  private readonly pendingForUserStmt: Statement<[number, string, number, number], NotificationRow>;
  private readonly heldUntilStmt: Statement<[number, number], { next_attempt_at: number }>;
  private readonly signalsSinceStmt: Statement<[number], { n: number }>;
  private readonly userSignalsStmt: Statement<[number, number]>;
  private readonly userSignalsForKeyStmt: Statement<[number, string, number]>;
  private readonly ruleFireCountStmt: Statement<[number], { fire_count: number; status: string }>;
  private readonly userSignalStmt: Statement<[number, number], { rule_id: number | null; instrument_key: string; price: number | null; created_at: number }>;

  constructor(
    private readonly db: Database,
    private readonly rules: AlertRuleRepository,
    private readonly now: () => number = Date.now,
  ) {
    this.insertSignal = db.prepare(
      `INSERT INTO signals (rule_id, user_id, instrument_key, kind, price, payload, created_at)
       VALUES (@ruleId, @userId, @instrumentKey, @kind, @price, @payload, @createdAt)`,
    );
    this.insertNotification = db.prepare(
      `INSERT INTO notifications (user_id, channel, kind, dedup_key, payload, signal_id, status, attempts, next_attempt_at, created_at, updated_at)
       VALUES (@userId, @channel, @kind, @dedupKey, @payload, @signalId, 'pending', 0, @notBefore, @createdAt, @createdAt)
       ON CONFLICT (dedup_key) DO NOTHING`,
    );
    this.idByDedup = db.prepare("SELECT id FROM notifications WHERE dedup_key = ?");
    this.byId = db.prepare("SELECT * FROM notifications WHERE id = ?");
    this.markSentStmt = db.prepare(
      "UPDATE notifications SET status = 'sent', sent_at = ?, updated_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
    );
    this.markFailedStmt = db.prepare(
      "UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
    );
    this.markDeadStmt = db.prepare(
      "UPDATE notifications SET status = 'dead', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
    );
    // A held row (never tried, due later) waits for its time; a failed one goes with the next message as before.
    this.pendingForUserStmt = db.prepare(
      "SELECT * FROM notifications WHERE user_id = ? AND channel = ? AND status = 'pending' AND (attempts > 0 OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
    );
    this.heldUntilStmt = db.prepare("SELECT next_attempt_at FROM notifications WHERE id = ? AND status = 'pending' AND attempts = 0 AND next_attempt_at > ?");
    this.staleStmt = db.prepare("SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?");
    this.signalsSinceStmt = db.prepare("SELECT COUNT(*) AS n FROM signals WHERE created_at >= ?");
    this.userSignalsStmt = db.prepare("SELECT * FROM signals WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?");
    this.userSignalsForKeyStmt = db.prepare("SELECT * FROM signals WHERE user_id = ? AND instrument_key = ? ORDER BY created_at DESC, id DESC LIMIT ?");
    this.ruleFireCountStmt = db.prepare("SELECT fire_count, status FROM alert_rules WHERE id = ?");
    this.userSignalStmt = db.prepare("SELECT rule_id, instrument_key, price, created_at FROM signals WHERE id = ? AND user_id = ?");
  }

  /**
   * Writes the signal, the rule's new state and one notification row per channel in a
   * single transaction, and returns the ids of the rows to deliver. The dedup key is the
   * rule's firing number, so replaying the same evaluation cannot notify twice.
   *
   * Returns undefined, writing nothing, when the rule has changed since it was read: another
   * poll (a second worker process, or a slow poll overlapping the next) already recorded
   * this firing, or the rule is no longer active. Without this check both pollers would add
   * a signal row and count the firing twice (their notifications shared a dedup key).
   */
  recordFiring(f: Firing): { signalId: number; notificationIds: number[] } | undefined {
    return this.db.transaction(() => {
      const current = this.ruleFireCountStmt.get(f.rule.id);
      if (!current || current.status !== "active" || current.fire_count !== f.rule.fireCount) return undefined;
      const signal = this.insertSignal.run({
        ruleId: f.rule.id,
        userId: f.rule.userId,
        instrumentKey: f.rule.instrumentKey,
        kind: f.rule.kind,
        price: f.price,
        payload: JSON.stringify(f.payload),
        createdAt: f.firedAt,
      });
      const signalId = Number(signal.lastInsertRowid);
      this.rules.recordFired(f.rule.id, f.state, f.firedAt);
      if (f.finished) this.rules.setFinished(f.rule.id, f.finished);
      const fireNo = f.rule.fireCount + 1;
      const notificationIds = f.channels.map((channel) =>
        this.enqueueRow({
          userId: f.rule.userId,
          channel,
          kind: f.kind ?? "price_alert",
          dedupKey: `rule:${f.rule.id}:fire:${fireNo}:${channel}`,
          payload: { ...f.payload, signalId },
          signalId,
          ...(f.notBefore !== undefined ? { notBefore: f.notBefore } : {}),
        }),
      );
      return { signalId, notificationIds };
    })();
  }

  /**
   * Adds one row (or finds the existing one with the same dedup key) and returns its id. The
   * app writes rows through the Notifier (src/notify/notifier.ts), which decides the channels.
   */
  enqueueRow(n: {
    userId: number | null;
    channel: Channel;
    kind: string;
    dedupKey: string;
    payload: Record<string, unknown>;
    signalId?: number;
    notBefore?: number;
  }): number {
    const createdAt = this.now();
    this.insertNotification.run({
      userId: n.userId,
      channel: n.channel,
      kind: n.kind,
      dedupKey: n.dedupKey,
      payload: JSON.stringify(n.payload),
      signalId: n.signalId ?? null,
      createdAt,
      notBefore: n.notBefore ?? createdAt,
    });
    return this.idByDedup.get(n.dedupKey)!.id;
  }

  get(id: number): Notification | undefined {
    const r = this.byId.get(id);
    return r && toNotification(r);
  }

  markSent(id: number): boolean {
    const t = this.now();
    return this.markSentStmt.run(t, t, id).changes === 1;
  }

  markFailed(id: number, error: string, retryAt: number): void {
    this.markFailedStmt.run(error.slice(0, 1000), retryAt, this.now(), id);
  }

  markDead(id: number, error: string): void {
    this.markDeadStmt.run(error.slice(0, 1000), this.now(), id);
  }

  /** A user's pending rows on one channel, oldest first: what one grouped message can carry. */
  pendingFor(userId: number, channel: Channel, limit = 20): Notification[] {
    return this.pendingForUserStmt.all(userId, channel, this.now(), limit).map(toNotification);
  }

  /** When a held row may go (Firing.notBefore); undefined for a row due now. */
  heldUntil(id: number): number | undefined {
    return this.heldUntilStmt.get(id, this.now())?.next_attempt_at;
  }

  /** Pending rows whose retry time has passed: what a crash or a lost job left behind. */
  duePending(olderThan: number, limit = 500): number[] {
    return this.staleStmt.all(olderThan, limit).map((r) => r.id);
  }

  /** A user's latest signals, newest first, optionally for one instrument. */
  recentSignals(
    userId: number,
    instrumentKey: string | undefined,
    limit = 10,
  ): Array<{ id: number; instrumentKey: string; kind: string; price: number | null; payload: Record<string, unknown>; createdAt: number }> {
    const rows = (instrumentKey ? this.userSignalsForKeyStmt.all(userId, instrumentKey, limit) : this.userSignalsStmt.all(userId, limit)) as Array<{
      id: number;
      instrument_key: string;
      kind: string;
      price: number | null;
      payload: string;
      created_at: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      instrumentKey: r.instrument_key,
      kind: r.kind,
      price: r.price,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
      createdAt: r.created_at,
    }));
  }

  /** One of this user's signals (what an alert's buttons point at); undefined when not theirs or pruned. */
  signalOf(signalId: number, userId: number): { ruleId: number | null; instrumentKey: string; price: number | null; createdAt: number } | undefined {
    const r = this.userSignalStmt.get(signalId, userId);
    return r ? { ruleId: r.rule_id, instrumentKey: r.instrument_key, price: r.price, createdAt: r.created_at } : undefined;
  }

  signalsSince(ts: number): number {
    return this.signalsSinceStmt.get(ts)!.n;
  }
}
