import type { CandleRepository } from "../db/repositories/candles.js";
import type { MarketCandle } from "../market/types.js";
import { candlesNeeded, DEFAULT_SPECS, InstrumentIndicators, parseSpecKey, specKey, type IndicatorSpec, type IndicatorValues } from "./indicators/index.js";
import { indicatorKeysFor, isCandleRule, type AlertRule } from "./rules.js";

export interface CandleUpdate {
  values: IndicatorValues;
  previous: IndicatorValues;
  previousCandle: MarketCandle | undefined;
}

/** The default indicators plus whatever the instrument's candle rules read. */
export function specsFor(rules: readonly AlertRule[]): IndicatorSpec[] {
  const byKey = new Map(DEFAULT_SPECS.map((s) => [specKey(s), s]));
  for (const r of rules) {
    if (!isCandleRule(r.kind)) continue;
    for (const key of indicatorKeysFor(r)) {
      const spec = parseSpecKey(key);
      if (spec && !byKey.has(key)) byKey.set(key, spec);
    }
  }
  return [...byKey.values()];
}

/**
 * Candles of history the instrument's candle rules need for their indicators to settle; 0
 * when it has none (a watched or price-only instrument needs no history: its default
 * indicators fill in from live candles).
 */
export function historyNeeded(rules: readonly AlertRule[]): number {
  const specs = rules
    .filter((r) => isCandleRule(r.kind))
    .flatMap((r) => indicatorKeysFor(r))
    .map(parseSpecKey)
    .filter((spec): spec is IndicatorSpec => spec !== undefined);
  return candlesNeeded(specs);
}

/**
 * Streaming indicator state per instrument, one `next` per closed candle. A process that
 * has no state for an instrument, or whose state is not at the previous stored candle (a
 * restart, or another worker took the last candle), rebuilds it from SQLite first, so the
 * values never depend on which process saw which candle.
 */
export class IndicatorEngine {
  private readonly states = new Map<string, InstrumentIndicators>();

  constructor(private readonly candles: CandleRepository) {}

  /** Feeds one freshly closed, already stored candle. Undefined if it is not newer than what was seen. */
  onCandle(instrumentKey: string, candle: MarketCandle, specs: readonly IndicatorSpec[]): CandleUpdate | undefined {
    const previousCandle = this.candles.before(instrumentKey, "1m", candle.ts);
    let state = this.states.get(instrumentKey);
    const wanted = new Set(specs.map(specKey));
    const has = new Set(state?.specs.map(specKey) ?? []);
    const inStep = state !== undefined && state.lastTs === previousCandle?.ts;
    if (!state || !inStep) {
      state = this.rebuild(instrumentKey, candle.ts, specs);
    } else if ([...wanted].some((k) => !has.has(k))) {
      state.addSpecs(specs.filter((s) => !has.has(specKey(s))));
    }
    if (state.lastTs !== undefined && candle.ts <= state.lastTs) return undefined;
    state.next(candle);
    return { values: state.values(), previous: state.previous(), previousCandle };
  }

  /** How many candles this process's state for the instrument has seen (history replay included). */
  candlesSeen(instrumentKey: string): number | undefined {
    return this.states.get(instrumentKey)?.count;
  }

  /** Current values without feeding anything (for /quote). */
  valuesOf(instrumentKey: string): IndicatorValues | undefined {
    return this.states.get(instrumentKey)?.values();
  }

  /** Forgets an instrument: after a warm-up wrote history under it, or when nobody uses it any more. */
  forget(instrumentKey: string): void {
    this.states.delete(instrumentKey);
  }

  /** Drops state of instruments not in `inUse`, so memory follows what users watch. */
  retain(inUse: ReadonlySet<string>): void {
    for (const key of this.states.keys()) if (!inUse.has(key)) this.states.delete(key);
  }

  get size(): number {
    return this.states.size;
  }

  private rebuild(instrumentKey: string, beforeTs: number, specs: readonly IndicatorSpec[]): InstrumentIndicators {
    const need = candlesNeeded(specs);
    const history = this.candles.recent(instrumentKey, "1m", need + 1).filter((c) => c.ts < beforeTs);
    const state = InstrumentIndicators.fromCandles(specs, history);
    this.states.set(instrumentKey, state);
    return state;
  }
}
