/**
 * Streaming indicator state for one instrument: one `next` per closed candle, O(1) work
 * per indicator and a fixed amount of memory for ever (see streaming.ts for how each
 * indicator keeps its state).
 *
 * No window of past candles is kept: the candle store holds the history, so a state that
 * needs other indicators, or has missed a candle, is rebuilt from SQLite (IndicatorEngine),
 * not replayed from a copy in memory. At 2,000 instruments the 750-candle ring this
 * replaced held ~70 MB.
 */
import { createState, type StreamState } from "./streaming.js";
import { specKey, validateSpec, type CandleInput, type IndicatorSpec, type IndicatorValues } from "./spec.js";

export interface IndicatorDebugSizes {
  /** Numbers held by the indicators' own buffers (SMA/BB windows, band state, VWAP sums). */
  stateNumbers: number;
  /** Number of indicator states (one per distinct specKey). */
  states: number;
  /** Keys in values() / previous(). */
  valueKeys: number;
  previousKeys: number;
}

function isoOf(ts: number | undefined): string {
  if (ts === undefined || !Number.isFinite(ts)) return String(ts);
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
}

/** Streaming state for ONE instrument: one `next` per closed candle. Memory bounded for ever. */
export class InstrumentIndicators {
  private readonly states: StreamState[] = [];
  private readonly specList: IndicatorSpec[] = [];
  private readonly keySet = new Set<string>();
  /** Every key with undefined, in state order: each step's values start as a copy of it (one shape for all). */
  private readonly blank: IndicatorValues = {};
  private cur: IndicatorValues;
  private prev: IndicatorValues;
  private lastCandleSeen: CandleInput | undefined;
  private seen = 0;

  constructor(specs: readonly IndicatorSpec[]) {
    for (const spec of specs) {
      validateSpec(spec);
      const key = specKey(spec);
      if (this.keySet.has(key)) continue;
      this.keySet.add(key);
      this.states.push(createState(spec));
      this.specList.push(spec);
      this.blank[key] = undefined;
    }
    this.cur = { ...this.blank };
    this.prev = this.cur;
  }

  /** Replays candles (oldest first, strictly increasing ts) into a fresh instance. */
  static fromCandles(specs: readonly IndicatorSpec[], candles: readonly CandleInput[]): InstrumentIndicators {
    const ind = new InstrumentIndicators(specs);
    for (const c of candles) ind.next(c);
    return ind;
  }

  get lastTs(): number | undefined {
    return this.lastCandleSeen?.ts;
  }
  /** The last candle fed (the previous candle of the next one, when that follows on). */
  get lastCandle(): CandleInput | undefined {
    return this.lastCandleSeen;
  }
  get specs(): readonly IndicatorSpec[] {
    return this.specList;
  }
  /** Whether this state computes the indicator with this specKey. */
  has(key: string): boolean {
    return this.keySet.has(key);
  }
  /** Candles seen (including those replayed by fromCandles). */
  get count(): number {
    return this.seen;
  }

  /**
   * Feeds one closed candle. Throws (leaving the state untouched) when candle.ts is not
   * greater than lastTs or a field is not a finite number: callers rebuild instead.
   * Returns the new values (same object as values()).
   */
  next(candle: CandleInput): IndicatorValues {
    const { ts, open, high, low, close, volume } = candle;
    const last = this.lastCandleSeen?.ts;
    if (last !== undefined && !(ts > last)) {
      throw new Error(
        `InstrumentIndicators.next: candle ts ${ts} (${isoOf(ts)}) is not after lastTs ${last} (${isoOf(last)}); ` +
          `candles must be fed once each in increasing time order (rebuild with fromCandles to correct history)`,
      );
    }
    if (
      !Number.isFinite(ts) ||
      !Number.isFinite(open) ||
      !Number.isFinite(high) ||
      !Number.isFinite(low) ||
      !Number.isFinite(close) ||
      !Number.isFinite(volume)
    ) {
      throw new Error(`InstrumentIndicators.next: candle has a non-finite field: ${JSON.stringify(candle)}`);
    }
    const out: IndicatorValues = { ...this.blank };
    const states = this.states;
    for (let i = 0; i < states.length; i++) {
      const s = states[i]!;
      out[s.key] = s.update(candle);
    }
    this.prev = this.cur;
    this.cur = out;
    this.lastCandleSeen = candle;
    this.seen++;
    return out;
  }

  /** Current values (after the last next), keyed by specKey. Replaced, never mutated, by next. */
  values(): IndicatorValues {
    return this.cur;
  }

  /** Values before the last next (all undefined before the second candle). */
  previous(): IndicatorValues {
    return this.prev;
  }

  /** Sizes of the internal buffers (for memory-bound tests). */
  debugSizes(): IndicatorDebugSizes {
    let stateNumbers = 0;
    for (const s of this.states) stateNumbers += s.retained();
    return {
      stateNumbers,
      states: this.states.length,
      valueKeys: Object.keys(this.cur).length,
      previousKeys: Object.keys(this.prev).length,
    };
  }
}
