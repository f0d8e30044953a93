import { chartInput } from "../src/charts/chart-spec.js";
import { renderChartPng } from "../src/charts/render-chart.js";
import { sampleBars } from "../src/charts/sample-bars.js";
import type { AlertRule } from "../src/signals/rules.js";
import { percentile, type BenchResult } from "./report.js";

const rule = (id: number, level: number, kind: AlertRule["kind"]): AlertRule => ({
  id,
  userId: 1,
  instrumentKey: "NSE_EQ|INE002A01018",
  kind,
  params: { level },
  frequency: "once",
  cooldownSeconds: 0,
  expiresAt: null,
  lastFiredAt: null,
  fireCount: 0,
  state: { armed: true },
});

/**
 * A 1,000-candle chart from bars to PNG bytes: overlays computed (EMA 20, Bollinger,
 * Supertrend, VWAP), drawn with two alert lines, encoded. Three warm-ups, then 20 timed runs.
 */
export async function benchCharts(): Promise<BenchResult[]> {
  const bars = sampleBars(1060);
  const rules = [rule(1, 1500, "price_above"), rule(2, 1400, "price_below")];
  const render = () =>
    renderChartPng(
      chartInput({
        symbol: "RELIANCE",
        timeframe: "5m",
        bars,
        count: 1000,
        asked: [{ kind: "ema", period: 20 }, { kind: "bb", period: 20, stdDev: 2 }, { kind: "supertrend", period: 10, multiplier: 3 }, { kind: "vwap" }],
        rules,
      }),
    );
  for (let i = 0; i < 3; i++) await render();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    bytes = (await render()).length;
    times.push(performance.now() - t0);
  }
  return [
    {
      name: "1,000-candle chart to PNG (1280×720, 4 overlays, 2 alert lines), p95 of 20",
      value: percentile(times, 95),
      unit: "ms",
      goal: 200,
      better: "lower",
    },
    { name: "the same, median", value: percentile(times, 50), unit: "ms", better: "lower" },
    { name: "PNG size", value: bytes / 1024, unit: "KiB", better: "lower" },
  ];
}
