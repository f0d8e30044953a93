import type { CandleRepository } from "../db/repositories/candles.js";
import { BAR_MINUTES, type Timeframe } from "../market/timeframes.js";
import type { MarketCandle } from "../market/types.js";
import { candlesNeeded, DEFAULT_SPECS, InstrumentIndicators, parseSpecKey, specKey, type IndicatorSpec, type IndicatorValues } from "./indicators/index.js";
import { indicatorKeysFor, isCandleRule, keysByTimeframe, type AlertRule } from "./rules.js";

const MINUTE = 60_000;

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
export function historyNeeded(rules: readonly AlertRule[], skip?: (tf: Timeframe) => boolean): number {
  let minutes = 0;
  for (const r of rules) {
    if (!isCandleRule(r.kind)) continue;
    for (const [tf, keys] of keysByTimeframe(r)) {
      if (skip?.(tf)) continue;
      const specs = keys.map(parseSpecKey).filter((spec): spec is IndicatorSpec => spec !== undefined);
      // A rule on longer bars needs that many bars' worth of one-minute candles.
      minutes = Math.max(minutes, candlesNeeded(specs) * BAR_MINUTES[tf]);
    }
  }
  return minutes;
}

/** What an instrument's rules ask of the indicators, worked out once per rule set. */
export interface IndicatorProfile {
  readonly specs: readonly IndicatorSpec[];
  readonly keys: readonly string[];
  /** historyNeeded(rules). */
  readonly history: number;
  readonly hasCandleRules: boolean;
}

function profileOf(rules: readonly AlertRule[]): IndicatorProfile {
  const specs = specsFor(rules);
  return { specs, keys: specs.map(specKey), history: historyNeeded(rules), hasCandleRules: rules.some((r) => isCandleRule(r.kind)) };
}

const NO_RULES: IndicatorProfile = profileOf([]);

interface Entry {
  state: InstrumentIndicators;
  /** The profile the state was last checked against: the same object again needs no check. */
  profile: IndicatorProfile;
}

/**
 * Streaming indicator state per instrument, one `next` per closed candle. A process that
 * has no state for an instrument, or whose state is not at the previous stored candle (a
 * restart, or another worker took the last candle), rebuilds it from SQLite first, so the
 * values never depend on which process saw which candle.
 *
 * Knowing that without a query per candle: candles are one minute apart and stored before
 * they are fed, so a state whose last candle is the minute just before this one is at the
 * previous stored candle (nothing can lie between them). Only when there is a gap (the
 * first candle of a session, a minute an instrument did not trade, a minute another process
 * handled) is the previous stored candle looked up, and the state rebuilt when it is not
 * the state's.
 */
export class IndicatorEngine {
  private readonly states = new Map<string, Entry>();
  /**
   * Profiles by rule list: the rule book hands out the same array for an instrument until the
   * rule set changes (a reload builds new arrays; a rule this process finished is spliced out
   * in place, hence the length), so the specs are worked out once per change, not per candle.
   */
  private readonly profiles = new WeakMap<readonly AlertRule[], { length: number; profile: IndicatorProfile }>();

  constructor(private readonly candles: CandleRepository) {}

  /** What these rules (one instrument's) need: cached per rule list. */
  profile(rules: readonly AlertRule[]): IndicatorProfile {
    if (!rules.length) return NO_RULES;
    const cached = this.profiles.get(rules);
    if (cached && cached.length === rules.length) return cached.profile;
    const profile = profileOf(rules);
    this.profiles.set(rules, { length: rules.length, profile });
    return profile;
  }

  /**
   * Feeds one freshly closed, already stored one-minute candle, with the instrument's rules
   * (which decide the indicators beyond the defaults). Undefined if the candle is older than
   * what was seen.
   */
  onCandle(instrumentKey: string, candle: MarketCandle, rules: readonly AlertRule[]): CandleUpdate | undefined {
    const profile = this.profile(rules);
    const entry = this.states.get(instrumentKey);
    let state = entry?.state;
    if (entry && entry.profile !== profile) {
      // A new rule set: keep the state if it already computes every indicator the rules read.
      if (profile.keys.every((k) => entry.state.has(k))) entry.profile = profile;
      else state = undefined;
    }
    let previousCandle: MarketCandle | undefined;
    const last = state?.lastTs;
    if (state && last !== undefined && candle.ts > last && (candle.ts - last === MINUTE || this.candles.before(instrumentKey, "1m", candle.ts)?.ts === last)) {
      previousCandle = state.lastCandle;
    } else {
      previousCandle = this.candles.before(instrumentKey, "1m", candle.ts);
      state = this.rebuild(instrumentKey, candle.ts, profile);
    }
    if (state.lastTs !== undefined && candle.ts <= state.lastTs) return undefined;
    const previous = state.values();
    const values = state.next(candle);
    return { values, previous, previousCandle };
  }

  /** How many candles this process's state for the instrument has seen (history replay included). */
  candlesSeen(instrumentKey: string): number | undefined {
    return this.states.get(instrumentKey)?.state.count;
  }

  /** Current values without feeding anything (for /quote). */
  valuesOf(instrumentKey: string): IndicatorValues | undefined {
    return this.states.get(instrumentKey)?.state.values();
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

  private rebuild(instrumentKey: string, beforeTs: number, profile: IndicatorProfile): InstrumentIndicators {
    const need = candlesNeeded(profile.specs);
    const history = this.candles.recent(instrumentKey, "1m", need + 1).filter((c) => c.ts < beforeTs);
    const state = InstrumentIndicators.fromCandles(profile.specs, history);
    this.states.set(instrumentKey, { state, profile });
    return state;
  }
}
