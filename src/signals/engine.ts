import type { Database } from "better-sqlite3";
import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { User, UserRepository } from "../db/repositories/users.js";
import type { Quote } from "../market/types.js";
import type { Notifier } from "../notify/notifier.js";
import type { RuleBook } from "./rule-book.js";
import { changePct, evaluateCandleRule, evaluateRule, isCandleRule, type AlertRule, type CandleInputs, type RuleOutcome } from "./rules.js";

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
  payload: Record<string, unknown>;
}

const isLive = (rule: AlertRule, now: number) => !rule.snoozedUntil || rule.snoozedUntil <= now;

/**
 * Price rules on a batch of fresh quotes. The previous price of each instrument (from the
 * last poll, whichever process made it) is what a crossing is measured from. Quotes older
 * than `staleAfterMs` are not acted on.
 */
export function evaluateQuotes(
  quotes: ReadonlyMap<string, Quote>,
  previousPrices: ReadonlyMap<string, number>,
  deps: EngineDeps & { staleAfterMs: number },
): EvaluationResult {
  deps.book.refresh();
  const decisions: Decision[] = [];
  let stale = 0;
  for (const quote of quotes.values()) {
    const rules = deps.book.forInstrument(quote.instrumentKey);
    if (!rules.length) continue;
    if (quote.lastTradeAt > 0 && deps.now - quote.lastTradeAt > deps.staleAfterMs) {
      stale++;
      continue;
    }
    const prevPrice = previousPrices.get(quote.instrumentKey);
    for (const rule of rules) {
      if (isCandleRule(rule.kind) || !isLive(rule, deps.now)) continue;
      const seen = prevPrice === undefined ? rule : { ...rule, state: { ...rule.state, lastPrice: prevPrice } };
      const outcome = evaluateRule(seen, quote, deps.now);
      decisions.push({
        rule,
        outcome,
        kind: "price_alert",
        symbol: quote.symbol,
        payload: {
          symbol: quote.symbol,
          instrumentKey: quote.instrumentKey,
          ruleId: rule.id,
          ruleKind: rule.kind,
          price: quote.lastPrice,
          level: outcome.detail?.level,
          changePct: outcome.detail?.changePct,
          dayChangePct: Number(changePct(quote).toFixed(2)),
          firedAt: deps.now,
        },
      });
    }
  }
  return { ...apply(decisions, deps), stale };
}

/** Candle rules on freshly closed candles, with each instrument's indicator values. */
export function evaluateCandles(candles: ReadonlyMap<string, CandleInputs & { symbol: string }>, deps: EngineDeps): EvaluationResult {
  deps.book.refresh();
  const decisions: Decision[] = [];
  for (const [key, input] of candles) {
    for (const rule of deps.book.forInstrument(key)) {
      if (!isCandleRule(rule.kind) || !isLive(rule, deps.now)) continue;
      const outcome = evaluateCandleRule(rule, input, deps.now);
      decisions.push({
        rule,
        outcome,
        kind: "indicator_alert",
        symbol: input.symbol,
        payload: {
          symbol: input.symbol,
          instrumentKey: key,
          ruleId: rule.id,
          ruleKind: rule.kind,
          params: rule.params,
          price: input.candle.close,
          candleTs: input.candle.ts,
          values: outcome.detail?.values ?? {},
          firedAt: deps.now,
        },
      });
    }
  }
  return { ...apply(decisions, deps), stale: 0 };
}

/**
 * Writes every outcome of one evaluation pass in a single SQLite transaction: firings
 * (signal + outbox rows + rule state), finished rules, and rules whose armed state flipped.
 * Unchanged rules write nothing, so a poll over 50,000 quiet rules costs no writes.
 */
function apply(decisions: readonly Decision[], deps: EngineDeps): Omit<EvaluationResult, "stale"> {
  const fired: FiredAlert[] = [];
  const notificationIds: number[] = [];
  const memory: AlertRule[] = [];
  let conflict = false;
  const users = new Map<number, User | undefined>();
  const userOf = (id: number) => {
    if (!users.has(id)) users.set(id, deps.users.get(id));
    return users.get(id);
  };

  deps.db.transaction(() => {
    for (const { rule, outcome, kind, symbol, payload } of decisions) {
      if (!outcome.fired) {
        if (outcome.finished) deps.rules.setFinished(rule.id, outcome.finished);
        else if (outcome.state.armed !== rule.state.armed) deps.rules.updateState(rule.id, outcome.state);
        // In memory the rule also remembers the price it saw, for the next crossing.
        memory.push({ ...rule, state: outcome.state });
        continue;
      }
      const user = userOf(rule.userId);
      if (!user) continue;
      const autoPaused = outcome.finished === "paused";
      const recorded = deps.notifier.recordFiring(user, {
        rule,
        kind,
        state: outcome.state,
        ...(outcome.finished ? { finished: outcome.finished } : {}),
        firedAt: deps.now,
        price: outcome.detail?.price ?? Number(payload.price),
        payload: { ...payload, ...(autoPaused ? { autoPaused: true } : {}) },
      });
      if (!recorded) {
        // Another process recorded this firing (or changed the rule) first.
        conflict = true;
        continue;
      }
      notificationIds.push(...recorded.notificationIds);
      fired.push({ ruleId: rule.id, userId: rule.userId, symbol, kind: rule.kind, price: Number(payload.price), signalId: recorded.signalId, autoPaused });
      memory.push({ ...rule, state: outcome.state, lastFiredAt: deps.now, fireCount: rule.fireCount + 1 });
    }
  })();

  for (const r of memory) deps.book.replace(r);
  if (conflict) deps.book.invalidate();
  return { fired, notificationIds };
}
