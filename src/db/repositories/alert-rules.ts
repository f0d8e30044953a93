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
  watchlist: string | null;
  parent_id: number | null;
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
  watchlist: r.watchlist,
  parentId: r.parent_id,
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

/** How a rule over a watchlist stands: its symbols, and how many of them are paused on their own. */
export interface WatchlistRuleMembers {
  symbols: number;
  paused: number;
}

/** The parent's own state: its message window (see messageSlot). */
interface WindowState {
  windowStart?: number;
  sent?: number;
}

const MINUTE_MS = 60_000;

export class AlertRuleRepository {
  private readonly insertStmt: Statement;
  private readonly activeFor: Statement<[string], RuleRow>;
  private readonly saveState: Statement<[string, number, number]>;
  private readonly markFired: Statement<[string, number, number, number]>;
  private readonly byId: Statement<[number | bigint], RuleRow>;
  private readonly finish: Statement<[string, number, number]>;
  private readonly countActive: Statement<[], { n: number }>;
  private readonly watchedStmt: Statement<[number], { n: number }>;
  private readonly listRulesStmt: Statement<[number, string], { n: number }>;
  private readonly allActiveStmt: Statement<[], RuleRow>;
  private readonly forUserStmt: Statement<[number], RuleRow & { status: string }>;
  private readonly ownedStmt: Statement<[number, number], RuleRow & { status: string }>;
  private readonly deleteStmt: Statement<[number, number, number]>;
  private readonly snoozeStmt: Statement<[number | null, number, number, number]>;
  private readonly resumeStmt: Statement<[string, number, number, number]>;
  private readonly versionStmt: Statement<[], { value: number }>;
  private readonly insertChildren: Statement<[number]>;
  private readonly membersStmt: Statement<[number], { symbols: number; paused: number }>;
  private readonly deleteChildren: Statement<[number, number]>;
  private readonly snoozeChildren: Statement<[number | null, number, number]>;
  private readonly resumeChildren: Statement<[string, number, number]>;
  private readonly expireParents: Statement<[number, number, number]>;
  private readonly parentState: Statement<[number], { watchlist: string | null; state: string | null }>;
  private readonly saveParentState: Statement<[string, number]>;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO alert_rules (user_id, instrument_key, kind, params, frequency, cooldown_s, expires_at, state, watchlist, created_at, updated_at)
       VALUES (@userId, @instrumentKey, @kind, @params, @frequency, @cooldownSeconds, @expiresAt, @state, @watchlist, @now, @now)`,
    );
    this.activeFor = db.prepare(
      `SELECT r.* FROM alert_rules r JOIN users u ON u.id = r.user_id
       WHERE r.instrument_key = ? AND r.status = 'active' AND r.watchlist IS NULL AND u.status = 'active'`,
    );
    this.saveState = db.prepare("UPDATE alert_rules SET state = ?, updated_at = ? WHERE id = ?");
    this.markFired = db.prepare("UPDATE alert_rules SET state = ?, last_fired_at = ?, fire_count = fire_count + 1, updated_at = ? WHERE id = ?");
    this.finish = db.prepare("UPDATE alert_rules SET status = ?, updated_at = ? WHERE id = ? AND status = 'active'");
    this.byId = db.prepare("SELECT * FROM alert_rules WHERE id = ?");
    this.countActive = db.prepare("SELECT COUNT(*) AS n FROM alert_rules WHERE status = 'active' AND watchlist IS NULL");
    this.watchedStmt = db.prepare("SELECT COUNT(*) AS n FROM alert_rules WHERE user_id = ? AND status IN ('active', 'paused') AND watchlist IS NULL");
    this.listRulesStmt = db.prepare("SELECT COUNT(*) AS n FROM alert_rules WHERE user_id = ? AND watchlist = ? AND status IN ('active', 'paused')");
    // Parents of watchlist rules are not evaluated: their children are (one per symbol).
    this.allActiveStmt = db.prepare(
      `SELECT r.* FROM alert_rules r JOIN users u ON u.id = r.user_id WHERE r.status = 'active' AND r.watchlist IS NULL AND u.status = 'active'`,
    );
    this.versionStmt = db.prepare("SELECT value FROM app_meta WHERE key = 'rules_version'");
    this.forUserStmt = db.prepare("SELECT * FROM alert_rules WHERE user_id = ? AND status IN ('active', 'paused') AND parent_id IS NULL ORDER BY id");
    this.ownedStmt = db.prepare("SELECT * FROM alert_rules WHERE id = ? AND user_id = ? AND status != 'deleted'");
    this.deleteStmt = db.prepare("UPDATE alert_rules SET status = 'deleted', updated_at = ? WHERE id = ? AND user_id = ? AND status != 'deleted'");
    this.snoozeStmt = db.prepare("UPDATE alert_rules SET snoozed_until = ?, updated_at = ? WHERE id = ? AND user_id = ? AND status != 'deleted'");
    this.resumeStmt = db.prepare(
      "UPDATE alert_rules SET status = 'active', state = ?, snoozed_until = NULL, updated_at = ? WHERE id = ? AND user_id = ? AND status = 'paused'",
    );
    // A new watchlist rule covers the list as it is now; the triggers of migration 012 follow it from then on.
    this.insertChildren = db.prepare(
      `INSERT INTO alert_rules (user_id, instrument_key, kind, params, frequency, cooldown_s, status, state, expires_at, parent_id, created_at, updated_at)
       SELECT p.user_id, w.instrument_key, p.kind, p.params, p.frequency, p.cooldown_s, 'active', p.state, p.expires_at, p.id, p.created_at, p.created_at
       FROM alert_rules p JOIN watchlists w ON w.user_id = p.user_id AND w.list = p.watchlist
       WHERE p.id = ?`,
    );
    this.membersStmt = db.prepare(
      "SELECT COUNT(*) AS symbols, COALESCE(SUM(status = 'paused'), 0) AS paused FROM alert_rules WHERE parent_id = ? AND status IN ('active', 'paused')",
    );
    this.deleteChildren = db.prepare("UPDATE alert_rules SET status = 'deleted', updated_at = ? WHERE parent_id = ? AND status != 'deleted'");
    this.snoozeChildren = db.prepare("UPDATE alert_rules SET snoozed_until = ?, updated_at = ? WHERE parent_id = ? AND status != 'deleted'");
    this.resumeChildren = db.prepare(
      "UPDATE alert_rules SET status = 'active', state = ?, snoozed_until = NULL, updated_at = ? WHERE parent_id = ? AND status = 'paused'",
    );
    // A parent is never evaluated, so nothing else notices its expiry: its children expire on their own.
    this.expireParents = db.prepare(
      "UPDATE alert_rules SET status = 'expired', updated_at = ? WHERE user_id = ? AND watchlist IS NOT NULL AND status = 'active' AND expires_at <= ?",
    );
    this.parentState = db.prepare("SELECT watchlist, state FROM alert_rules WHERE id = ?");
    this.saveParentState = db.prepare("UPDATE alert_rules SET state = ? WHERE id = ?");
  }

  create(r: NewRule): AlertRule {
    return toRule(this.byId.get(this.insert(r, r.instrumentKey, null))!);
  }

  /**
   * A rule over every symbol of one of the owner's watchlists: the parent, and a child per
   * symbol on the list now, in one transaction. Symbols added to or removed from the list
   * later gain or lose their child by trigger.
   */
  createForWatchlist(r: Omit<NewRule, "instrumentKey"> & { watchlist: string }): AlertRule {
    return this.db.transaction(() => {
      // A parent has no instrument: it is never evaluated, its children are.
      const id = this.insert(r, "", r.watchlist);
      this.insertChildren.run(id);
      return toRule(this.byId.get(id)!);
    })();
  }

  private insert(r: Omit<NewRule, "instrumentKey">, instrumentKey: string, watchlist: string | null): number {
    const info = this.insertStmt.run({
      userId: r.userId,
      instrumentKey,
      kind: r.kind,
      params: JSON.stringify(r.params),
      frequency: r.frequency ?? "once",
      cooldownSeconds: r.cooldownSeconds ?? 0,
      expiresAt: r.expiresAt ?? null,
      state: JSON.stringify(initialRuleState()),
      watchlist,
      now: this.now(),
    });
    return Number(info.lastInsertRowid);
  }

  /** How many symbols a watchlist rule covers now, and how many of them are paused. */
  members(parentId: number): WatchlistRuleMembers {
    return this.membersStmt.get(parentId)!;
  }

  /**
   * The per-rule cap on messages of a watchlist rule: called once per evaluation pass in
   * which some of its symbols fired (they go out together, as one message). Says the list's
   * name, and when that message may go: now (no `notBefore`) while fewer than `perMinute`
   * went in the current minute; past the cap, at the minute's end, together with whatever
   * else fires before it (the held batch is the first message of the next minute). Inside
   * the evaluation's transaction, so two processes count the same minute.
   */
  messageSlot(parentId: number, now: number, perMinute: number): { watchlist: string; notBefore?: number } {
    const row = this.parentState.get(parentId);
    const watchlist = row?.watchlist ?? "";
    const st = (row?.state ? JSON.parse(row.state) : {}) as WindowState;
    let start = st.windowStart ?? 0;
    let sent = st.sent ?? 0;
    if (now < start) return { watchlist, notBefore: start };
    if (now >= start + MINUTE_MS) {
      start = now;
      sent = 0;
    }
    let heldUntil: number | undefined;
    if (sent < perMinute) sent++;
    else {
      heldUntil = start + MINUTE_MS;
      start = heldUntil;
      sent = 1;
    }
    this.saveParentState.run(JSON.stringify({ ...st, windowStart: start, sent }), parentId);
    return heldUntil === undefined ? { watchlist } : { watchlist, notBefore: heldUntil };
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
    const now = this.now();
    this.expireParents.run(now, userId, now);
    return this.forUserStmt.all(userId).map((r) => ({ ...toRule(r), status: r.status }));
  }

  /** The rule if, and only if, it belongs to `userId`. */
  owned(ruleId: number, userId: number): (AlertRule & { status: string }) | undefined {
    const r = this.ownedStmt.get(ruleId, userId);
    return r && { ...toRule(r), status: r.status };
  }

  /** Deletes the rule; a watchlist rule with every symbol's. */
  delete(ruleId: number, userId: number): boolean {
    return this.db.transaction(() => {
      const done = this.deleteStmt.run(this.now(), ruleId, userId).changes === 1;
      if (done) this.deleteChildren.run(this.now(), ruleId);
      return done;
    })();
  }

  /** Snoozes the rule (null: wakes it); a watchlist rule with every symbol's. */
  snooze(ruleId: number, userId: number, until: number | null): boolean {
    return this.db.transaction(() => {
      const done = this.snoozeStmt.run(until, this.now(), ruleId, userId).changes === 1;
      if (done) this.snoozeChildren.run(until, this.now(), ruleId);
      return done;
    })();
  }

  /**
   * Re-activates a paused rule, armed afresh. A watchlist rule is resumed with every symbol
   * paused on its own (its runaway guard); true when anything was paused.
   */
  resume(ruleId: number, userId: number): boolean {
    const armed = JSON.stringify(initialRuleState());
    return this.db.transaction(() => {
      const parent = this.resumeStmt.run(armed, this.now(), ruleId, userId).changes === 1;
      const owned = parent || this.ownedStmt.get(ruleId, userId) !== undefined;
      const children = owned ? this.resumeChildren.run(armed, this.now(), ruleId).changes : 0;
      return parent || children > 0;
    })();
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

  /** How many symbol rules a user has live: their own and one per symbol of each watchlist rule (what the engine carries for them). */
  symbolRuleCount(userId: number): number {
    return this.watchedStmt.get(userId)!.n;
  }

  /** How many live rules watch one of a user's lists: what adding a symbol to it adds. */
  rulesOnList(userId: number, watchlist: string): number {
    return this.listRulesStmt.get(userId, watchlist)!.n;
  }

  activeCount(): number {
    return this.countActive.get()!.n;
  }
}
