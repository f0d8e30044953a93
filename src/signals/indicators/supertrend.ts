/**
 * Supertrend, TradingView's `ta.supertrend` definition (ATR = Wilder's ATR as in
 * technicalindicators' ATR, which starts on the second candle):
 *
 *   basicUpper = (h + l) / 2 + m * ATR         basicLower = (h + l) / 2 - m * ATR
 *   finalUpper = basicUpper < prevFinalUpper || prevClose > prevFinalUpper ? basicUpper : prevFinalUpper
 *   finalLower = basicLower > prevFinalLower || prevClose < prevFinalLower ? basicLower : prevFinalLower
 *   direction  = previous downtrend: close > finalUpper ? up : down
 *                previous uptrend:   close < finalLower ? down : up
 *   value      = up ? finalLower : finalUpper
 *
 * On the first candle with an ATR value the final bands are the basic bands and the
 * direction is -1 (downtrend, value = upper band), as in TradingView.
 * Pure O(1) step; used by the streaming state and by computeFull.
 */
import type { SupertrendValue } from "./spec.js";

export interface SupertrendBands {
  upper: number;
  lower: number;
  direction: 1 | -1;
}

export function supertrendStep(
  prev: SupertrendBands | undefined,
  prevClose: number,
  high: number,
  low: number,
  close: number,
  atr: number,
  multiplier: number,
): SupertrendBands {
  const mid = (high + low) / 2;
  const basicUpper = mid + multiplier * atr;
  const basicLower = mid - multiplier * atr;
  if (prev === undefined) return { upper: basicUpper, lower: basicLower, direction: -1 };
  const upper = basicUpper < prev.upper || prevClose > prev.upper ? basicUpper : prev.upper;
  const lower = basicLower > prev.lower || prevClose < prev.lower ? basicLower : prev.lower;
  let direction: 1 | -1;
  if (prev.direction === -1) direction = close > upper ? 1 : -1;
  else direction = close < lower ? -1 : 1;
  return { upper, lower, direction };
}

export function supertrendValue(b: SupertrendBands): SupertrendValue {
  return { value: b.direction === 1 ? b.lower : b.upper, direction: b.direction };
}
