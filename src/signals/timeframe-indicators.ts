import type { CandleRepository } from "../db/repositories/candles.js";
import { aggregate, BAR_MINUTES, BarAggregator, byLength, type Bar, type SessionOf, type Timeframe } from "../market/timeframes.js";
import type { MarketCandle } from "../market/types.js";
import type { CandleUpdate } from "./indicator-engine.js";
import { candlesNeeded, InstrumentIndicators, parseSpecKey, type IndicatorSpec } from "./indicators/index.js";
import { isCandleRule, keysByTimeframe, readsYearRange, type AlertRule } from "./rules.js";
import { barEnd, isLongTimeframe } from "../market/bar-history.js";
import { SESSION_CANDLES } from "./indicators/spec.js";
import { YearRanges, type YearRange } from "./year-range.js";

const MINUTE = 60_000;
const DAY = 86_400_000;

/** The timeframe a rule is evaluated on: one-minute candles unless it says another. */
export const timeframeOf = (rule: Pick<AlertRule, "params">): Timeframe => rule.params.timeframe ?? "1m";

/** A bar that just closed, with the indicator values of its timeframe before and after it. */
export interface BarUpdate extends CandleUpdate {
  bar: Bar;
}

interface InstrumentBars {
  /** The rules' specs per timeframe, as the state was built for them (a new rule set rebuilds). */
  signature: string;
  /** One per timeframe, each seeded from the stored minutes after its own last closed bar. */
  aggregators: Map<Timeframe, BarAggregator>;
  states: Map<Timeframe, InstrumentIndicators>;
  /** The last bar closed per timeframe (the "previous candle" of the next one). */
  lastBar: Map<Timeframe, Bar>;
  lastMinute: number;
}

/**
 * Indicator state on bars longer than a minute, for the candle rules that ask for one
 * (`/alert INFY rsi below 30 on 15m`). Per instrument it keeps a BarAggregator and, per
 * timeframe its rules use, the streaming state of just the indicators those rules read:
 * bounded however long it runs. Built from the stored one-minute candles when it has no state
 * or has missed a minute (another process handled it), so every process computes the same.
 * An instrument without such rules costs one map lookup a minute.
 */
export class TimeframeIndicators {
  private readonly instruments = new Map<string, InstrumentBars>();
  /** Specs by rule list, as IndicatorEngine.profile caches them: worked out once per rule-set change, not per minute. */
  private readonly specsCache = new WeakMap<
    readonly AlertRule[],
    { length: number; specs: Map<Timeframe, IndicatorSpec[]>; signature: string; yearRange: boolean }
  >();
  private readonly yearRanges: YearRanges;

  constructor(
    private readonly candles: CandleRepository,
    private readonly sessionOf: SessionOf,
  ) {
    this.yearRanges = new YearRanges(candles, sessionOf);
  }

  /** Today's 52-week range of an instrument whose rules read one (a 52-week rule); otherwise undefined, at no cost. */
  yearRange(instrumentKey: string, ts: number, rules: readonly AlertRule[]): YearRange | undefined {
    return this.specsOf(rules).yearRange ? this.yearRanges.get(instrumentKey, ts) : undefined;
  }

  /** Feeds a closed, stored one-minute candle; returns the bars it closed for these rules' timeframes, shortest first. */
  onMinute(instrumentKey: string, candle: MarketCandle, rules: readonly AlertRule[]): Map<Timeframe, BarUpdate> {
    const out = new Map<Timeframe, BarUpdate>();
    const { specs, signature } = this.specsOf(rules);
    if (!specs.size) {
      this.instruments.delete(instrumentKey);
      return out;
    }
    let entry = this.instruments.get(instrumentKey);
    if (entry && candle.ts <= entry.lastMinute) return out;
    const continuous =
      entry !== undefined &&
      entry.signature === signature &&
      (candle.ts - entry.lastMinute === MINUTE || this.candles.before(instrumentKey, "1m", candle.ts)?.ts === entry.lastMinute);
    if (!continuous) entry = this.rebuild(instrumentKey, candle.ts, specs, signature);
    entry!.lastMinute = candle.ts;
    for (const [tf, aggregator] of entry!.aggregators) {
      for (const { bar } of aggregator.push(candle)) {
        const state = entry!.states.get(tf)!;
        const previous = state.values();
        const values = state.next(bar);
        out.set(tf, { bar, values, previous, previousCandle: entry!.lastBar.get(tf) });
        entry!.lastBar.set(tf, bar);
      }
    }
    return out;
  }

  /**
   * The last bar closed on `tf` with its indicators' values now, for a part of an AND alert on
   * longer bars than the alert's own; undefined while there is none.
   */
  latest(instrumentKey: string, tf: Timeframe): (Pick<BarUpdate, "values" | "previous" | "previousCandle"> & { candle: Bar }) | undefined {
    const entry = this.instruments.get(instrumentKey);
    const state = entry?.states.get(tf);
    const bar = entry?.lastBar.get(tf);
    if (!state || !bar) return undefined;
    return { candle: bar, values: state.values(), previous: state.previous(), previousCandle: undefined };
  }

  /** Forgets an instrument: rebuilt from the store (after a warm-up wrote history under it) on its next minute. */
  forget(instrumentKey: string): void {
    this.instruments.delete(instrumentKey);
    this.yearRanges.forget(instrumentKey);
  }

  private specsOf(rules: readonly AlertRule[]): { specs: Map<Timeframe, IndicatorSpec[]>; signature: string; yearRange: boolean } {
    const cached = this.specsCache.get(rules);
    if (cached && cached.length === rules.length) return cached;
    const specs = specsByTimeframe(rules);
    const entry = { length: rules.length, specs, signature: signatureOf(specs), yearRange: rules.some(readsYearRange) };
    this.specsCache.set(rules, entry);
    return entry;
  }

  /** Drops the state of instruments not in `inUse`. */
  retain(inUse: ReadonlySet<string>): void {
    for (const key of this.instruments.keys()) if (!inUse.has(key)) this.instruments.delete(key);
    this.yearRanges.retain(inUse);
  }

  get size(): number {
    return this.instruments.size;
  }

  /**
   * State as of the minute before `beforeTs`: the closed bars of each timeframe replayed into
   * its indicators, and the bar still open seeded into the aggregator. Hourly and daily bars
   * come from the stored bar history (fetched whole, see src/market/bar-history.ts) as far as
   * it goes, and from the stored minutes after it; other timeframes from the minutes alone.
   */
  private rebuild(instrumentKey: string, beforeTs: number, specs: Map<Timeframe, IndicatorSpec[]>, signature: string): InstrumentBars {
    const timeframes = [...specs.keys()];
    const stored = new Map(timeframes.map((tf) => [tf, this.storedBars(instrumentKey, tf, beforeTs, candlesNeeded(specs.get(tf)!) + 2)]));
    const minutesNeeded = Math.max(
      ...timeframes.map((tf) => {
        const full = (candlesNeeded(specs.get(tf)!) + 2) * BAR_MINUTES[tf];
        const until = stored.get(tf)!.at(-1)?.end;
        // With stored bars, only the sessions since the last of them (a day of minutes per calendar day, at most).
        return until === undefined ? full : Math.min(full, (Math.ceil((beforeTs - until) / DAY) + 1) * SESSION_CANDLES);
      }),
    );
    const history = this.candles.recent(instrumentKey, "1m", minutesNeeded).filter((c) => c.ts < beforeTs);
    const aggregators = new Map<Timeframe, BarAggregator>();
    const states = new Map<Timeframe, InstrumentIndicators>();
    const lastBar = new Map<Timeframe, Bar>();
    for (const tf of timeframes) {
      const before = stored.get(tf)!;
      const storedUntil = before.at(-1)?.end ?? -Infinity;
      const bars = [...before, ...aggregate(history, tf, this.sessionOf).filter((b) => b.ts >= storedUntil)];
      // The newest bar is still open unless its time is up: its minutes go to the aggregator instead.
      if (bars.length && bars.at(-1)!.end > beforeTs) bars.pop();
      states.set(tf, InstrumentIndicators.fromCandles(specs.get(tf)!, bars));
      const closedUntil = bars.at(-1)?.end ?? -Infinity;
      if (bars.length) lastBar.set(tf, bars.at(-1)!);
      const aggregator = new BarAggregator([tf], this.sessionOf);
      for (const m of history) if (m.ts >= closedUntil) aggregator.push(m);
      aggregators.set(tf, aggregator);
    }
    const entry: InstrumentBars = { signature, aggregators, states, lastBar, lastMinute: history.at(-1)?.ts ?? beforeTs - MINUTE };
    this.instruments.set(instrumentKey, entry);
    return entry;
  }

  /** The newest `limit` stored hourly or daily bars that closed by `beforeTs`, oldest first; none for other timeframes. */
  private storedBars(instrumentKey: string, tf: Timeframe, beforeTs: number, limit: number): Bar[] {
    if (!isLongTimeframe(tf)) return [];
    return this.candles
      .bars(instrumentKey, tf, beforeTs, limit + 1)
      .map((c) => ({ ...c, end: barEnd(c.ts, tf, this.sessionOf) }))
      .filter((b) => b.end <= beforeTs)
      .slice(-limit);
  }
}

/** The specs the candle rules on each timeframe other than one minute read (the defaults are not kept there). */
function specsByTimeframe(rules: readonly AlertRule[]): Map<Timeframe, IndicatorSpec[]> {
  const out = new Map<Timeframe, Map<string, IndicatorSpec>>();
  for (const r of rules) {
    if (!isCandleRule(r.kind)) continue;
    for (const [tf, keys] of keysByTimeframe(r)) {
      if (tf === "1m") continue;
      const specs = out.get(tf) ?? new Map<string, IndicatorSpec>();
      for (const key of keys) {
        const spec = parseSpecKey(key);
        if (spec) specs.set(key, spec);
      }
      out.set(tf, specs);
    }
  }
  return new Map([...out.keys()].sort(byLength).map((tf) => [tf, [...out.get(tf)!.values()]]));
}

const signatureOf = (specs: Map<Timeframe, IndicatorSpec[]>) => [...specs].map(([tf, s]) => `${tf}:${s.map((x) => JSON.stringify(x)).join(",")}`).join("|");
