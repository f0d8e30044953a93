import { isCandleRule, isLive, priceRuleActs, priceRuleLevels, type AlertRule } from "./rules.js";

/**
 * Active rules by instrument and by price level, so a quote costs what moved, not how many
 * rules there are. Pure: no clock, no database.
 *
 * The idea: every price rule has a few prices where its answer to "would evaluating it change
 * anything?" (priceRuleActs) can flip: its level and its re-arm level (for change_pct the ±pct
 * and ±re-arm prices around the previous close). The index remembers, per instrument, the
 * price it last evaluated at (the settled price) and keeps this invariant: every rule that is
 * not `pending` would change nothing at the settled price. So at a new price only rules with
 * a level between the settled price (or the previous poll's price, which crossings measure
 * from) and the new price can act, plus the pending ones: rules new since the last load,
 * woken by a timer (snooze end, expiry), or acting at the last price but held back by their
 * frequency (cooldown, once a bar). The caller evaluates those exactly and tells the index
 * the price it settled at.
 */

interface Slot {
  rule: AlertRule;
  /** Visit it at the next quote whatever the price does. */
  pending: boolean;
  /** The visit that last reached it: a rule reached through two of its levels is visited once. */
  visit: number;
  removed: boolean;
}

/** Prices (levels or times) in ascending order, each with its rule. */
class Sorted {
  static readonly empty = new Sorted([]);
  readonly at: Float64Array;
  readonly slots: Slot[];

  constructor(pairs: Array<[number, Slot]>) {
    pairs.sort((a, b) => a[0] - b[0]);
    this.at = Float64Array.from(pairs, (p) => p[0]);
    this.slots = pairs.map((p) => p[1]);
  }

  /** Index of the first entry at or above `value`. */
  firstFrom(value: number): number {
    let lo = 0;
    let hi = this.at.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** One instrument's rules in the index: look it up once per quote (RuleIndex.instrument). */
export interface IndexedInstrument {
  /** Every rule of the instrument, price and candle. */
  readonly rules: readonly AlertRule[];
  /** The price the index last evaluated it at; undefined before the first time. */
  readonly settledAt: number | undefined;
}

class Instrument implements IndexedInstrument {
  /** Every rule, price and candle, in load order: what forInstrument returns. */
  readonly rules: AlertRule[] = [];
  readonly slots: Slot[] = [];
  readonly priceSlots: Slot[] = [];
  readonly pctSlots: Slot[] = [];
  levels = Sorted.empty;
  /** change_pct levels depend on the previous close: rebuilt when a quote brings another one. */
  pctLevels = Sorted.empty;
  pctBase = NaN;
  /** Snooze ends and expiries, with the next one not yet due. */
  timers = Sorted.empty;
  nextTimer = 0;
  /** The latest `now` timers were checked at. */
  timerClock = -Infinity;
  pending: Slot[] = [];
  /** The rules the current visit reached, for settle(). */
  readonly visited: Slot[] = [];
  /** The price this index last evaluated the instrument at; undefined: every rule is visited. */
  settledAt: number | undefined;
}

/** Same id, same behaviour on price: a reload that finds it so keeps it settled. */
function sameBehaviour(a: AlertRule, b: AlertRule): boolean {
  return (
    a.instrumentKey === b.instrumentKey &&
    a.kind === b.kind &&
    a.frequency === b.frequency &&
    a.cooldownSeconds === b.cooldownSeconds &&
    a.expiresAt === b.expiresAt &&
    (a.snoozedUntil ?? null) === (b.snoozedUntil ?? null) &&
    a.lastFiredAt === b.lastFiredAt &&
    a.fireCount === b.fireCount &&
    a.state.armed === b.state.armed &&
    a.params.level === b.params.level &&
    a.params.pct === b.params.pct &&
    a.params.rearmPct === b.params.rearmPct
  );
}

/** Widening of a visited price range, so float rounding of derived levels never hides a rule. */
const slack = (lo: number, hi: number) => (Math.abs(lo) + Math.abs(hi)) * 1e-9 + 1e-9;

export class RuleIndex {
  private readonly instruments = new Map<string, Instrument>();
  private readonly byId = new Map<number, Slot>();
  private visitNo = 0;
  private total = 0;

  /**
   * Indexes `rules`. Given the index they replace (a reload), each instrument keeps its settled
   * price and each rule that behaves exactly as before stays settled; new and changed rules are
   * pending, so the next quote visits them.
   */
  static build(rules: readonly AlertRule[], previous?: RuleIndex): RuleIndex {
    const index = new RuleIndex();
    const levels = new Map<Instrument, Array<[number, Slot]>>();
    const timers = new Map<Instrument, Array<[number, Slot]>>();
    for (const rule of rules) {
      let inst = index.instruments.get(rule.instrumentKey);
      if (!inst) {
        inst = new Instrument();
        const before = previous?.instruments.get(rule.instrumentKey);
        if (before) {
          inst.settledAt = before.settledAt;
          inst.timerClock = before.timerClock;
          inst.pctBase = before.pctBase;
        }
        index.instruments.set(rule.instrumentKey, inst);
        levels.set(inst, []);
        timers.set(inst, []);
      }
      const slot: Slot = { rule, pending: false, visit: 0, removed: false };
      inst.rules.push(rule);
      inst.slots.push(slot);
      index.byId.set(rule.id, slot);
      index.total++;
      if (isCandleRule(rule.kind)) continue;

      const old = previous?.byId.get(rule.id);
      const settled =
        inst.settledAt !== undefined &&
        old !== undefined &&
        !old.pending &&
        !old.removed &&
        sameBehaviour(old.rule, rule) &&
        (rule.expiresAt === null || rule.expiresAt > inst.timerClock);
      if (!settled) {
        slot.pending = true;
        inst.pending.push(slot);
      }
      inst.priceSlots.push(slot);
      if (rule.kind === "change_pct") inst.pctSlots.push(slot);
      else for (const l of priceRuleLevels(rule, NaN)) levels.get(inst)!.push([l, slot]);
      for (const t of [rule.expiresAt, rule.snoozedUntil]) if (t !== null && t !== undefined && t > inst.timerClock) timers.get(inst)!.push([t, slot]);
    }
    for (const inst of index.instruments.values()) {
      inst.levels = new Sorted(levels.get(inst)!);
      inst.timers = new Sorted(timers.get(inst)!);
      if (inst.pctSlots.length && Number.isFinite(inst.pctBase)) inst.pctLevels = pctLevelsOf(inst.pctSlots, inst.pctBase);
    }
    return index;
  }

  get size(): number {
    return this.total;
  }

  instrumentKeys(): string[] {
    return [...this.instruments.keys()];
  }

  forInstrument(instrumentKey: string): readonly AlertRule[] {
    return this.instruments.get(instrumentKey)?.rules ?? [];
  }

  /** The price the instrument was last evaluated at by this index, if it was. */
  settledPrice(instrumentKey: string): number | undefined {
    return this.instruments.get(instrumentKey)?.settledAt;
  }

  /** An instrument's entry, for candidates() and settle(); undefined when it has no rules. */
  instrument(instrumentKey: string): IndexedInstrument | undefined {
    return this.instruments.get(instrumentKey);
  }

  /** Puts a rule's new copy (same id, new state) in place of the old one. */
  replace(rule: AlertRule): void {
    const slot = this.byId.get(rule.id);
    if (!slot || slot.removed) return;
    const inst = this.instruments.get(rule.instrumentKey)!;
    inst.rules[inst.slots.indexOf(slot)] = rule;
    slot.rule = rule;
  }

  /** Drops a rule that left the active set (triggered, expired, paused). */
  remove(ruleId: number): void {
    const slot = this.byId.get(ruleId);
    if (!slot || slot.removed) return;
    const inst = this.instruments.get(slot.rule.instrumentKey)!;
    const i = inst.slots.indexOf(slot);
    inst.slots.splice(i, 1);
    inst.rules.splice(i, 1);
    slot.removed = true;
    this.byId.delete(ruleId);
    this.total--;
  }

  /**
   * Appends to `out` the price rules of one instrument that may act on a quote at `price`:
   * the pending ones, and those with a level between this price and the settled price or
   * `previousPrice` (what crossings are measured from). Every rule, the first time the
   * instrument is seen. Snoozed rules may be among them: the caller skips those. Call
   * settle() once the outcomes are applied.
   */
  candidates(entry: IndexedInstrument, price: number, prevClose: number, previousPrice: number | undefined, now: number, out: AlertRule[]): void {
    const inst = entry as Instrument;
    const visit = ++this.visitNo;
    if (inst.visited.length) inst.visited.length = 0;

    const timers = inst.timers;
    while (inst.nextTimer < timers.at.length && timers.at[inst.nextTimer]! <= now) this.makePending(inst, timers.slots[inst.nextTimer++]!);
    if (now > inst.timerClock) inst.timerClock = now;
    if (inst.pctSlots.length && prevClose !== inst.pctBase) {
      inst.pctBase = prevClose;
      inst.pctLevels = pctLevelsOf(inst.pctSlots, prevClose);
      for (const slot of inst.pctSlots) this.makePending(inst, slot);
    }

    for (const slot of inst.pending) take(inst, slot, visit, out);
    if (inst.settledAt === undefined) {
      for (const slot of inst.priceSlots) take(inst, slot, visit, out);
      return;
    }
    let lo = Math.min(price, inst.settledAt);
    let hi = Math.max(price, inst.settledAt);
    if (previousPrice !== undefined) {
      lo = Math.min(lo, previousPrice);
      hi = Math.max(hi, previousPrice);
    }
    const s = slack(lo, hi);
    takeBetween(inst, inst.levels, lo - s, hi + s, visit, out);
    takeBetween(inst, inst.pctLevels, lo - s, hi + s, visit, out);
  }

  /**
   * After the caller applied the outcomes of the last candidates() of this instrument (new
   * states through replace(), finished rules through remove()): `price` becomes the settled
   * price, and each rule visited stays pending only if it would still act at that price.
   */
  settle(entry: IndexedInstrument, price: number, prevClose: number, now: number): void {
    const inst = entry as Instrument;
    if (inst.pending.length) inst.pending.length = 0;
    for (const slot of inst.visited) {
      if (slot.removed) continue;
      const rule = slot.rule;
      // A snoozed rule waits for its timer, unless the timer is already behind us.
      slot.pending = isLive(rule, now) ? priceRuleActs(rule, price, prevClose, price, now) : rule.snoozedUntil! <= inst.timerClock;
      if (slot.pending) inst.pending.push(slot);
    }
    if (inst.visited.length) inst.visited.length = 0;
    inst.settledAt = price;
  }

  private makePending(inst: Instrument, slot: Slot): void {
    if (slot.removed || slot.pending) return;
    slot.pending = true;
    inst.pending.push(slot);
  }
}

/** Visits a slot once per visit: marks it, remembers it for settle(), hands its rule out. */
function take(inst: Instrument, slot: Slot, visit: number, out: AlertRule[]): void {
  if (slot.removed || slot.visit === visit) return;
  slot.visit = visit;
  inst.visited.push(slot);
  out.push(slot.rule);
}

function takeBetween(inst: Instrument, sorted: Sorted, lo: number, hi: number, visit: number, out: AlertRule[]): void {
  for (let i = sorted.firstFrom(lo); i < sorted.at.length && sorted.at[i]! <= hi; i++) take(inst, sorted.slots[i]!, visit, out);
}

function pctLevelsOf(slots: readonly Slot[], prevClose: number): Sorted {
  return new Sorted(slots.flatMap((slot) => priceRuleLevels(slot.rule, prevClose).map((l): [number, Slot] => [l, slot])));
}
