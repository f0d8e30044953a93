import type { ParseResult } from "../bot/parse-alert.js";
import { isTimeframe, type Timeframe } from "../market/timeframes.js";
import type { OverlayRequest } from "./chart-spec.js";

/** `/chart SYMBOL [1m|5m|15m|30m|1h|1d] [N] [ema N] [sma N] [bb] [supertrend] [vwap]`, before the symbol is resolved. */
export interface ChartRequest {
  symbol: string;
  timeframe: Timeframe;
  count: number;
  overlays: OverlayRequest[];
}

export const DEFAULT_CHART_BARS = 120;
export const MAX_CHART_BARS = 1000;

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });
const period = (s: string | undefined) => (s && /^\d{1,3}$/.test(s) && Number(s) >= 2 && Number(s) <= 400 ? Number(s) : undefined);

export function parseChart(text: string): ParseResult<ChartRequest> {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const symbol = words[0];
  if (!symbol) return fail("Which symbol?");
  let timeframe: Timeframe = "15m";
  let count = DEFAULT_CHART_BARS;
  const overlays: OverlayRequest[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!.toLowerCase();
    if (isTimeframe(w)) timeframe = w;
    else if (/^\d{1,4}$/.test(w)) {
      count = Number(w);
      if (count < 10 || count > MAX_CHART_BARS) return fail(`Show between 10 and ${MAX_CHART_BARS} candles (got ${w}).`);
    } else if (w === "ema" || w === "sma") {
      const p = period(words[i + 1]);
      if (p === undefined) return fail(`"${w}" needs a period from 2 to 400, e.g. ${w} 50.`);
      overlays.push({ kind: w, period: p });
      i++;
    } else if (w === "bb" || w === "bollinger") overlays.push({ kind: "bb", period: 20, stdDev: 2 });
    else if (w === "supertrend" || w === "st") overlays.push({ kind: "supertrend", period: 10, multiplier: 3 });
    else if (w === "vwap") overlays.push({ kind: "vwap" });
    else
      return fail(`I don't understand "${words[i]}": give a timeframe (1m, 5m, 15m, 30m, 1h, 1d), a number of candles, or ema N, sma N, bb, supertrend, vwap.`);
  }
  return { ok: true, value: { symbol, timeframe, count, overlays } };
}
