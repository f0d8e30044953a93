import { formatRupees } from "../format/money.js";
import type { MarketCandle } from "../market/types.js";
import type { Services } from "../services.js";
import { evaluateCandles } from "./engine.js";
import type { CandleUpdate } from "./indicator-engine.js";
import type { CandleInputs } from "./rules.js";
import type { BarUpdate } from "./timeframe-indicators.js";
import type { YearRange } from "./year-range.js";
import type { Timeframe } from "../market/timeframes.js";

const NO_BARS: ReadonlyMap<Timeframe, CandleInputs> = new Map();

const MINUTE = 60_000;
/** A candle older than this when it arrives is history, not news: stored, never alerted on. */
export const STALE_CANDLE_MS = 5 * MINUTE;

/**
 * One instrument's candle with its indicator values, for the candle rules. The symbol is only
 * read for a rule whose outcome changes something (a firing names it), so it is looked up
 * then, not for each of 2,000 instruments every minute.
 */
class CandleRuleInputs implements CandleInputs {
  readonly previousCandle: MarketCandle | undefined;
  readonly values: CandleInputs["values"];
  readonly previous: CandleInputs["previous"];
  /** The longer bars (15m, 1h, …) this minute closed, for the rules on them. */
  readonly byTimeframe: ReadonlyMap<Timeframe, CandleInputs>;
  private name: string | undefined;

  constructor(
    private readonly key: string,
    readonly candle: MarketCandle,
    update: CandleUpdate,
    bars: ReadonlyMap<Timeframe, BarUpdate>,
    private readonly instruments: Services["instruments"],
    readonly range52w: YearRange | undefined,
    private readonly timeframes: Services["timeframes"],
  ) {
    this.previousCandle = update.previousCandle;
    this.values = update.values;
    this.previous = update.previous;
    const at = this.at;
    this.byTimeframe = bars.size
      ? new Map([...bars].map(([tf, b]) => [tf, { candle: b.bar, previousCandle: b.previousCandle, values: b.values, previous: b.previous, range52w, at }]))
      : NO_BARS;
  }

  /** Asked only by an AND alert with a part on longer bars, at its own bar's close. */
  readonly at = (tf: Timeframe): CandleInputs | undefined => this.timeframes.latest(this.key, tf);

  get symbol(): string {
    return (this.name ??= this.instruments.get(this.key)?.tradingSymbol ?? this.key);
  }
}

export type CandleCloseDeps = Pick<
  Services,
  "db" | "candles" | "indicators" | "timeframes" | "ruleBook" | "rules" | "users" | "notifier" | "instruments" | "pollState" | "metrics" | "log"
>;

function fresh(bars: ReadonlyMap<Timeframe, BarUpdate>, now: number): ReadonlyMap<Timeframe, BarUpdate> {
  for (const b of bars.values()) if (now - b.bar.end > STALE_CANDLE_MS) return new Map([...bars].filter(([, u]) => now - u.bar.end <= STALE_CANDLE_MS));
  return bars;
}

/**
 * A closed minute's candles, whoever built them (the REST candle fetch or the stream's bars):
 * stored in SQLite first, then fed to the streaming indicators and run through the candle
 * rules, the firings written and queued. Candles that arrive more than five minutes after
 * their close are stored, never alerted on.
 */
export async function closeMinute(s: CandleCloseDeps, candles: ReadonlyMap<string, MarketCandle>, now: number): Promise<{ evaluated: number; fired: number }> {
  s.candles.upsert("1m", candles);
  s.ruleBook.refresh();
  const inputs = new Map<string, CandleRuleInputs>();
  const latest = new Map<string, { ts: number; values: Record<string, unknown> }>();
  for (const [key, candle] of candles) {
    if (now - (candle.ts + MINUTE) > STALE_CANDLE_MS) continue;
    const rules = s.ruleBook.forInstrument(key);
    const update = s.indicators.onCandle(key, candle, rules);
    if (!update) continue;
    latest.set(key, { ts: candle.ts, values: update.values });
    if (!s.indicators.profile(rules).hasCandleRules) continue;
    // A longer bar closed late (its last minute had no trade, so the next session's first minute
    // closed it) is history: its state is kept, it is not alerted on.
    const bars = fresh(s.timeframes.onMinute(key, candle, rules), now);
    inputs.set(key, new CandleRuleInputs(key, candle, update, bars, s.instruments, s.timeframes.yearRange(key, candle.ts, rules), s.timeframes));
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
  return { evaluated: inputs.size, fired: result.fired.length };
}
