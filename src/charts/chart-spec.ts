import type { Timeframe } from "../market/timeframes.js";
import type { MarketCandle } from "../market/types.js";
import { InstrumentIndicators, parseSpecKey, specKey, type IndicatorSpec } from "../signals/indicators/index.js";
import { indicatorKeysFor, isCandleRule, type AlertRule } from "../signals/rules.js";
import type { ChartInput, Overlay } from "./render-chart.js";

/**
 * What a chart shows, from the bars and the trader's wishes and rules: the overlays (computed
 * by the bot's own streaming indicators, so the lines are the values the alerts use), the
 * Bollinger band, and the alert levels. Pure.
 */

/** Overlays a trader may ask for after the symbol: `ema 50`, `sma 200`, `bb`, `supertrend`, `vwap`. */
export type OverlayRequest = Extract<IndicatorSpec, { kind: "ema" | "sma" | "bb" | "supertrend" | "vwap" }>;

const DEFAULT_OVERLAYS: OverlayRequest[] = [{ kind: "ema", period: 20 }];

/** The overlays a rule reads, as chart lines (an RSI or MACD rule draws nothing on the price pane). */
function overlaysOfRule(rule: AlertRule): OverlayRequest[] {
  if (!isCandleRule(rule.kind)) return [];
  return indicatorKeysFor(rule)
    .map(parseSpecKey)
    .filter((s): s is OverlayRequest => s !== undefined && ["ema", "sma", "bb", "supertrend", "vwap"].includes(s.kind));
}

/** The price levels of a trader's price rules, as labelled lines: "#12 above". */
function levelsOf(rules: readonly AlertRule[]): Array<{ price: number; label: string }> {
  const out: Array<{ price: number; label: string }> = [];
  for (const r of rules) {
    const level = r.params.level;
    if (isCandleRule(r.kind) || level === undefined) continue;
    const word = r.kind === "price_above" || r.kind === "cross_up" ? "above" : r.kind === "price_below" || r.kind === "cross_down" ? "below" : "level";
    out.push({ price: level, label: `#${r.id} ${word}` });
  }
  return out;
}

const overlayLabel = (s: OverlayRequest) =>
  s.kind === "ema" || s.kind === "sma"
    ? `${s.kind.toUpperCase()} ${s.period}`
    : s.kind === "bb"
      ? `BB ${s.period}, ${s.stdDev}`
      : s.kind === "supertrend"
        ? `Supertrend ${s.period}, ${s.multiplier}`
        : "VWAP";

export function chartInput(o: {
  symbol: string;
  timeframe: Timeframe;
  /** The bars to draw, oldest first, with history before them for the indicators to settle. */
  bars: readonly MarketCandle[];
  /** How many of the newest bars to draw. */
  count: number;
  asked: readonly OverlayRequest[];
  rules: readonly AlertRule[];
}): ChartInput {
  const wanted = new Map<string, OverlayRequest>();
  for (const s of [...(o.asked.length ? o.asked : DEFAULT_OVERLAYS), ...o.rules.flatMap(overlaysOfRule)]) wanted.set(specKey(s), s);
  const specs = [...wanted.values()];
  const series = new Map<string, Array<unknown>>(specs.map((s) => [specKey(s), []]));
  const state = new InstrumentIndicators(specs);
  for (const bar of o.bars) {
    const values = state.next(bar);
    for (const [key, list] of series) list.push(values[key]);
  }
  const from = Math.max(0, o.bars.length - o.count);
  const tail = <T>(list: readonly T[]) => list.slice(from);
  const overlays: Overlay[] = [];
  let band: ChartInput["band"];
  for (const s of specs) {
    const values = tail(series.get(specKey(s))!);
    if (s.kind === "bb") {
      const bands = values as Array<{ upper: number; lower: number } | undefined>;
      band = { label: overlayLabel(s), upper: bands.map((b) => b?.upper), lower: bands.map((b) => b?.lower) };
    } else if (s.kind === "supertrend") {
      const st = values as Array<{ value: number; direction: 1 | -1 } | undefined>;
      overlays.push({ label: overlayLabel(s), values: st.map((v) => v?.value), down: st.map((v) => v?.direction === -1) });
    } else overlays.push({ label: overlayLabel(s), values: values as Array<number | undefined> });
  }
  return {
    title: `${o.symbol} · ${o.timeframe} · IST`,
    bars: tail(o.bars),
    overlays,
    ...(band ? { band } : {}),
    levels: levelsOf(o.rules),
  };
}
