import { TEMPLATES, type MessageTemplate, type TemplateKind } from "../../templates/index.js";
import { istParts } from "../market/calendar.js";

export interface RenderedMessage {
  telegramHtml: string;
  email: { subject: string; text: string; html: string };
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const rupees = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatPrice(n: number): string {
  return rupees.format(n);
}

export function formatIstTime(epochMs: number): string {
  const { date, minute } = istParts(new Date(epochMs));
  const ss = String(Math.floor((epochMs % 60_000) / 1000)).padStart(2, "0");
  return `${date} ${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}:${ss}`;
}

/** "+1.25%", "−3.46%" (a real minus sign), and "0.00%" for anything that rounds to zero. */
const signed = (pct: number) => {
  const shown = Math.abs(pct).toFixed(2);
  const sign = Number(shown) === 0 ? "" : pct > 0 ? "+" : pct < 0 ? "−" : "";
  return `${sign}${shown}%`;
};

function fill(template: string, values: Record<string, string>, escape: boolean): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`template needs {{${name}}}, which the view does not provide`);
    return escape ? escapeHtml(v) : v;
  });
}

/** Turns a notification payload into the strings a template needs. */
function view(kind: TemplateKind, p: Record<string, unknown>): Record<string, string> {
  switch (kind) {
    case "token_expired":
      return {};
    case "broadcast":
      return { text: String(p.text ?? "") };
    case "price_alert": {
      const price = Number(p.price);
      const level = p.level === undefined ? undefined : Number(p.level);
      const headlines: Record<string, string> = {
        price_above: `is at or above ₹${formatPrice(level ?? 0)}`,
        price_below: `is at or below ₹${formatPrice(level ?? 0)}`,
        cross_up: `crossed above ₹${formatPrice(level ?? 0)}`,
        cross_down: `crossed below ₹${formatPrice(level ?? 0)}`,
        change_pct: `moved ${signed(Number(p.changePct))} from the previous close`,
      };
      return {
        symbol: String(p.symbol),
        headline: headlines[String(p.ruleKind)] ?? "alert",
        price: formatPrice(price),
        changePct: signed(Number(p.dayChangePct ?? 0)),
        time: formatIstTime(Number(p.firedAt)),
        pausedNote: pausedNote(p),
      };
    }
    case "indicator_alert": {
      const params = (p.params ?? {}) as Record<string, unknown>;
      const values = (p.values ?? {}) as Record<string, number>;
      const n = (k: string, d: number) => (typeof params[k] === "number" ? (params[k] as number) : d);
      const ma = String(params.ma ?? "ema").toUpperCase();
      const fixed = (v: number | undefined, digits = 2) => (typeof v === "number" ? v.toFixed(digits) : "–");
      const kind = String(p.ruleKind);
      const headlines: Record<string, string> = {
        rsi_above: `RSI(${n("period", 14)}) rose above ${n("level", 70)}`,
        rsi_below: `RSI(${n("period", 14)}) fell below ${n("level", 30)}`,
        macd_cross_up: `MACD(${n("fast", 12)},${n("slow", 26)},${n("signal", 9)}) crossed above its signal line`,
        macd_cross_down: `MACD(${n("fast", 12)},${n("slow", 26)},${n("signal", 9)}) crossed below its signal line`,
        ma_cross_up: `${ma} ${n("fast", 9)} crossed above ${ma} ${n("slow", 21)}`,
        ma_cross_down: `${ma} ${n("fast", 9)} crossed below ${ma} ${n("slow", 21)}`,
        bb_break_up: `closed above the upper Bollinger band (${n("period", 20)}, ${n("stdDev", 2)})`,
        bb_break_down: `closed below the lower Bollinger band (${n("period", 20)}, ${n("stdDev", 2)})`,
        volume_spike: `volume spike: ${fixed(values.volume !== undefined && values.averageVolume ? values.volume / values.averageVolume : undefined, 1)}× the ${n("period", 20)}-candle average`,
      };
      const lines: Record<string, string> = {
        rsi_above: `RSI ${fixed(values.rsi)}`,
        rsi_below: `RSI ${fixed(values.rsi)}`,
        macd_cross_up: `MACD ${fixed(values.macd, 3)}, signal ${fixed(values.signal, 3)}`,
        macd_cross_down: `MACD ${fixed(values.macd, 3)}, signal ${fixed(values.signal, 3)}`,
        ma_cross_up: `${ma} ${n("fast", 9)}: ₹${fixed(values.fast)}, ${ma} ${n("slow", 21)}: ₹${fixed(values.slow)}`,
        ma_cross_down: `${ma} ${n("fast", 9)}: ₹${fixed(values.fast)}, ${ma} ${n("slow", 21)}: ₹${fixed(values.slow)}`,
        bb_break_up: `Upper band ₹${fixed(values.upper)}`,
        bb_break_down: `Lower band ₹${fixed(values.lower)}`,
        volume_spike: `Volume ${Math.round(values.volume ?? 0).toLocaleString("en-IN")} vs average ${Math.round(values.averageVolume ?? 0).toLocaleString("en-IN")}`,
      };
      return {
        symbol: String(p.symbol),
        headline: headlines[kind] ?? "indicator alert",
        valuesLine: lines[kind] ?? "",
        price: formatPrice(Number(p.price)),
        candleTime: formatIstTime(Number(p.candleTs ?? p.firedAt)).slice(11, 16),
        pausedNote: pausedNote(p),
      };
    }
  }
}

/** Added when this firing tripped the runaway guard, so the user knows why it went quiet. */
function pausedNote(p: Record<string, unknown>): string {
  return p.autoPaused ? " — This alert fired more than 15 times in 3 minutes, so it is now paused. Use /alerts to resume it." : "";
}

/** Pure: the same kind and payload always render the same message. */
export function renderNotification(kind: string, payload: Record<string, unknown>): RenderedMessage {
  // Own keys only: `"toString" in TEMPLATES` is true, and would crash instead of saying why.
  if (!Object.hasOwn(TEMPLATES, kind)) throw new Error(`no template for notification kind "${kind}"`);
  const k = kind as TemplateKind;
  const t: MessageTemplate = TEMPLATES[k];
  const values = view(k, payload);
  return {
    telegramHtml: fill(t.telegram, values, true),
    email: { subject: fill(t.subject, values, false), text: fill(t.text, values, false), html: fill(t.html, values, true) },
  };
}
