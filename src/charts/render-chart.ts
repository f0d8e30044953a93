import { createRequire } from "node:module";
import { createCanvas, GlobalFonts, PngFilter, type Canvas, type SKRSContext2D } from "@napi-rs/canvas";
import type { MarketCandle } from "../market/types.js";

/**
 * Candlestick charts as PNG, drawn with @napi-rs/canvas (Skia; its binary is an npm package,
 * nothing is downloaded at install or run time). Chosen by measurement against resvg-js,
 * sharp and echarts (README, "Charts"). The x axis is the bar index, so nights, weekends and
 * holidays take no room; times are IST. The font ships in an npm package too, so a chart
 * looks the same on a server without fonts. Pure apart from the canvas: data in, PNG out.
 */

export const THEME = {
  background: "#ffffff",
  grid: "#eef0f3",
  text: "#333333",
  up: "#26a69a",
  down: "#ef5350",
  band: "rgba(126,87,194,0.12)",
  bandLine: "#7e57c2",
  lines: ["#2962ff", "#ff9800", "#9c27b0", "#00897b", "#6d4c41"],
  supertrendUp: "#00c853",
  supertrendDown: "#d50000",
  levels: ["#e65100", "#0277bd", "#6a1b9a", "#2e7d32"],
} as const;

/** A line over the candles (EMA, SMA, VWAP, Supertrend): one value per bar, undefined where it has none. */
export interface Overlay {
  label: string;
  values: readonly (number | undefined)[];
  /** Per bar: draw this bar's segment in the second colour (Supertrend in a downtrend). */
  down?: readonly boolean[];
}

export interface ChartInput {
  title: string;
  bars: readonly MarketCandle[];
  overlays?: readonly Overlay[];
  band?: { label: string; upper: readonly (number | undefined)[]; lower: readonly (number | undefined)[] };
  /** The trader's alert levels: dashed lines with their label. */
  levels?: readonly { price: number; label: string }[];
  width?: number;
  height?: number;
}

export const FONT_FAMILY = "ChartRoboto";
let fontRegistered = false;

function registerFont(): void {
  if (fontRegistered) return;
  const file = createRequire(import.meta.url).resolve("@fontsource/roboto/files/roboto-latin-400-normal.woff2");
  if (!GlobalFonts.registerFromPath(file, FONT_FAMILY)) throw new Error(`could not load the chart font ${file}`);
  fontRegistered = true;
}

const IST_MS = 19_800_000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const ist = (t: number) => new Date(t + IST_MS);
const pad2 = (n: number) => String(n).padStart(2, "0");
const price = (p: number) => p.toFixed(2);

/** Where things are drawn, for tests that check the picture's pixels. */
export interface ChartGeometry {
  width: number;
  height: number;
  /** Centre x of bar i. */
  x(i: number): number;
  /** y of a price. */
  y(p: number): number;
  /** Left edge and width of bar i's body. */
  bodyLeft(i: number): number;
  bodyWidth: number;
  priceTop: number;
  priceBottom: number;
  volumeTop: number;
  volumeBottom: number;
  right: number;
}

export function drawChart(input: ChartInput): { canvas: Canvas; geometry: ChartGeometry } {
  registerFont();
  const { bars } = input;
  const n = bars.length;
  if (!n) throw new Error("a chart needs at least one bar");
  const W = input.width ?? 1280;
  const H = input.height ?? 720;
  const left = 10;
  const right = W - 86;
  const priceTop = 34;
  const priceBottom = priceTop + Math.round((H - priceTop - 40) * 0.77);
  const volumeTop = priceBottom + 10;
  const volumeBottom = H - 30;
  const levels = input.levels ?? [];

  let lo = Infinity;
  let hi = -Infinity;
  let maxVolume = 0;
  for (const b of bars) {
    lo = Math.min(lo, b.low);
    hi = Math.max(hi, b.high);
    maxVolume = Math.max(maxVolume, b.volume);
  }
  for (const l of levels) {
    lo = Math.min(lo, l.price);
    hi = Math.max(hi, l.price);
  }
  const margin = (hi - lo) * 0.05 || 1;
  lo -= margin;
  hi += margin;
  const step = (right - left) / n;
  // Whole pixels: crisp, and Skia fills thousands of aligned rectangles many times faster than sub-pixel ones.
  const bodyWidth = Math.max(1, Math.round(step * 0.7));
  const bodyLeft = (i: number) => Math.round(left + (i + 0.5) * step - bodyWidth / 2);
  const x = (i: number) => left + (i + 0.5) * step;
  const y = (p: number) => priceTop + ((hi - p) / (hi - lo)) * (priceBottom - priceTop);
  const vy = (v: number) => volumeBottom - (maxVolume ? v / maxVolume : 0) * (volumeBottom - volumeTop);

  const canvas = createCanvas(W, H);
  const ctx = canvas.getContext("2d");
  ctx.lang = "en";
  const font = (px: number) => `${px}px ${FONT_FAMILY}`;
  ctx.fillStyle = THEME.background;
  ctx.fillRect(0, 0, W, H);

  const priceTicks = niceTicks(lo, hi, Math.max(4, Math.round((priceBottom - priceTop) / 60)));
  const timeTicks = timeLabels(bars, x);
  ctx.strokeStyle = THEME.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const p of priceTicks) {
    const yy = Math.round(y(p)) + 0.5;
    ctx.moveTo(left, yy);
    ctx.lineTo(right, yy);
  }
  for (const t of timeTicks) {
    const xx = Math.round(x(t.i)) + 0.5;
    ctx.moveTo(xx, priceTop);
    ctx.lineTo(xx, volumeBottom);
  }
  ctx.stroke();

  if (input.band) drawBand(ctx, input.band, x, y);

  // Volume, one path per colour.
  ctx.globalAlpha = 0.5;
  for (const up of [true, false]) {
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const b = bars[i]!;
      if (b.close >= b.open !== up) continue;
      const top = Math.round(vy(b.volume));
      ctx.rect(bodyLeft(i), top, bodyWidth, volumeBottom - top);
    }
    ctx.fillStyle = up ? THEME.up : THEME.down;
    ctx.fill();
  }
  ctx.globalAlpha = 1;

  // Candles: wicks, then bodies (at least a pixel tall, so a doji shows).
  for (const up of [true, false]) {
    const colour = up ? THEME.up : THEME.down;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const b = bars[i]!;
      if (b.close >= b.open !== up) continue;
      const wx = bodyLeft(i) + bodyWidth / 2;
      ctx.moveTo(wx, y(b.high));
      ctx.lineTo(wx, y(b.low));
    }
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1;
    ctx.stroke();
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const b = bars[i]!;
      if (b.close >= b.open !== up) continue;
      const top = y(Math.max(b.open, b.close));
      ctx.rect(bodyLeft(i), top, bodyWidth, Math.max(1, y(Math.min(b.open, b.close)) - top));
    }
    ctx.fillStyle = colour;
    ctx.fill();
  }

  ctx.lineWidth = 1.5;
  const legend: Array<{ label: string; colour: string }> = [];
  for (const [k, o] of (input.overlays ?? []).entries()) {
    const colour = THEME.lines[k % THEME.lines.length]!;
    if (o.down) {
      ctx.strokeStyle = THEME.supertrendUp;
      strokeSeries(ctx, o.values, x, y, (i) => !o.down![i]);
      ctx.strokeStyle = THEME.supertrendDown;
      strokeSeries(ctx, o.values, x, y, (i) => o.down![i] === true);
      legend.push({ label: o.label, colour: THEME.supertrendUp });
    } else {
      ctx.strokeStyle = colour;
      strokeSeries(ctx, o.values, x, y);
      legend.push({ label: o.label, colour });
    }
  }
  if (input.band) legend.push({ label: input.band.label, colour: THEME.bandLine });

  ctx.font = font(13);
  ctx.textAlign = "left";
  for (const [k, l] of levels.entries()) {
    const colour = THEME.levels[k % THEME.levels.length]!;
    const yy = dashedLine(ctx, y(l.price), left, right, { colour, dash: [6, 4], width: 1.5 });
    const text = `${l.label} ${price(l.price)}`;
    ctx.fillStyle = colour;
    ctx.fillRect(left + 4, yy - 19, ctx.measureText(text).width + 10, 17);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, left + 9, yy - 6);
  }

  ctx.fillStyle = THEME.text;
  for (const p of priceTicks) ctx.fillText(price(p), right + 6, y(p) + 4);
  ctx.textAlign = "center";
  for (const t of timeTicks) {
    const half = ctx.measureText(t.label).width / 2;
    ctx.fillText(t.label, Math.min(Math.max(x(t.i), left + half), right - half), H - 10);
  }
  ctx.textAlign = "left";

  // The last price, on its own line and in a box on the price axis.
  const last = bars[n - 1]!;
  const lastColour = last.close >= last.open ? THEME.up : THEME.down;
  const ly = dashedLine(ctx, y(last.close), left, right, { colour: lastColour, dash: [2, 2], width: 1 });
  ctx.fillStyle = lastColour;
  ctx.fillRect(right, ly - 10, W - right, 20);
  ctx.fillStyle = "#ffffff";
  ctx.fillText(price(last.close), right + 6, ly + 5);

  ctx.font = font(18);
  ctx.fillStyle = THEME.text;
  ctx.fillText(input.title, left, 24);
  let lx = left + ctx.measureText(input.title).width + 28;
  ctx.font = font(13);
  for (const l of legend) {
    ctx.fillStyle = l.colour;
    ctx.fillRect(lx, 14, 14, 4);
    ctx.fillStyle = THEME.text;
    ctx.fillText(l.label, lx + 18, 22);
    lx += ctx.measureText(l.label).width + 36;
  }

  return { canvas, geometry: { width: W, height: H, x, y, bodyLeft, bodyWidth, priceTop, priceBottom, volumeTop, volumeBottom, right } };
}

/** The chart as a PNG. Fast compression: a few percent larger than the default, several times quicker. */
export async function renderChartPng(input: ChartInput): Promise<Buffer> {
  return drawChart(input).canvas.encode("png", { compressionLevel: 1, filters: PngFilter.Up });
}

/** A dashed horizontal line across the plot at `atY`, on the pixel grid; returns the y it was drawn at. */
function dashedLine(ctx: SKRSContext2D, atY: number, left: number, right: number, style: { colour: string; dash: number[]; width: number }): number {
  const yy = Math.round(atY) + 0.5;
  ctx.setLineDash(style.dash);
  ctx.strokeStyle = style.colour;
  ctx.lineWidth = style.width;
  ctx.beginPath();
  ctx.moveTo(left, yy);
  ctx.lineTo(right, yy);
  ctx.stroke();
  ctx.setLineDash([]);
  return yy;
}

function strokeSeries(
  ctx: SKRSContext2D,
  values: readonly (number | undefined)[],
  x: (i: number) => number,
  y: (p: number) => number,
  include: (i: number) => boolean = () => true,
): void {
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === undefined || !Number.isFinite(v) || !include(i)) {
      pen = false;
      continue;
    }
    if (pen) ctx.lineTo(x(i), y(v));
    else ctx.moveTo(x(i), y(v));
    pen = true;
  }
  ctx.stroke();
}

function drawBand(ctx: SKRSContext2D, band: NonNullable<ChartInput["band"]>, x: (i: number) => number, y: (p: number) => number): void {
  ctx.beginPath();
  let started = false;
  for (let i = 0; i < band.upper.length; i++) {
    const u = band.upper[i];
    if (u === undefined) continue;
    if (started) ctx.lineTo(x(i), y(u));
    else ctx.moveTo(x(i), y(u));
    started = true;
  }
  for (let i = band.lower.length - 1; i >= 0; i--) {
    const l = band.lower[i];
    if (l !== undefined) ctx.lineTo(x(i), y(l));
  }
  if (started) {
    ctx.closePath();
    ctx.fillStyle = THEME.band;
    ctx.fill();
  }
  ctx.strokeStyle = THEME.bandLine;
  ctx.lineWidth = 1;
  strokeSeries(ctx, band.upper, x, y);
  strokeSeries(ctx, band.lower, x, y);
}

/** Round price steps (1, 2, 2.5, 5 × 10^k) giving about `count` grid lines. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let p = Math.ceil(lo / step) * step; p <= hi; p += step) out.push(p);
  return out;
}

/**
 * A label at each new IST day ("7 Jan"), then on the hour (":15" marks, as NSE bars start at
 * 09:15) where there is room: every label at least 60 px from the next, days first.
 */
function timeLabels(bars: readonly MarketCandle[], x: (i: number) => number): Array<{ i: number; label: string }> {
  const days: number[] = [];
  const hours: number[] = [];
  for (let i = 0; i < bars.length; i++) {
    const d = ist(bars[i]!.ts);
    const prev = i ? ist(bars[i - 1]!.ts) : undefined;
    if (!prev || prev.getUTCDate() !== d.getUTCDate()) days.push(i);
    else if (d.getUTCMinutes() === 15) hours.push(i);
  }
  const chosen: number[] = [];
  const fits = (i: number) => chosen.every((j) => Math.abs(x(i) - x(j)) >= 60);
  for (const i of days) if (fits(i)) chosen.push(i);
  for (const i of hours) if (fits(i)) chosen.push(i);
  return chosen
    .sort((a, b) => a - b)
    .map((i) => {
      const d = ist(bars[i]!.ts);
      const prev = i ? ist(bars[i - 1]!.ts) : undefined;
      const newDay = !prev || prev.getUTCDate() !== d.getUTCDate();
      return { i, label: newDay ? `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}` : `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}` };
    });
}
