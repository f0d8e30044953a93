import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { User, UserRepository } from "../db/repositories/users.js";
import type { Quote } from "../market/types.js";
import type { Channel, Outbox } from "../notify/outbox.js";
import { changePct, evaluateRule } from "./rules.js";

export interface FiredAlert {
  ruleId: number;
  userId: number;
  symbol: string;
  kind: string;
  price: number;
  signalId: number;
}

export interface EvaluationResult {
  fired: FiredAlert[];
  notificationIds: number[];
}

/** Where a user wants alerts: only channels they can actually be reached on. */
export function channelsFor(user: User): Channel[] {
  const out: Channel[] = [];
  if ((user.channels === "telegram" || user.channels === "both") && user.telegramId !== null) out.push("telegram");
  if ((user.channels === "email" || user.channels === "both") && user.email && user.emailVerified) out.push("email");
  return out;
}

/**
 * Runs every active rule on each fresh quote. A rule that fires becomes a signal plus its
 * outbox rows in one transaction; a rule that does not only has its state saved.
 */
export function evaluateQuotes(
  quotes: ReadonlyMap<string, Quote>,
  deps: { rules: AlertRuleRepository; users: UserRepository; outbox: Outbox; now: number },
): EvaluationResult {
  const fired: FiredAlert[] = [];
  const notificationIds: number[] = [];
  const userCache = new Map<number, User | undefined>();
  for (const quote of quotes.values()) {
    for (const rule of deps.rules.activeForInstrument(quote.instrumentKey)) {
      const outcome = evaluateRule(rule, quote, deps.now);
      if (!outcome.fired) {
        if (outcome.finished) deps.rules.setFinished(rule.id, outcome.finished);
        else if (outcome.state.armed !== rule.state.armed || outcome.state.lastPrice !== rule.state.lastPrice)
          deps.rules.updateState(rule.id, outcome.state);
        continue;
      }
      if (!userCache.has(rule.userId)) userCache.set(rule.userId, deps.users.get(rule.userId));
      const user = userCache.get(rule.userId);
      if (!user) continue;
      const payload = {
        symbol: quote.symbol,
        instrumentKey: quote.instrumentKey,
        ruleId: rule.id,
        ruleKind: rule.kind,
        price: quote.lastPrice,
        level: outcome.detail?.level,
        changePct: outcome.detail?.changePct,
        dayChangePct: Number(changePct(quote).toFixed(2)),
        firedAt: deps.now,
      };
      const recorded = deps.outbox.recordFiring({
        rule,
        state: outcome.state,
        ...(outcome.finished ? { finished: outcome.finished } : {}),
        firedAt: deps.now,
        price: quote.lastPrice,
        payload,
        channels: channelsFor(user),
      });
      // Another poller recorded this firing first (or the rule just ended): nothing more to do.
      if (!recorded) continue;
      const { signalId, notificationIds: ids } = recorded;
      notificationIds.push(...ids);
      fired.push({ ruleId: rule.id, userId: rule.userId, symbol: quote.symbol, kind: rule.kind, price: quote.lastPrice, signalId });
    }
  }
  return { fired, notificationIds };
}
