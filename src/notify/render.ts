import { TEMPLATES, type MessageTemplate, type TemplateKind } from "../../templates/index.js";
import { escapeHtml, httpUrl } from "../format/html.js";
import { formatPrice, formatRupees, signedRupees } from "../format/money.js";
import { formatQuantity, signedPct } from "../format/numbers.js";
import { indicatorFiredWording, priceFiredHeadline } from "../format/rules.js";
import { TELEGRAM_LIMIT } from "../format/telegram.js";
import { formatDate, formatIstClock, formatIstMinute, formatIstTime } from "../format/time.js";
import { ruleOutcome, type RuleOutcome } from "../orders/gtt-transitions.js";

export interface RenderedMessage {
  telegramHtml: string;
  email: { subject: string; text: string; html: string };
}

/** Upstox product codes in words; anything else is shown as Upstox sent it. */
const PRODUCTS: Record<string, string> = { I: "intraday", D: "delivery", MTF: "MTF" };
const product = (code: unknown) => PRODUCTS[String(code)] ?? String(code ?? "");

/** An epoch-ms payload field as IST wall-clock time, without letting a bad value throw a RangeError. */
const istTime = (v: unknown) => (Number.isFinite(Number(v)) && v !== null ? formatIstTime(Number(v)) : "(time unknown)");

const BAR_NAMES: Record<string, string> = { "1m": "1-minute", "5m": "5-minute", "15m": "15-minute", "30m": "30-minute", "1h": "1-hour", "1d": "daily" };
const formatIstDate = (ms: number) => (Number.isFinite(ms) ? formatDate(new Date(ms + 19_800_000).toISOString().slice(0, 10)) : "(date unknown)");

/** Most digest rows Telegram shows (holdings; positions get half); fewer if the message would not fit. */
const DIGEST_TELEGRAM_ROWS = [30, 20, 12, 6, 0];

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
    case "gtt_triggered":
    case "gtt_failed":
    case "gtt_cancelled":
    case "gtt_expired":
      return gttView(p);
    case "portfolio_digest":
      return digestView(p, telegramRows);
    case "holding_move": {
      const changePct = Number(p.changePct);
      const down = changePct < 0;
      return {
        emoji: down ? "📉" : "📈",
        symbol: String(p.symbol),
        quantity: formatQuantity(Number(p.quantity)),
        direction: down ? "down" : "up",
        changePct: Math.abs(changePct).toFixed(1),
        lastPrice: formatPrice(Number(p.lastPrice)),
        closePrice: formatPrice(Number(p.closePrice)),
        dayChange: signedRupees(Number(p.dayChange)),
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
    case "price_alert":
      return {
        symbol: String(p.symbol),
        headline: (priceFiredHeadline(String(p.ruleKind), p) ?? "alert") + watchlistNote(p),
        price: formatPrice(Number(p.price)),
        changePct: signedPct(Number(p.dayChangePct ?? 0)),
        time: formatIstTime(Number(p.firedAt)),
        pausedNote: pausedNote(p),
      };
    case "indicator_alert": {
      const params = (p.params ?? {}) as Record<string, unknown>;
      const values = (p.values ?? {}) as Record<string, number>;
      // An AND alert says every part with its value at the bar, in the order it was written.
      const lines = Array.isArray(p.lines) ? p.lines.map(String) : undefined;
      const { headline, valuesLine } =
        p.ruleKind === "all_of"
          ? {
              headline: `all ${lines?.length ?? 0} conditions hold${typeof params.timeframe === "string" && params.timeframe !== "1m" ? ` on ${params.timeframe} candles` : ""}`,
              valuesLine: lines?.join(" · "),
            }
          : indicatorFiredWording(String(p.ruleKind), params, values);
      return {
        symbol: String(p.symbol),
        headline: (headline ?? "indicator alert") + watchlistNote(p),
        valuesLine: valuesLine ?? "",
        price: formatPrice(Number(p.price)),
        barName: BAR_NAMES[String(params.timeframe ?? "1m")] ?? "1-minute",
        // A day's candle is named by its date, a shorter one by its start.
        candleTime: params.timeframe === "1d" ? formatIstDate(Number(p.candleTs ?? p.firedAt)) : formatIstClock(Number(p.candleTs ?? p.firedAt)),
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
  const line = v
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[.\s]+$/, "");
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/** Added when this firing tripped the runaway guard, so the user knows why it went quiet. */
function pausedNote(p: Record<string, unknown>): string {
  if (!p.autoPaused) return "";
  // On a watchlist rule the guard is per symbol: the other symbols go on.
  if (typeof p.watchlist === "string")
    return ` — This alert fired more than 15 times in 3 minutes for ${String(p.symbol)}, so ${String(p.symbol)} is paused on it; the rest of the list goes on. Use /alerts to resume it.`;
  return " — This alert fired more than 15 times in 3 minutes, so it is now paused. Use /alerts to resume it.";
}

/** A symbol's firing of a rule over a watchlist names the list. */
function watchlistNote(p: Record<string, unknown>): string {
  return typeof p.watchlist === "string" ? ` · watchlist ${p.watchlist}` : "";
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
    quantity: formatQuantity(quantity),
    filled: formatQuantity(filled),
    pending: formatQuantity(Math.max(0, quantity - filledQuantity)),
    partFilled: filledQuantity > 0 ? formatQuantity(filledQuantity) : "",
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

/** GTT legs in the trader's words, listed entry, target, stop-loss. */
const LEG_NAMES: Record<string, string> = { ENTRY: "entry", TARGET: "target", STOPLOSS: "stop-loss" };
const LEG_ORDER = ["ENTRY", "TARGET", "STOPLOSS"];
const legName = (strategy: unknown) => LEG_NAMES[String(strategy)] ?? String(strategy ?? "").toLowerCase();
const legRank = (r: Record<string, unknown>) => (LEG_ORDER.indexOf(String(r.strategy)) + LEG_ORDER.length + 1) % (LEG_ORDER.length + 1);
const LEG_STATES: Record<RuleOutcome, string> = {
  waiting: "still waiting",
  triggered: "triggered",
  failed: "failed",
  cancelled: "cancelled",
  expired: "expired",
};
const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "above ₹1,500.00", "below ₹1,450.00", "at ₹1,600.00" (IMMEDIATE), with a trailing stop-loss's gap. */
function triggerWords(rule: Record<string, unknown>): string {
  const type = String(rule.triggerType ?? "").toUpperCase();
  const price = formatRupees(Number(rule.triggerPrice));
  const words = type === "ABOVE" ? `above ${price}` : type === "BELOW" ? `below ${price}` : `at ${price}`;
  const gap = Number(rule.trailingGap);
  return rule.trailingGap !== null && gap > 0 ? `${words} (trailing ${formatRupees(gap)})` : words;
}

/** "target at ₹1,600.00 and stop-loss at ₹1,450.00". */
function legsSentence(rules: readonly Record<string, unknown>[]): string {
  const parts = rules.map((r) => `${legName(r.strategy)} ${triggerWords(r)}`);
  return parts.length <= 1 ? (parts[0] ?? "") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)!}`;
}

/** "target at ₹1,600.00 still waiting; stop-loss at ₹1,450.00 cancelled". */
const legStates = (rules: readonly Record<string, unknown>[]) =>
  rules.map((r) => `${legName(r.strategy)} ${triggerWords(r)} ${LEG_STATES[ruleOutcome(String(r.status ?? ""))]}`).join("; ");

/** Every GTT kind gets the same values (templates/gtt.ts lists them). */
function gttView(p: Record<string, unknown>): View {
  // Stable: legs named otherwise than ENTRY/TARGET/STOPLOSS keep their order, after those.
  const rules = list(p.rules).sort((a, b) => legRank(a) - legRank(b));
  const strategy = p.strategy === null || p.strategy === undefined ? null : String(p.strategy);
  const leg = strategy === null ? undefined : rules.find((r) => r.strategy === strategy);
  const others = rules.filter((r) => r !== leg);
  const outcomes = rules.map((r) => ruleOutcome(String(r.status ?? "")));
  const expired = rules.filter((_, i) => outcomes[i] === "expired");
  const waiting = rules.filter((_, i) => outcomes[i] === "waiting");
  const expiredLegs = expired.length ? expired : waiting.length ? waiting : rules;
  const entry = rules.find((r) => r.strategy === "ENTRY");
  const message = typeof leg?.message === "string" ? leg.message.trim() : "";
  const expiresAt = Number(p.expiresAt);
  const single = rules.length <= 1 && (strategy === null || strategy === "ENTRY");
  return {
    gttOrderId: String(p.gttOrderId ?? ""),
    symbol: String(p.symbol),
    side: String(p.transactionType ?? ""),
    quantity: formatQuantity(Number(p.quantity)),
    product: product(p.product),
    legLabel: single || strategy === null ? "" : `${legName(strategy)} leg`,
    legSide: String(leg?.transactionType ?? p.transactionType ?? ""),
    legTrigger: leg ? triggerWords(leg) : "",
    childOrderId: typeof leg?.orderId === "string" ? leg.orderId : "",
    reason: message ? `Upstox: ${message}` : "no reason given by Upstox",
    otherLegs: others.length ? `${others.length > 1 ? "Other legs" : "Other leg"}: ${legStates(others)}.` : "",
    legs: capitalized(legsSentence(rules)),
    expiredLegs: capitalized(legsSentence(expiredLegs)),
    expiry: p.expiresAt !== null && Number.isFinite(expiresAt) && expiresAt > 0 ? formatIstMinute(expiresAt) : "",
    afterEntry:
      entry && ruleOutcome(String(entry.status ?? "")) === "triggered"
        ? "The entry had triggered, so the position it opened is no longer covered by this GTT."
        : "",
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
        quantity: formatQuantity(Number(h.quantity)),
        averagePrice: formatPrice(Number(h.averagePrice)),
        lastPrice: formatPrice(last),
        pnl: signedRupees(Number(h.pnl)),
        dayChange: signedRupees(Number(h.dayChange)),
        dayChangePct: close > 0 && Number.isFinite(last) ? signedPct(((last - close) / close) * 100) : "",
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
        side: q > 0 ? `long ${formatQuantity(q)}` : q < 0 ? `short ${formatQuantity(-q)}` : "closed",
        pnl: signedRupees(Number(x.pnl)),
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
    dayPnl: signedRupees(Number(p.dayPnl)),
    totalValue: formatPrice(Number(p.totalValue)),
    totalPnl: signedRupees(Number(p.totalPnl)),
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
