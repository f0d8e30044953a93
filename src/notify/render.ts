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

/** "₹1,450.00"; a loss is "−₹452.00" (a real minus sign); `plus` adds "+" to gains. Rounds-to-zero is "₹0.00". */
export function formatRupees(n: number, plus = false): string {
  const shown = formatPrice(Math.abs(n));
  const sign = shown === "0.00" ? "" : n < 0 ? "−" : plus ? "+" : "";
  return `${sign}₹${shown}`;
}

const counts = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 2 });
/** Share counts: "10", "1,500", "1,00,000". */
const qty = (n: number) => counts.format(n);

/** Upstox product codes in words; anything else is shown as Upstox sent it. */
const PRODUCTS: Record<string, string> = { I: "intraday", D: "delivery", MTF: "MTF" };
const product = (code: unknown) => PRODUCTS[String(code)] ?? String(code ?? "");

/** An epoch-ms payload field as IST wall-clock time, without letting a bad value throw a RangeError. */
const istTime = (v: unknown) => (Number.isFinite(Number(v)) && v !== null ? formatIstTime(Number(v)) : "(time unknown)");

/** Links we put in href: only http(s), so a bad value cannot become a javascript: link. "" for none. */
const httpUrl = (v: unknown) => (typeof v === "string" && /^https?:\/\/\S+$/i.test(v) ? v : "");

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** "2025-01-06" → "Mon, 6 Jan 2025"; anything else is shown as given. */
function formatDate(d: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  if (!m) return d;
  const t = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (t.toISOString().slice(0, 10) !== d) return d;
  return `${WEEKDAYS[t.getUTCDay()]}, ${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()}`;
}

/** Most digest rows Telegram shows (holdings; positions get half); fewer if the message would not fit. */
const DIGEST_TELEGRAM_ROWS = [30, 20, 12, 6, 0];
const TELEGRAM_LIMIT = 4096;

/** A view value: a string, or a list of items for a `{{#name}}…{{/name}}` section to repeat. */
type ViewValue = string | readonly Record<string, string>[];
type View = Record<string, ViewValue>;

const SECTION = /\{\{([#^])(\w+)\}\}([\s\S]*?)\{\{\/\2\}\}/g;
const STRAY_SECTION_TAG = /\{\{[#^/]\w+\}\}/;

function lookup(scope: View, name: string): ViewValue {
  const v = scope[name];
  if (v === undefined) throw new Error(`template needs {{${name}}}, which the view does not provide`);
  return v;
}

/**
 * Fills a template (syntax in templates/index.ts). Only template text is ever scanned for
 * placeholders: a value that contains "{{…}}" is inserted as is, never expanded.
 */
function fill(template: string, scope: View, escape: boolean): string {
  let out = "";
  let last = 0;
  for (const m of template.matchAll(SECTION)) {
    out += substitute(template.slice(last, m.index), scope, escape);
    const [, op, name, body] = m as unknown as [string, "#" | "^", string, string];
    const v = lookup(scope, name);
    const empty = v.length === 0;
    if (op === "^") {
      if (empty) out += fill(body, scope, escape);
    } else if (typeof v !== "string") {
      for (const item of v) out += fill(body, { ...scope, ...item }, escape);
    } else if (!empty) out += fill(body, scope, escape);
    last = m.index + m[0].length;
  }
  return out + substitute(template.slice(last), scope, escape);
}

function substitute(text: string, scope: View, escape: boolean): string {
  const stray = STRAY_SECTION_TAG.exec(text);
  if (stray) throw new Error(`template has an unmatched section tag ${stray[0]}`);
  return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const v = lookup(scope, name);
    if (typeof v !== "string") throw new Error(`{{${name}}} is a list: use it as a {{#${name}}}…{{/${name}}} section`);
    return escape ? escapeHtml(v) : v;
  });
}

/** Turns a notification payload into the strings a template needs. */
function view(kind: TemplateKind, p: Record<string, unknown>, telegramRows = DIGEST_TELEGRAM_ROWS[0]!): View {
  switch (kind) {
    case "order_placed":
    case "order_partially_filled":
    case "order_filled":
    case "order_rejected":
    case "order_cancelled":
      return orderView(p);
    case "portfolio_digest":
      return digestView(p, telegramRows);
    case "holding_move": {
      const changePct = Number(p.changePct);
      const down = changePct < 0;
      return {
        emoji: down ? "📉" : "📈",
        symbol: String(p.symbol),
        quantity: qty(Number(p.quantity)),
        direction: down ? "down" : "up",
        changePct: Math.abs(changePct).toFixed(1),
        lastPrice: formatPrice(Number(p.lastPrice)),
        closePrice: formatPrice(Number(p.closePrice)),
        dayChange: formatRupees(Number(p.dayChange), true),
        thresholdPct: String(Number(Math.abs(Number(p.thresholdPct)).toFixed(2))),
      };
    }
    case "token_expiring":
      return { loginUrl: httpUrl(p.loginUrl), expiredAt: istTime(p.expiresAt).slice(0, 16) };
    case "rule_paused":
      return { ruleId: String(p.ruleId), symbol: String(p.symbol), description: String(p.description ?? "") };
    case "token_expired":
      return { reason: p.expired === true ? "" : refusalReason(p.reason) };
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

/**
 * Upstox's own words for refusing a token, as one short line without a closing full stop
 * (the template adds its own); "" when there are none.
 */
function refusalReason(v: unknown): string {
  if (typeof v !== "string") return "";
  const line = v.replace(/\s+/g, " ").trim().replace(/[.\s]+$/, "");
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/** Added when this firing tripped the runaway guard, so the user knows why it went quiet. */
function pausedNote(p: Record<string, unknown>): string {
  return p.autoPaused ? " — This alert fired more than 15 times in 3 minutes, so it is now paused. Use /alerts to resume it." : "";
}

/** Every order kind gets the same values; each template uses the ones its wording needs. */
function orderView(p: Record<string, unknown>): View {
  const side = String(p.transactionType ?? "");
  const quantity = Number(p.quantity);
  const filledQuantity = Number(p.filledQuantity ?? 0) || 0;
  const orderType = String(p.orderType ?? "");
  const price = Number(p.price);
  const atMarket = orderType === "MARKET" || orderType === "SL-M" || !(price > 0);
  const avg = typeof p.averagePrice === "number" && p.averagePrice > 0 ? p.averagePrice : null;
  // A fill reports what traded; before any fill, the whole order.
  const filled = filledQuantity > 0 ? filledQuantity : quantity;
  const statusMessage = typeof p.statusMessage === "string" ? p.statusMessage.trim() : "";
  return {
    orderId: String(p.orderId ?? ""),
    symbol: String(p.symbol),
    side,
    quantity: qty(quantity),
    filled: qty(filled),
    pending: qty(Math.max(0, quantity - filledQuantity)),
    partFilled: filledQuantity > 0 ? qty(filledQuantity) : "",
    orderType,
    product: product(p.product),
    priceText: atMarket ? "at market" : `@ ${formatRupees(price)}`,
    avgPrice: avg === null ? "" : formatRupees(avg),
    value: avg === null ? "" : formatRupees(avg * filled),
    verb: side === "SELL" ? "sold" : side === "BUY" ? "bought" : "traded",
    statusMessage,
    reason: statusMessage || "no reason given by Upstox",
    time: istTime(p.at),
  };
}

const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null) : []);

/**
 * Morning or evening digest. Holdings are shown biggest (by current value) first and
 * positions biggest P&L first, so a Telegram list cut at `telegramRows` keeps what matters.
 */
function digestView(p: Record<string, unknown>, telegramRows: number): View {
  const open = p.when === "open";
  const holdings = list(p.holdings)
    .map((h) => ({ h, value: Number(h.quantity) * Number(h.lastPrice) || 0 }))
    .sort((a, b) => b.value - a.value)
    .map(({ h }) => {
      const last = Number(h.lastPrice);
      const close = Number(h.closePrice);
      return {
        symbol: String(h.symbol),
        quantity: qty(Number(h.quantity)),
        averagePrice: formatPrice(Number(h.averagePrice)),
        lastPrice: formatPrice(last),
        pnl: formatRupees(Number(h.pnl), true),
        dayChange: formatRupees(Number(h.dayChange), true),
        dayChangePct: close > 0 && Number.isFinite(last) ? signed(((last - close) / close) * 100) : "",
      };
    });
  const positions = list(p.positions)
    .map((x) => ({ x, pnl: Math.abs(Number(x.pnl)) || 0 }))
    .sort((a, b) => b.pnl - a.pnl)
    .map(({ x }) => {
      const q = Number(x.quantity);
      return {
        symbol: String(x.symbol),
        product: product(x.product),
        side: q > 0 ? `long ${qty(q)}` : q < 0 ? `short ${qty(-q)}` : "closed",
        pnl: formatRupees(Number(x.pnl), true),
      };
    });
  const positionRows = Math.ceil(telegramRows / 2);
  const more = (all: readonly unknown[], shown: number) => (all.length > shown ? String(all.length - shown) : "");
  return {
    emoji: open ? "🌅" : "🌆",
    title: open ? "before open" : "after close",
    date: formatDate(String(p.date ?? "")),
    dayPnlLabel: open ? "Last session's P&L" : "Day P&L",
    dayLabel: open ? "last session" : "today",
    dayLabelCap: open ? "Last session" : "Today",
    dayPnl: formatRupees(Number(p.dayPnl), true),
    totalValue: formatPrice(Number(p.totalValue)),
    totalPnl: formatRupees(Number(p.totalPnl), true),
    holdingsCount: holdings.length ? String(holdings.length) : "",
    holdings,
    tgHoldings: holdings.slice(0, telegramRows),
    tgHoldingsMore: more(holdings, telegramRows),
    positionsCount: positions.length ? String(positions.length) : "",
    positions,
    tgPositions: positions.slice(0, positionRows),
    tgPositionsMore: more(positions, positionRows),
  };
}

export interface RenderExtras {
  /** The recipient's one-click unsubscribe link; without it, emails carry no unsubscribe footer. */
  unsubscribeUrl?: string | undefined;
}

/** Pure: the same kind, payload and extras always render the same message. */
export function renderNotification(kind: string, payload: Record<string, unknown>, extras: RenderExtras = {}): RenderedMessage {
  // Own keys only: `"toString" in TEMPLATES` is true, and would crash instead of saying why.
  if (!Object.hasOwn(TEMPLATES, kind)) throw new Error(`no template for notification kind "${kind}"`);
  const k = kind as TemplateKind;
  const t: MessageTemplate = TEMPLATES[k];
  const footer = { unsubscribeUrl: httpUrl(extras.unsubscribeUrl) };
  let values: View = { ...view(k, payload), ...footer };
  let telegramHtml = fill(t.telegram, values, true);
  // Only the digest has lists to shorten; the email variants list everything either way.
  if (k === "portfolio_digest") {
    for (const rows of DIGEST_TELEGRAM_ROWS.slice(1)) {
      if (telegramHtml.length <= TELEGRAM_LIMIT) break;
      values = { ...view(k, payload, rows), ...footer };
      telegramHtml = fill(t.telegram, values, true);
    }
  }
  return {
    telegramHtml,
    email: { subject: fill(t.subject, values, false), text: fill(t.text, values, false), html: fill(t.html, values, true) },
  };
}
