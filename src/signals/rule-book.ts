import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import { RuleIndex } from "./rule-index.js";
import type { AlertRule } from "./rules.js";

/**
 * Every active rule in memory, indexed by instrument and price level (RuleIndex), so a poll
 * over 50,000 rules neither reads them from SQLite nor visits the quiet ones. It reloads only
 * when the rules version (bumped by triggers on any change to the active set) moves; a
 * reload keeps rules that did not change settled in the index.
 */
export class RuleBook {
  private version = -1;
  private current = RuleIndex.build([]);

  constructor(private readonly repo: AlertRuleRepository) {}

  /** Reloads if the active set changed since the last look. Returns whether it did. */
  refresh(): boolean {
    const v = this.repo.version();
    if (v === this.version) return false;
    this.current = RuleIndex.build(this.repo.allActive(), this.current);
    this.version = v;
    return true;
  }

  /** The rules as of the last refresh, by instrument and level. */
  get index(): RuleIndex {
    return this.current;
  }

  forInstrument(instrumentKey: string): readonly AlertRule[] {
    return this.current.forInstrument(instrumentKey);
  }

  /** Replaces a rule's in-memory copy after this process wrote its new state. */
  replace(rule: AlertRule): void {
    this.current.replace(rule);
  }

  /** Drops a rule this process finished (triggered, expired, paused). */
  remove(ruleId: number): void {
    this.current.remove(ruleId);
  }

  /**
   * After a commit in which this process itself moved the rules version `bumps` times (it
   * finished rules and dropped them with remove()), with the version read inside that
   * transaction: when nothing else moved it, the book is still current and need not reload
   * 50,000 rules. Any other move (another process, a user editing a rule) still reloads.
   */
  acceptOwnChanges(bumps: number, versionAfter: number): void {
    if (this.version >= 0 && versionAfter === this.version + bumps) this.version = versionAfter;
  }

  /** Forces a reload on the next refresh (another process changed a rule under us). */
  invalidate(): void {
    this.version = -1;
  }

  instrumentKeys(): string[] {
    return this.current.instrumentKeys();
  }

  get size(): number {
    return this.current.size;
  }
}
