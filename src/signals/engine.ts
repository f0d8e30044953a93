import type { Timeframe } from "../market/timeframes.js";
import type { Database } from "better-sqlite3";
import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { User, UserRepository } from "../db/repositories/users.js";
import type { Quote } from "../market/types.js";
import type { Notifier } from "../notify/notifier.js";
import type { RuleBook } from "./rule-book.js";
import type { IndexedInstrument } from "./rule-index.js";
import {
  changePct,
  evaluateCandleRule,
  evaluateRule,
  frequencyHolds,
  isCandleRule,
  isLive,
  priceRuleActs,
  type AlertRule,
  type CandleInputs,
  type RuleOutcome,
} from "./rules.js";

export interface FiredAlert {
  ruleId: number;
  userId: number;
  symbol: string;
  kind: string;
  price: number;
  signalId: number;
  autoPaused: boolean;
}

export interface EvaluationResult {
  fired: FiredAlert[];
  notificationIds: number[];
  /** Quotes not evaluated because they were too old to act on. */
  stale: number;
}

export interface EngineDeps {
  db: Database;
  book: RuleBook;
  rules: AlertRuleRepository;
  users: UserRepository;
  /** Records firings (signal, rule state, outbox rows) inside the evaluation's transaction; the caller queues the ids after it. */
  notifier: Pick<Notifier, "recordFiring">;
  now: number;
}

interface Decision {
  rule: AlertRule;
  outcome: RuleOutcome;
  kind: "price_alert" | "indicator_alert";
  symbol: string;
  /** The notification's payload, built only for a rule that fired. */
  payload: () => Record<string, unknown>;
}

/**
 * The most messages one watchlist rule sends a minute. Symbols firing in the same pass go as
 * one message; past the cap, what fires waits for the minute's end and goes then, as one.
 */
export const WATCHLIST_MESSAGES_PER_MINUTE = 3;

/**
 * The most symbol rules one trader's alerts may put in front of the engine: their own rules
 * and one per symbol of each watchlist rule (checked when a rule is set and a list grows).
 */
export const MAX_SYMBOL_RULES_PER_USER = 2000;

const isExpired = (rule: AlertRule, now: number) => rule.expiresAt !== null && now >= rule.expiresAt;

/** Whether an outcome has anything to write: a firing, an end, or an armed flip. */
const changesSomething = (rule: AlertRule, o: RuleOutcome) => o.fired || o.finished !== undefined || o.state.armed !== rule.state.armed;

/**
 * Price rules on a batch of fresh quotes. The previous price of each instrument (from the
 * last poll, whichever process made it) is what a crossing is measured from. Quotes older
 * than `staleAfterMs` are not acted on.
 *
 * Only the rules the book's index hands out are looked at: those with a level between the
 * last price and this one, and the few pending ones (see RuleIndex). A rule that would not
 * change is skipped before anything is built for it, so a quiet poll allocates almost nothing
 * and writes nothing, whatever the number of rules.
 */
export function evaluateQuotes(
  quotes: ReadonlyMap<string, Quote>,
  previousPrices: ReadonlyMap<string, number>,
  deps: EngineDeps & { staleAfterMs: number },
): EvaluationResult {
  deps.book.refresh();
  const index = deps.book.index;
  const now = deps.now;
  const decisions: Decision[] = [];
  // Instruments with decisions settle after those are applied; the others at once.
  const settleLater: Array<[IndexedInstrument, Quote]> = [];
  const candidates: AlertRule[] = [];
  let stale = 0;
  for (const quote of quotes.values()) {
    const entry = index.instrument(quote.instrumentKey);
    if (!entry?.rules.length) continue;
    if (quote.lastTradeAt > 0 && now - quote.lastTradeAt > deps.staleAfterMs) {
      stale++;
      continue;
    }
    // The instrument's previous price: the last poll's, else the last one this process evaluated.
    const previous = previousPrices.get(quote.instrumentKey) ?? entry.settledAt;
    if (candidates.length) candidates.length = 0;
    index.candidates(entry, quote.lastPrice, quote.prevClose, previous, now, candidates);
    const decided = decisions.length;
    for (const rule of candidates) {
      if (!isLive(rule, now)) continue;
      const lastPrice = previous ?? rule.state.lastPrice;
      if (!priceRuleActs(rule, quote.lastPrice, quote.prevClose, lastPrice, now)) continue;
      // Armed, its condition met, and held back by its frequency: nothing would change.
      if (rule.state.armed && frequencyHolds(rule, now) && !isExpired(rule, now)) continue;
      const outcome = evaluateRule(rule, quote, now, lastPrice);
      if (!changesSomething(rule, outcome)) continue;
      decisions.push({
        rule,
        outcome,
        kind: "price_alert",
        symbol: quote.symbol,
        payload: () => ({
          symbol: quote.symbol,
          instrumentKey: quote.instrumentKey,
          ruleId: rule.id,
          ruleKind: rule.kind,
          price: quote.lastPrice,
          level: outcome.detail?.level,
          changePct: outcome.detail?.changePct,
          dayChangePct: Number(changePct(quote).toFixed(2)),
          firedAt: now,
        }),
      });
    }
    if (decisions.length === decided) index.settle(entry, quote.lastPrice, quote.prevClose, now);
    else settleLater.push([entry, quote]);
  }
  const result = apply(decisions, deps);
  for (const [entry, quote] of settleLater) index.settle(entry, quote.lastPrice, quote.prevClose, now);
  return { ...result, stale };
}

/** Candle rules on freshly closed candles, with each instrument's indicator values. */
export function evaluateCandles(
  candles: ReadonlyMap<string, CandleInputs & { symbol: string; byTimeframe?: ReadonlyMap<Timeframe, CandleInputs> }>,
  deps: EngineDeps,
): EvaluationResult {
  deps.book.refresh();
  const decisions: Decision[] = [];
  for (const [key, minute] of candles) {
    for (const rule of deps.book.forInstrument(key)) {
      if (!isCandleRule(rule.kind) || !isLive(rule, deps.now)) continue;
      // A rule on longer bars is evaluated when one of its bars closed with this minute, on that bar.
      const tf = rule.params.timeframe;
      const input = tf && tf !== "1m" ? minute.byTimeframe?.get(tf) : minute;
      if (!input) continue;
      const outcome = evaluateCandleRule(rule, input, deps.now);
      if (!changesSomething(rule, outcome)) continue;
      decisions.push({
        rule,
        outcome,
        kind: "indicator_alert",
        symbol: minute.symbol,
        payload: () => ({
          symbol: minute.symbol,
          instrumentKey: key,
          ruleId: rule.id,
          ruleKind: rule.kind,
          params: rule.params,
          price: input.candle.close,
          candleTs: input.candle.ts,
          values: outcome.detail?.values ?? {},
          ...(outcome.detail?.lines ? { lines: outcome.detail.lines } : {}),
          firedAt: deps.now,
        }),
      });
    }
  }
  return { ...apply(decisions, deps), stale: 0 };
}

/**
 * Writes the outcomes of one evaluation pass in a single SQLite transaction: firings (signal
 * + outbox rows + rule state), finished rules, and rules whose armed state flipped; then puts
 * the same changes into the book. Rules that did not change are not among the decisions, so a
 * quiet poll writes nothing. Rules this process finishes are dropped from the book in place:
 * it reloads only when something else moved the rules version.
 */
function apply(decisions: readonly Decision[], deps: EngineDeps): Omit<EvaluationResult, "stale"> {
  const fired: FiredAlert[] = [];
  const notificationIds: number[] = [];
  if (!decisions.length) return { fired, notificationIds };
  const replaced: AlertRule[] = [];
  const finished: number[] = [];
  let bumps = 0;
  let versionAfter = -1;
  let conflict = false;
  const users = new Map<number, User | undefined>();
  const userOf = (id: number) => {
    if (!users.has(id)) users.set(id, deps.users.get(id));
    return users.get(id);
  };
  // One message slot per watchlist rule per pass: its symbols that fired together go together.
  const slots = new Map<number, { watchlist: string; notBefore?: number }>();
  const slotOf = (parentId: number) => {
    let slot = slots.get(parentId);
    if (!slot) slots.set(parentId, (slot = deps.rules.messageSlot(parentId, deps.now, WATCHLIST_MESSAGES_PER_MINUTE)));
    return slot;
  };

  deps.db.transaction(() => {
    for (const { rule, outcome, kind, symbol, payload: build } of decisions) {
      if (!outcome.fired) {
        if (outcome.finished) {
          if (deps.rules.setFinished(rule.id, outcome.finished)) bumps++;
          finished.push(rule.id);
        } else {
          deps.rules.updateState(rule.id, outcome.state);
          replaced.push({ ...rule, state: outcome.state });
        }
        continue;
      }
      const user = userOf(rule.userId);
      if (!user) continue;
      const autoPaused = outcome.finished === "paused";
      const payload = build();
      const slot = rule.parentId ? slotOf(rule.parentId) : undefined;
      const recorded = deps.notifier.recordFiring(user, {
        rule,
        kind,
        state: outcome.state,
        ...(outcome.finished ? { finished: outcome.finished } : {}),
        firedAt: deps.now,
        price: outcome.detail?.price ?? Number(payload.price),
        payload: { ...payload, ...(autoPaused ? { autoPaused: true } : {}), ...(slot ? { watchlist: slot.watchlist, parentRuleId: rule.parentId } : {}) },
        ...(slot?.notBefore !== undefined ? { notBefore: slot.notBefore } : {}),
      });
      if (!recorded) {
        // Another process recorded this firing (or changed the rule) first.
        conflict = true;
        continue;
      }
      notificationIds.push(...recorded.notificationIds);
      fired.push({ ruleId: rule.id, userId: rule.userId, symbol, kind: rule.kind, price: Number(payload.price), signalId: recorded.signalId, autoPaused });
      if (outcome.finished) {
        bumps++;
        finished.push(rule.id);
      } else replaced.push({ ...rule, state: outcome.state, lastFiredAt: deps.now, fireCount: rule.fireCount + 1 });
    }
    // Read inside the transaction: no other writer can have moved it between our writes and this.
    if (bumps) versionAfter = deps.rules.version();
  })();

  for (const r of replaced) deps.book.replace(r);
  for (const id of finished) deps.book.remove(id);
  if (conflict) deps.book.invalidate();
  else if (bumps) deps.book.acceptOwnChanges(bumps, versionAfter);
  return { fired, notificationIds };
}
