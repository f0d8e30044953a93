import { istInstant } from "../market/calendar.js";
import { seededRandom } from "../market/simulator.js";
import type { MarketCandle } from "../market/types.js";

/**
 * Synthetic 5-minute bars over whole NSE sessions (75 a day, weekdays from 6 Jan 2025), a
 * seeded random walk: the same bars every run, for the chart's benchmark, its pixel tests and
 * the README's picture.
 */
export function sampleBars(count: number, seed = 3): MarketCandle[] {
  const rnd = seededRandom(seed);
  const out: MarketCandle[] = [];
  let price = 1450;
  let day = Date.parse("2025-01-06T00:00:00Z");
  while (out.length < count) {
    const date = new Date(day).toISOString().slice(0, 10);
    const weekday = new Date(day).getUTCDay();
    day += 86_400_000;
    if (weekday === 0 || weekday === 6) continue;
    for (let k = 0; k < 75 && out.length < count; k++) {
      const open = price;
      price = Math.max(10, price + (rnd() - 0.49) * 6);
      out.push({
        ts: istInstant(date, 9 * 60 + 15 + 5 * k).getTime(),
        open,
        high: Math.max(open, price) + rnd() * 2,
        low: Math.min(open, price) - rnd() * 2,
        close: price,
        volume: Math.round(5000 + rnd() * 20000),
      });
    }
  }
  return out;
}
