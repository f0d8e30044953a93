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
      };
    }
  }
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
