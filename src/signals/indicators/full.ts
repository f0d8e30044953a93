/**
 * Full recompute with technicalindicators' batch functions: the reference the
 * streaming state is tested against, and the slow path the benchmark compares with.
 */
import { ATR, BollingerBands, EMA, MACD, RSI, SMA } from "technicalindicators";
import { istDay, specKey, validateSpec, type CandleInput, type IndicatorSpec, type IndicatorValue, type IndicatorValues } from "./spec.js";
import { supertrendStep, supertrendValue, type SupertrendBands } from "./supertrend.js";

function last<T>(arr: readonly T[]): T | undefined {
  return arr.length ? arr[arr.length - 1] : undefined;
}

interface Columns {
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

function fullOne(spec: IndicatorSpec, candles: readonly CandleInput[], col: Columns): IndicatorValue | undefined {
  switch (spec.kind) {
    case "rsi":
      return last(RSI.calculate({ period: spec.period, values: col.close }));
    case "sma":
      return last(SMA.calculate({ period: spec.period, values: col.close }));
    case "volume_sma":
      return last(SMA.calculate({ period: spec.period, values: col.volume }));
    case "ema":
      return last(EMA.calculate({ period: spec.period, values: col.close }));
    case "macd": {
      const r = last(
        MACD.calculate({
          values: col.close,
          fastPeriod: spec.fast,
          slowPeriod: spec.slow,
          signalPeriod: spec.signal,
          SimpleMAOscillator: false,
          SimpleMASignal: false,
        }),
      );
      if (r === undefined || r.MACD === undefined || r.signal === undefined || r.histogram === undefined) return undefined;
      return { macd: r.MACD, signal: r.signal, histogram: r.histogram };
    }
    case "bb": {
      const r = last(BollingerBands.calculate({ period: spec.period, stdDev: spec.stdDev, values: col.close }));
      return r === undefined ? undefined : { upper: r.upper, middle: r.middle, lower: r.lower };
    }
    case "atr":
      return last(ATR.calculate({ high: col.high, low: col.low, close: col.close, period: spec.period }));
    case "supertrend": {
      const atr = ATR.calculate({ high: col.high, low: col.low, close: col.close, period: spec.period });
      const offset = candles.length - atr.length; // atr[j] belongs to candle offset + j
      let bands: SupertrendBands | undefined;
      for (let j = 0; j < atr.length; j++) {
        const c = candles[offset + j]!;
        const prevClose = candles[offset + j - 1]?.close ?? NaN;
        bands = supertrendStep(bands, prevClose, c.high, c.low, c.close, atr[j]!, spec.multiplier);
      }
      return bands === undefined ? undefined : supertrendValue(bands);
    }
    case "vwap": {
      const lastCandle = last(candles);
      if (lastCandle === undefined) return undefined;
      const day = istDay(lastCandle.ts);
      let start = candles.length - 1;
      while (start > 0 && istDay(candles[start - 1]!.ts) === day) start--;
      let pv = 0;
      let vol = 0;
      for (let i = start; i < candles.length; i++) {
        const c = candles[i]!;
        pv += ((c.high + c.low + c.close) / 3) * c.volume;
        vol += c.volume;
      }
      return vol > 0 ? pv / vol : undefined;
    }
  }
}

/**
 * Full recompute over all candles (oldest first) with technicalindicators' batch
 * `calculate` functions (Supertrend: batch ATR plus the band rules; VWAP: the candles
 * of the last candle's IST day). Returns the values at the last candle, keyed by
 * specKey; undefined where there is not enough data.
 */
export function computeFull(specs: readonly IndicatorSpec[], candles: readonly CandleInput[]): IndicatorValues {
  const col: Columns = {
    high: candles.map((c) => c.high),
    low: candles.map((c) => c.low),
    close: candles.map((c) => c.close),
    volume: candles.map((c) => c.volume),
  };
  const out: IndicatorValues = {};
  for (const spec of specs) {
    validateSpec(spec);
    const key = specKey(spec);
    if (key in out) continue;
    out[key] = fullOne(spec, candles, col);
  }
  return out;
}
