import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { AlertRule } from "./rules.js";

/**
 * Every active rule in memory, grouped by instrument, so a poll evaluates 50,000 rules
 * without reading them from SQLite each time. It reloads only when the rules version
 * (bumped by triggers on any change to the active set) moves.
 */
export class RuleBook {
  private version = -1;
  private byInstrument = new Map<string, AlertRule[]>();
  private total = 0;

  constructor(private readonly repo: AlertRuleRepository) {}

  /** Reloads if the active set changed since the last look. Returns whether it did. */
  refresh(): boolean {
    const v = this.repo.version();
    if (v === this.version) return false;
    const next = new Map<string, AlertRule[]>();
    const all = this.repo.allActive();
    for (const r of all) {
      const list = next.get(r.instrumentKey);
      if (list) list.push(r);
      else next.set(r.instrumentKey, [r]);
    }
    this.byInstrument = next;
    this.total = all.length;
    this.version = v;
    return true;
  }

  forInstrument(instrumentKey: string): readonly AlertRule[] {
    return this.byInstrument.get(instrumentKey) ?? [];
  }

  /** Replaces a rule's in-memory copy after this process wrote its new state. */
  replace(rule: AlertRule): void {
    const list = this.byInstrument.get(rule.instrumentKey);
    const i = list?.findIndex((r) => r.id === rule.id) ?? -1;
    if (list && i >= 0) list[i] = rule;
  }

  /** Forces a reload on the next refresh (another process changed a rule under us). */
  invalidate(): void {
    this.version = -1;
  }

  instrumentKeys(): string[] {
    return [...this.byInstrument.keys()];
  }

  get size(): number {
    return this.total;
  }
}
