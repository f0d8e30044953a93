/**
 * Per-indicator streaming state, one `update` per closed candle, O(1) memory each.
 *
 * - RSI, EMA, MACD (EMA oscillator and signal) and ATR use technicalindicators'
 *   streaming instances, which stay flat in memory for ever.
 * - SMA, volume SMA and Bollinger Bands are implemented here over a fixed
 *   Float64Array window (technicalindicators' SMA / BollingerBands instances retain
 *   ~64 / ~192 bytes per update for ever). The rolling sum is recomputed from the
 *   window each time the window wraps (every `period` updates), so float drift never
 *   accumulates beyond `period` additions. Bollinger's standard deviation is the
 *   population standard deviation computed two-pass over the window, as in
 *   technicalindicators' SD.
 * - Supertrend: technicalindicators ATR plus O(1) band state (supertrend.ts).
 * - VWAP: cumulative price*volume and volume, reset at each new IST day.
 */
import { ATR, EMA, MACD, RSI } from "technicalindicators";
import { istDay, specKey, type CandleInput, type IndicatorSpec, type IndicatorValue } from "./spec.js";
import { supertrendStep, supertrendValue, type SupertrendBands } from "./supertrend.js";

export interface StreamState {
  readonly key: string;
  readonly spec: IndicatorSpec;
  update(c: CandleInput): IndicatorValue | undefined;
  /** Numbers retained by this state's own buffers (constant per spec): for memory checks. */
  retained(): number;
}

/** Fixed window of the last `period` values with a drift-free rolling sum. */
export class RollingWindow {
  readonly buf: Float64Array;
  private idx = 0;
  private filled = 0;
  private sum = 0;

  constructor(readonly period: number) {
    this.buf = new Float64Array(period);
  }

  push(x: number): void {
    const p = this.period;
    if (this.filled < p) {
      this.buf[this.idx] = x;
      this.sum += x;
      this.filled++;
    } else {
      this.sum += x - this.buf[this.idx]!;
      this.buf[this.idx] = x;
    }
    this.idx++;
    if (this.idx === p) {
      this.idx = 0;
      // Wrapped: recompute the sum exactly from the window to discard accumulated drift.
      let s = 0;
      for (let i = 0; i < p; i++) s += this.buf[i]!;
      this.sum = s;
    }
  }

  get full(): boolean {
    return this.filled === this.period;
  }

  mean(): number | undefined {
    return this.filled === this.period ? this.sum / this.period : undefined;
  }
}

class RsiState implements StreamState {
  private readonly ind: RSI;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "rsi" }>,
    readonly key: string,
  ) {
    this.ind = new RSI({ period: spec.period, values: [] });
  }
  update(c: CandleInput): number | undefined {
    return this.ind.nextValue(c.close);
  }
  retained(): number {
    return 0;
  }
}

class EmaState implements StreamState {
  private readonly ind: EMA;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "ema" }>,
    readonly key: string,
  ) {
    this.ind = new EMA({ period: spec.period, values: [] });
  }
  update(c: CandleInput): number | undefined {
    return this.ind.nextValue(c.close);
  }
  retained(): number {
    return 0;
  }
}

class MacdState implements StreamState {
  private readonly ind: MACD;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "macd" }>,
    readonly key: string,
  ) {
    this.ind = new MACD({
      values: [],
      fastPeriod: spec.fast,
      slowPeriod: spec.slow,
      signalPeriod: spec.signal,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    });
  }
  update(c: CandleInput): IndicatorValue | undefined {
    const r = this.ind.nextValue(c.close);
    if (r === undefined || r.MACD === undefined || r.signal === undefined || r.histogram === undefined) return undefined;
    return { macd: r.MACD, signal: r.signal, histogram: r.histogram };
  }
  retained(): number {
    return 0;
  }
}

class AtrState implements StreamState {
  private readonly ind: ATR;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "atr" }>,
    readonly key: string,
  ) {
    this.ind = new ATR({ high: [], low: [], close: [], period: spec.period });
  }
  update(c: CandleInput): number | undefined {
    return this.ind.nextValue({ high: c.high, low: c.low, close: c.close });
  }
  retained(): number {
    return 0;
  }
}

class SmaState implements StreamState {
  private readonly win: RollingWindow;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "sma" | "volume_sma" }>,
    readonly key: string,
  ) {
    this.win = new RollingWindow(spec.period);
  }
  update(c: CandleInput): number | undefined {
    this.win.push(this.spec.kind === "sma" ? c.close : c.volume);
    return this.win.mean();
  }
  retained(): number {
    return this.win.buf.length;
  }
}

class BbState implements StreamState {
  private readonly win: RollingWindow;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "bb" }>,
    readonly key: string,
  ) {
    this.win = new RollingWindow(spec.period);
  }
  update(c: CandleInput): IndicatorValue | undefined {
    const w = this.win;
    w.push(c.close);
    const mean = w.mean();
    if (mean === undefined) return undefined;
    const buf = w.buf;
    const p = w.period;
    let ss = 0;
    for (let i = 0; i < p; i++) {
      const d = buf[i]! - mean;
      ss += d * d;
    }
    const sd = Math.sqrt(ss / p);
    const k = this.spec.stdDev;
    return { upper: mean + sd * k, middle: mean, lower: mean - sd * k };
  }
  retained(): number {
    return this.win.buf.length;
  }
}

class SupertrendState implements StreamState {
  private readonly atr: ATR;
  private bands: SupertrendBands | undefined;
  private prevClose = NaN;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "supertrend" }>,
    readonly key: string,
  ) {
    this.atr = new ATR({ high: [], low: [], close: [], period: spec.period });
  }
  update(c: CandleInput): IndicatorValue | undefined {
    const a = this.atr.nextValue({ high: c.high, low: c.low, close: c.close });
    if (a !== undefined) {
      this.bands = supertrendStep(this.bands, this.prevClose, c.high, c.low, c.close, a, this.spec.multiplier);
    }
    this.prevClose = c.close;
    return this.bands === undefined ? undefined : supertrendValue(this.bands);
  }
  retained(): number {
    return 4;
  }
}

class VwapState implements StreamState {
  private day = NaN;
  private pv = 0;
  private vol = 0;
  constructor(
    readonly spec: Extract<IndicatorSpec, { kind: "vwap" }>,
    readonly key: string,
  ) {}
  update(c: CandleInput): number | undefined {
    const d = istDay(c.ts);
    if (d !== this.day) {
      this.day = d;
      this.pv = 0;
      this.vol = 0;
    }
    this.pv += ((c.high + c.low + c.close) / 3) * c.volume;
    this.vol += c.volume;
    return this.vol > 0 ? this.pv / this.vol : undefined;
  }
  retained(): number {
    return 3;
  }
}

export function createState(spec: IndicatorSpec): StreamState {
  const key = specKey(spec);
  switch (spec.kind) {
    case "rsi":
      return new RsiState(spec, key);
    case "ema":
      return new EmaState(spec, key);
    case "macd":
      return new MacdState(spec, key);
    case "atr":
      return new AtrState(spec, key);
    case "sma":
    case "volume_sma":
      return new SmaState(spec, key);
    case "bb":
      return new BbState(spec, key);
    case "supertrend":
      return new SupertrendState(spec, key);
    case "vwap":
      return new VwapState(spec, key);
  }
}
