/**
 * Streaming indicator state for one instrument: one `next` per closed candle,
 * O(1) work per indicator and memory bounded for ever (see streaming.ts for how each
 * indicator keeps its state, and CandleRing for the kept window).
 */
import { createState, type StreamState } from "./streaming.js";
import { candlesNeeded, specKey, validateSpec, type CandleInput, type IndicatorSpec, type IndicatorValues } from "./spec.js";

const FIELDS = 6; // ts, open, high, low, close, volume

/** Ring buffer of the last `window` candles in one Float64Array (grows up to `window`, never beyond). */
export class CandleRing {
  private data: Float64Array;
  private start = 0;
  private len = 0;

  constructor(private limit: number) {
    this.data = new Float64Array(Math.min(limit, 64) * FIELDS);
  }

  get window(): number {
    return this.limit;
  }
  get length(): number {
    return this.len;
  }
  get capacity(): number {
    return this.data.length / FIELDS;
  }

  /** Raise the window (never lowers it); keeps the stored candles. */
  grow(limit: number): void {
    if (limit > this.limit) this.limit = limit;
  }

  private resize(cap: number): void {
    const next = new Float64Array(cap * FIELDS);
    for (let i = 0; i < this.len; i++) {
      const from = ((this.start + i) % this.capacity) * FIELDS;
      next.set(this.data.subarray(from, from + FIELDS), i * FIELDS);
    }
    this.data = next;
    this.start = 0;
  }

  push(c: CandleInput): void {
    let cap = this.capacity;
    if (this.len === cap && cap < this.limit) {
      this.resize(Math.min(this.limit, cap * 2));
      cap = this.capacity;
    }
    let slot: number;
    if (this.len < cap) {
      slot = (this.start + this.len) % cap;
      this.len++;
    } else {
      slot = this.start;
      this.start = (this.start + 1) % cap;
    }
    const o = slot * FIELDS;
    const d = this.data;
    d[o] = c.ts;
    d[o + 1] = c.open;
    d[o + 2] = c.high;
    d[o + 3] = c.low;
    d[o + 4] = c.close;
    d[o + 5] = c.volume;
  }

  /** i = 0 is the oldest kept candle. */
  get(i: number): CandleInput {
    if (i < 0 || i >= this.len) throw new RangeError(`candle index ${i} out of range 0..${this.len - 1}`);
    const o = ((this.start + i) % this.capacity) * FIELDS;
    const d = this.data;
    return { ts: d[o]!, open: d[o + 1]!, high: d[o + 2]!, low: d[o + 3]!, close: d[o + 4]!, volume: d[o + 5]! };
  }

  toArray(): CandleInput[] {
    const out: CandleInput[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.get(i));
    return out;
  }
}

export interface InstrumentIndicatorsOptions {
  /** Candles kept for rebuilds (addSpecs); default max(300, candlesNeeded(specs) * 2). */
  window?: number;
}

export interface IndicatorDebugSizes {
  /** Maximum candles the ring may hold. */
  window: number;
  /** Candles currently held (<= window). */
  ringLength: number;
  /** Candles the ring's storage can hold right now (<= window). */
  ringCapacity: number;
  /** Numbers held by the indicators' own buffers (SMA/BB windows, band state, VWAP sums). */
  stateNumbers: number;
  /** Number of indicator states (one per distinct specKey). */
  states: number;
  /** Keys in values() / previous(). */
  valueKeys: number;
  previousKeys: number;
}

function defaultWindow(specs: readonly IndicatorSpec[]): number {
  return Math.max(300, candlesNeeded(specs) * 2);
}

function isoOf(ts: number | undefined): string {
  if (ts === undefined || !Number.isFinite(ts)) return String(ts);
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
}

function emptyValues(states: readonly StreamState[]): IndicatorValues {
  const v: IndicatorValues = {};
  for (const s of states) v[s.key] = undefined;
  return v;
}

/** Streaming state for ONE instrument: one `next` per closed candle. Memory bounded for ever. */
export class InstrumentIndicators {
  private states: StreamState[] = [];
  private specList: IndicatorSpec[] = [];
  private readonly ring: CandleRing;
  private readonly explicitWindow: boolean;
  private cur: IndicatorValues;
  private prev: IndicatorValues;
  private last: number | undefined;
  private seen = 0;

  constructor(specs: readonly IndicatorSpec[], opts?: InstrumentIndicatorsOptions) {
    for (const spec of specs) this.addState(spec);
    const w = opts?.window;
    if (w !== undefined && (!Number.isSafeInteger(w) || w < 1)) {
      throw new Error(`InstrumentIndicators: window must be an integer >= 1, got ${w}`);
    }
    this.explicitWindow = w !== undefined;
    this.ring = new CandleRing(w ?? defaultWindow(this.specList));
    this.cur = emptyValues(this.states);
    this.prev = this.cur;
  }

  /** Replays candles (oldest first, strictly increasing ts) into a fresh instance. */
  static fromCandles(specs: readonly IndicatorSpec[], candles: readonly CandleInput[], opts?: InstrumentIndicatorsOptions): InstrumentIndicators {
    const ind = new InstrumentIndicators(specs, opts);
    for (const c of candles) ind.next(c);
    return ind;
  }

  /** Adds a state for spec unless its key is already present; returns the new state. */
  private addState(spec: IndicatorSpec): StreamState | undefined {
    validateSpec(spec);
    const key = specKey(spec);
    if (this.states.some((s) => s.key === key)) return undefined;
    const st = createState(spec);
    this.states.push(st);
    this.specList = [...this.specList, spec];
    return st;
  }

  get lastTs(): number | undefined {
    return this.last;
  }
  get specs(): readonly IndicatorSpec[] {
    return this.specList;
  }
  /** Candles seen (including those replayed by fromCandles). */
  get count(): number {
    return this.seen;
  }
  /** Candles kept for rebuilds. */
  get window(): number {
    return this.ring.window;
  }

  /**
   * Feeds one closed candle. Throws (leaving the state untouched) when candle.ts is not
   * greater than lastTs or a field is not a finite number: callers rebuild instead.
   * Returns the new values (same object as values()).
   */
  next(candle: CandleInput): IndicatorValues {
    const { ts, open, high, low, close, volume } = candle;
    if (this.last !== undefined && !(ts > this.last)) {
      throw new Error(
        `InstrumentIndicators.next: candle ts ${ts} (${isoOf(ts)}) is not after lastTs ${this.last} (${isoOf(this.last)}); ` +
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
    this.ring.push(candle);
    const out: IndicatorValues = {};
    const states = this.states;
    for (let i = 0; i < states.length; i++) {
      const s = states[i]!;
      out[s.key] = s.update(candle);
    }
    this.prev = this.cur;
    this.cur = out;
    this.last = ts;
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

  /** The kept window of candles, oldest first (at most `window`). */
  windowCandles(): CandleInput[] {
    return this.ring.toArray();
  }

  /**
   * Adds indicators mid-stream. Specs whose key is already present are ignored.
   * Each new indicator is rebuilt by replaying the kept window (windowCandles()), so its
   * value equals computeFull([spec], windowCandles()) — and equals streaming from the
   * first candle as long as count <= window. previous() for a new key is its value
   * before the last kept candle. Existing indicators are untouched. When the window was
   * not given explicitly it grows to the default for the enlarged spec list.
   */
  addSpecs(specs: readonly IndicatorSpec[]): void {
    for (const spec of specs) validateSpec(spec);
    const added: StreamState[] = [];
    for (const spec of specs) {
      const st = this.addState(spec);
      if (st) added.push(st);
    }
    if (!added.length) return;
    if (!this.explicitWindow) this.ring.grow(defaultWindow(this.specList));
    const cur: IndicatorValues = { ...this.cur };
    const prev: IndicatorValues = this.prev === this.cur ? cur : { ...this.prev };
    for (const st of added) {
      cur[st.key] = undefined;
      prev[st.key] = undefined;
    }
    const n = this.ring.length;
    for (let i = 0; i < n; i++) {
      const c = this.ring.get(i);
      for (const st of added) {
        const v = st.update(c);
        if (i === n - 2) prev[st.key] = v;
        if (i === n - 1) cur[st.key] = v;
      }
    }
    this.cur = cur;
    this.prev = prev;
  }

  /** Sizes of the internal buffers (for memory-bound tests). */
  debugSizes(): IndicatorDebugSizes {
    let stateNumbers = 0;
    for (const s of this.states) stateNumbers += s.retained();
    return {
      window: this.ring.window,
      ringLength: this.ring.length,
      ringCapacity: this.ring.capacity,
      stateNumbers,
      states: this.states.length,
      valueKeys: Object.keys(this.cur).length,
      previousKeys: Object.keys(this.prev).length,
    };
  }
}
