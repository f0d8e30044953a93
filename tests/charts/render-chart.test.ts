import { loadImage, createCanvas } from "@napi-rs/canvas";
import { describe, expect, it } from "vitest";
import { chartInput } from "../../src/charts/chart-spec.js";
import { drawChart, renderChartPng, THEME } from "../../src/charts/render-chart.js";
import { sampleBars } from "../../src/charts/sample-bars.js";
import type { MarketCandle } from "../../src/market/types.js";
import { alertRule } from "../support/rules.js";

/** The PNG decoded back into pixels, as a phone would show it. */
async function pixels(png: Buffer): Promise<{ width: number; height: number; at(x: number, y: number): [number, number, number] }> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, image.width, image.height).data;
  return {
    width: image.width,
    height: image.height,
    at: (x, y) => {
      const i = (Math.round(y) * image.width + Math.round(x)) * 4;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    },
  };
}

const rgb = (hex: string): [number, number, number] => [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
const near = (a: readonly number[], b: readonly number[], tolerance = 40) => a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);

describe("chart pictures", () => {
  it("draws a known up candle green, a known down candle red and an alert line in its colour, at their places", async () => {
    const bars: MarketCandle[] = sampleBars(200);
    // Two tall candles the test knows: bar 150 rises 1440 → 1470, bar 170 falls 1470 → 1440.
    bars[150] = { ...bars[150]!, open: 1440, close: 1470, high: 1472, low: 1438 };
    bars[170] = { ...bars[170]!, open: 1470, close: 1440, high: 1472, low: 1438 };
    const rule = alertRule("price_above", { level: 1600 }, { id: 7 });
    const input = chartInput({ symbol: "RELIANCE", timeframe: "5m", bars, count: 200, asked: [], rules: [rule] });
    expect(input.levels).toEqual([{ price: 1600, label: "#7 above" }]);
    const { geometry: g } = drawChart(input);
    const png = await renderChartPng(input);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(20_000);
    const img = await pixels(png);
    expect([img.width, img.height]).toEqual([1280, 720]);
    const body = (i: number) => [g.bodyLeft(i) + g.bodyWidth / 2, g.y(1455)] as const;
    expect(img.at(...body(150))).toEqual(rgb(THEME.up));
    expect(img.at(...body(170))).toEqual(rgb(THEME.down));
    // The alert line: dashes of 6 px every 10 px from the left edge, right of its label box.
    const lineY = Math.round(g.y(1600));
    const dashX = 10 + 10 * 60 + 2;
    expect(near(img.at(dashX, lineY), rgb(THEME.levels[0]))).toBe(true);
    // And nothing in the gap between two dashes but the white background (or a grid line).
    expect(near(img.at(dashX + 6, lineY), rgb(THEME.background), 20)).toBe(true);
    // The volume pane shows the up candle's volume bar in its colour (half transparent on white).
    expect(img.at(g.bodyLeft(150) + g.bodyWidth / 2, g.volumeBottom - 1)[1]).toBeGreaterThan(img.at(g.bodyLeft(150) + g.bodyWidth / 2, g.volumeBottom - 1)[0]);
  });

  it("draws the overlays a trader asks for and the ones their rules read, from the bot's own indicators", () => {
    const bars = sampleBars(300);
    const rules = [
      alertRule("ma_cross_up", { ma: "sma", fast: 10, slow: 30 }),
      alertRule("bb_break_up", { period: 20, stdDev: 2 }),
      alertRule("rsi_below", { level: 30 }),
    ];
    const input = chartInput({
      symbol: "INFY",
      timeframe: "15m",
      bars,
      count: 100,
      asked: [{ kind: "supertrend", period: 10, multiplier: 3 }, { kind: "vwap" }],
      rules,
    });
    expect(input.bars).toHaveLength(100);
    expect(input.overlays!.map((o) => o.label)).toEqual(["Supertrend 10, 3", "VWAP", "SMA 10", "SMA 30"]);
    expect(input.band?.label).toBe("BB 20, 2");
    // Warmed up on the 200 bars before the first one drawn: every value is there.
    for (const o of input.overlays!) expect(o.values.every((v) => typeof v === "number")).toBe(true);
    // SMA 10 at the last bar is the mean of the last 10 closes.
    const last10 = bars.slice(-10).reduce((a, b) => a + b.close, 0) / 10;
    expect(input.overlays![2]!.values.at(-1)).toBeCloseTo(last10, 6);
    expect(input.title).toBe("INFY · 15m · IST");
  });
});
