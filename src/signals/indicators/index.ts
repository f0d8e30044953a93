export {
  DEFAULT_SPECS,
  SESSION_CANDLES,
  candlesNeeded,
  candlesNeededFor,
  istDay,
  parseSpecKey,
  specKey,
  validateSpec,
  type BandsValue,
  type CandleInput,
  type IndicatorKind,
  type IndicatorSpec,
  type IndicatorValue,
  type IndicatorValues,
  type MacdValue,
  type SupertrendValue,
} from "./spec.js";
export { computeFull } from "./full.js";
export { InstrumentIndicators, type IndicatorDebugSizes } from "./instrument.js";
export { supertrendStep, supertrendValue, type SupertrendBands } from "./supertrend.js";
export { RollingWindow, createState, type StreamState } from "./streaming.js";
