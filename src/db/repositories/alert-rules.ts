import type { Database, Statement } from "better-sqlite3";
import { initialRuleState, type AlertRule, type Frequency, type RuleKind, type RuleParams, type RuleState } from "../../signals/rules.js";

interface RuleRow {
  id: number;
  user_id: number;
  instrument_key: string;
  kind: RuleKind;
  params: string;
  frequency: Frequency;
  cooldown_s: number;
  expires_at: number | null;
  last_fired_at: number | null;
  fire_count: number;
  state: string | null;
  snoozed_until: number | null;
}

const toRule = (r: RuleRow): AlertRule => ({
  id: r.id,
  userId: r.user_id,
  instrumentKey: r.instrument_key,
  kind: r.kind,
  params: JSON.parse(r.params) as RuleParams,
  frequency: r.frequency,
  cooldownSeconds: r.cooldown_s,
  expiresAt: r.expires_at,
  lastFiredAt: r.last_fired_at,
  fireCount: r.fire_count,
  state: r.state ? (JSON.parse(r.state) as RuleState) : initialRuleState(),
  snoozedUntil: r.snoozed_until,
});

export interface NewRule {
  userId: number;
  instrumentKey: string;
  kind: RuleKind;
  params: RuleParams;
  frequency?: Frequency;
  cooldownSeconds?: number;
  expiresAt?: number | null;
}

export class AlertRuleRepository {
  private readonly insertStmt: Statement;
  private readonly activeFor: Statement<[string], RuleRow>;
  private readonly saveState: Statement<[string, number, number]>;
  private readonly markFired: Statement<[string, number, number, number]>;
  private readonly byId: Statement<[number | bigint], RuleRow>;
  private readonly finish: Statement<[string, number, number]>;
  private readonly countActive: Statement<[], { n: number }>;
  private readonly allActiveStmt: Statement<[], RuleRow>;
  private readonly forUserStmt: Statement<[number], RuleRow & { status: string }>;
  private readonly ownedStmt: Statement<[number, number], RuleRow & { status: string }>;
  private readonly deleteStmt: Statement<[number, number, number]>;
  private readonly snoozeStmt: Statement<[number | null, number, number, number]>;
  private readonly resumeStmt: Statement<[string, number, number, number]>;
  private readonly versionStmt: Statement<[], { value: number }>;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO alert_rules (user_id, instrument_key, kind, params, frequency, cooldown_s, expires_at, state, created_at, updated_at)
       VALUES (@userId, @instrumentKey, @kind, @params, @frequency, @cooldownSeconds, @expiresAt, @state, @now, @now)`,
    );
    this.activeFor = db.prepare(
      `SELECT r.* FROM alert_rules r JOIN users u ON u.id = r.user_id
       WHERE r.instrument_key = ? AND r.status = 'active' AND u.status = 'active'`,
    );
    this.saveState = db.prepare("UPDATE alert_rules SET state = ?, updated_at = ? WHERE id = ?");
    this.markFired = db.prepare("UPDATE alert_rules SET state = ?, last_fired_at = ?, fire_count = fire_count + 1, updated_at = ? WHERE id = ?");
    this.finish = db.prepare("UPDATE alert_rules SET status = ?, updated_at = ? WHERE id = ? AND status = 'active'");
    this.byId = db.prepare("SELECT * FROM alert_rules WHERE id = ?");
    this.countActive = db.prepare("SELECT COUNT(*) AS n FROM alert_rules WHERE status = 'active'");
    this.allActiveStmt = db.prepare(`SELECT r.* FROM alert_rules r JOIN users u ON u.id = r.user_id WHERE r.status = 'active' AND u.status = 'active'`);
    this.versionStmt = db.prepare("SELECT value FROM app_meta WHERE key = 'rules_version'");
    this.forUserStmt = db.prepare("SELECT * FROM alert_rules WHERE user_id = ? AND status IN ('active', 'paused') ORDER BY id");
    this.ownedStmt = db.prepare("SELECT * FROM alert_rules WHERE id = ? AND user_id = ? AND status != 'deleted'");
    this.deleteStmt = db.prepare("UPDATE alert_rules SET status = 'deleted', updated_at = ? WHERE id = ? AND user_id = ? AND status != 'deleted'");
    this.snoozeStmt = db.prepare("UPDATE alert_rules SET snoozed_until = ?, updated_at = ? WHERE id = ? AND user_id = ? AND status != 'deleted'");
    this.resumeStmt = db.prepare(
      "UPDATE alert_rules SET status = 'active', state = ?, snoozed_until = NULL, updated_at = ? WHERE id = ? AND user_id = ? AND status = 'paused'",
    );
  }

  create(r: NewRule): AlertRule {
    const info = this.insertStmt.run({
      userId: r.userId,
      instrumentKey: r.instrumentKey,
      kind: r.kind,
      params: JSON.stringify(r.params),
      frequency: r.frequency ?? "once",
      cooldownSeconds: r.cooldownSeconds ?? 0,
      expiresAt: r.expiresAt ?? null,
      state: JSON.stringify(initialRuleState()),
      now: this.now(),
    });
    return toRule(this.byId.get(info.lastInsertRowid)!);
  }

  activeForInstrument(instrumentKey: string): AlertRule[] {
    return this.activeFor.all(instrumentKey).map(toRule);
  }

  updateState(ruleId: number, state: RuleState): void {
    this.saveState.run(JSON.stringify(state), this.now(), ruleId);
  }

  recordFired(ruleId: number, state: RuleState, firedAt: number): void {
    this.markFired.run(JSON.stringify(state), firedAt, firedAt, ruleId);
  }

  /** A user's live rules (active or paused), oldest first. Every lookup below is owner-scoped. */
  forUser(userId: number): Array<AlertRule & { status: string }> {
    return this.forUserStmt.all(userId).map((r) => ({ ...toRule(r), status: r.status }));
  }

  /** The rule if, and only if, it belongs to `userId`. */
  owned(ruleId: number, userId: number): (AlertRule & { status: string }) | undefined {
    const r = this.ownedStmt.get(ruleId, userId);
    return r && { ...toRule(r), status: r.status };
  }

  delete(ruleId: number, userId: number): boolean {
    return this.deleteStmt.run(this.now(), ruleId, userId).changes === 1;
  }

  snooze(ruleId: number, userId: number, until: number | null): boolean {
    return this.snoozeStmt.run(until, this.now(), ruleId, userId).changes === 1;
  }

  /** Re-activates a paused rule, armed afresh. */
  resume(ruleId: number, userId: number): boolean {
    return this.resumeStmt.run(JSON.stringify(initialRuleState()), this.now(), ruleId, userId).changes === 1;
  }

  /** Every active rule of every active user: what a RuleBook keeps in memory. */
  allActive(): AlertRule[] {
    return this.allActiveStmt.all().map(toRule);
  }

  /** Moves whenever the set of active rules changes (triggers in migration 004). */
  version(): number {
    return this.versionStmt.get()?.value ?? 0;
  }

  /** Ends an active rule; true when it was active (the rules version moved once). */
  setFinished(ruleId: number, status: "triggered" | "expired" | "paused"): boolean {
    return this.finish.run(status, this.now(), ruleId).changes === 1;
  }

  activeCount(): number {
    return this.countActive.get()!.n;
  }
}
