import type { Job } from "bullmq";
import type { MarketCandle } from "../src/market/types.js";
import { formatRupees } from "../src/format/money.js";
import type { Services } from "../src/services.js";
import { evaluateCandles } from "../src/signals/engine.js";
import type { CandleUpdate } from "../src/signals/indicator-engine.js";
import type { CandleInputs } from "../src/signals/rules.js";
import { queueWarmUpIfNeeded } from "./warm-up-candles.js";

const MINUTE = 60_000;
/** A candle older than this when it arrives is history, not news: stored, never alerted on. */
const STALE_CANDLE_MS = 5 * MINUTE;

export type FetchCandlesResult =
  { skipped: "paused" | "market closed" | "nothing to fetch" } | { candles: number; evaluated: number; fired: number; warmUps: number };

/**
 * One instrument's candle with its indicator values, for the candle rules. The symbol is only
 * read for a rule whose outcome changes something (a firing names it), so it is looked up
 * then, not for each of 2,000 instruments every minute.
 */
class CandleRuleInputs implements CandleInputs {
  readonly previousCandle: MarketCandle | undefined;
  readonly values: CandleInputs["values"];
  readonly previous: CandleInputs["previous"];
  private name: string | undefined;

  constructor(
    private readonly key: string,
    readonly candle: MarketCandle,
    update: CandleUpdate,
    private readonly instruments: Services["instruments"],
  ) {
    this.previousCandle = update.previousCandle;
    this.values = update.values;
    this.previous = update.previous;
  }

  get symbol(): string {
    return (this.name ??= this.instruments.get(this.key)?.tradingSymbol ?? this.key);
  }
}

/**
 * At each one-minute close: the just-closed candle of every instrument in use (batched,
 * 500 a call), stored in SQLite, fed to the streaming indicators, and run through the
 * candle rules. Instruments without enough history get a warm-up job.
 */
export async function fetchCandles(_job: Job, s: Services): Promise<FetchCandlesResult> {
  const now = s.clock();
  if (await s.pollState.isPaused()) return { skipped: "paused" };
  await s.calendar.sync();
  // The candle that just closed started a minute ago: it counts if the market was open then.
  const closedMinute = Math.floor(now / MINUTE) * MINUTE - MINUTE;
  if (!s.marketOpen(new Date(closedMinute))) return { skipped: "market closed" };
  const keys = s.watchlists.instrumentKeysInUse();
  s.indicators.retain(new Set(keys));
  if (!keys.length) return { skipped: "nothing to fetch" };

  const candles = await s.candleSource.getLastClosedCandles(keys);
  s.candles.upsert("1m", candles);

  s.ruleBook.refresh();
  const inputs = new Map<string, CandleRuleInputs>();
  let warmUps = 0;
  const latest = new Map<string, { ts: number; values: Record<string, unknown> }>();
  for (const key of keys) {
    const rules = s.ruleBook.forInstrument(key);
    const candle: MarketCandle | undefined = candles.get(key);
    if (await queueWarmUpIfNeeded(s, key)) warmUps++;
    if (!candle || now - (candle.ts + MINUTE) > STALE_CANDLE_MS) continue;
    const update = s.indicators.onCandle(key, candle, rules);
    if (!update) continue;
    latest.set(key, { ts: candle.ts, values: update.values });
    if (!s.indicators.profile(rules).hasCandleRules) continue;
    inputs.set(key, new CandleRuleInputs(key, candle, update, s.instruments));
  }

  await s.pollState.recordIndicators(latest);
  const result = evaluateCandles(inputs, { db: s.db, book: s.ruleBook, rules: s.rules, users: s.users, notifier: s.notifier, now });
  for (const f of result.fired) {
    s.metrics.alerts.inc({ kind: f.kind });
    s.log.info(
      { ruleId: f.ruleId, userId: f.userId, signalId: f.signalId, autoPaused: f.autoPaused || undefined },
      `📈 signal: ${f.symbol} ${f.kind.replace(/_/g, " ")} (close ${formatRupees(f.price)})`,
    );
  }
  await s.notifier.queue(result.notificationIds);
  return { candles: candles.size, evaluated: inputs.size, fired: result.fired.length, warmUps };
}
