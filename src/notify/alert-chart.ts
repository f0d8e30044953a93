import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { CandleRepository } from "../db/repositories/candles.js";
import type { User } from "../db/repositories/users.js";
import { chartInput } from "../charts/chart-spec.js";
import { aggregate, BAR_MINUTES, isTimeframe, type Timeframe } from "../market/timeframes.js";
import { isCandleRule } from "../signals/rules.js";
import type { Notification } from "./outbox.js";

/**
 * The chart an alert carries when its owner turned alert charts on (/settings charts on): the
 * candles around the firing on the rule's own timeframe, the lines the rule reads, and the
 * trader's alert levels on that instrument. Used by both channels (a Telegram photo, an inline
 * email image). Never throws: a chart that cannot be made says why, and the alert goes without.
 */

/** How many bars an alert's chart draws. */
export const ALERT_CHART_BARS = 120;
/** Bars read before the first one drawn, so the overlays have settled where the chart starts. */
const WARM_UP_BARS = 100;
/** The most one-minute candles one chart reads (a daily chart reads fewer days than it would like). */
const MAX_MINUTES = 60_000;
/** A price alert watches ticks, not bars: a quarter-hour chart shows the move that crossed its level. */
const PRICE_ALERT_TIMEFRAME: Timeframe = "15m";

const ALERT_KINDS: ReadonlySet<string> = new Set(["price_alert", "indicator_alert"]);

export interface AlertChartDeps {
  candles: Pick<CandleRepository, "recent">;
  calendar: { session(at: Date): { start: number; end: number } | undefined };
  rules: Pick<AlertRuleRepository, "owned" | "forUser">;
  clock: () => number;
}

export type AlertChart = { ok: true; png: Buffer; filename: string; timeframe: Timeframe; bars: number } | { ok: false; reason: string };

type Row = Pick<Notification, "kind" | "payload" | "userId">;

/** Whether this row should carry a chart: a price or indicator alert of a user who turned charts on. */
export const wantsAlertChart = (user: Pick<User, "prefs">, row: Pick<Notification, "kind">): boolean =>
  user.prefs.alertCharts === true && ALERT_KINDS.has(row.kind);

/** The bars an alert is drawn on: its rule's timeframe; one-minute bars for an indicator rule without one; 15m for a price alert. */
export function alertChartTimeframe(row: Pick<Notification, "kind" | "payload">): Timeframe {
  const params = row.payload.params;
  const tf = params && typeof params === "object" ? (params as Record<string, unknown>).timeframe : undefined;
  if (typeof tf === "string" && isTimeframe(tf)) return tf;
  return row.kind === "indicator_alert" ? "1m" : PRICE_ALERT_TIMEFRAME;
}

/** The alert's chart as a PNG, or the reason there is none. */
export async function makeAlertChart(deps: AlertChartDeps, row: Row): Promise<AlertChart> {
  const p = row.payload;
  if (!ALERT_KINDS.has(row.kind)) return { ok: false, reason: `a ${row.kind} carries no chart` };
  if (typeof p.instrumentKey !== "string" || typeof p.symbol !== "string") return { ok: false, reason: "the alert names no instrument" };
  const key = p.instrumentKey;
  const symbol = p.symbol;
  const timeframe = alertChartTimeframe(row);
  // The chart ends at the firing: a retry later in the day still shows what the alert saw. The
  // store reads newest first, so the minutes since the firing are read too, and dropped.
  const firedAt = Number(p.firedAt);
  const until = Number.isFinite(firedAt) && firedAt > 0 ? firedAt : Number.POSITIVE_INFINITY;
  const since = Number.isFinite(until) ? Math.max(0, Math.ceil((deps.clock() - until) / 60_000)) : 0;
  try {
    const wanted = (ALERT_CHART_BARS + WARM_UP_BARS) * BAR_MINUTES[timeframe];
    const minutes = deps.candles.recent(key, "1m", Math.min(MAX_MINUTES, wanted + since)).filter((c) => c.ts <= until);
    const bars = timeframe === "1m" ? minutes : aggregate(minutes, timeframe, (t) => deps.calendar.session(new Date(t)));
    if (!bars.length) return { ok: false, reason: `no ${timeframe} candles of ${symbol} yet` };
    const input = chartInput({ symbol, timeframe, bars, count: ALERT_CHART_BARS, asked: [], rules: rulesDrawn(deps, row, key) });
    // The renderer (Skia, a native library of some 35 MB) loads with the first chart, not at start-up.
    const { renderChartPng } = await import("../charts/render-chart.js");
    const png = await renderChartPng(input);
    return { ok: true, png, filename: `${symbol}-${timeframe}.png`, timeframe, bars: input.bars.length };
  } catch (err) {
    return { ok: false, reason: `the chart could not be drawn: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * The fired rule (its overlays and, for a price rule, its level, even once it has triggered)
 * and the levels of the owner's other live price rules on the instrument. Other candle rules
 * are left out: their lines would crowd the one that fired.
 */
function rulesDrawn(deps: AlertChartDeps, row: Row, key: string) {
  if (row.userId === null) return [];
  const ruleId = Number(row.payload.ruleId);
  const fired = Number.isSafeInteger(ruleId) ? deps.rules.owned(ruleId, row.userId) : undefined;
  const levels = deps.rules.forUser(row.userId).filter((r) => r.instrumentKey === key && r.id !== fired?.id && !isCandleRule(r.kind));
  return fired ? [fired, ...levels] : levels;
}

/** The Content-ID an alert email's chart goes by: one per outbox row, so a forwarded thread keeps them apart. */
export const alertChartCid = (notificationId: number) => `alert-chart-${notificationId}@upstox-alert-bot`;

/**
 * The alert email's HTML with its chart shown inline, above the footer (the grey "why you get
 * this" paragraph) when the template has one, else at the end of the message.
 */
export function htmlWithChart(html: string, cid: string, alt: string): string {
  const img = `<p><img src="cid:${cid}" alt="${alt.replace(/[&<>"]/g, "")}" width="640" style="max-width:100%;height:auto;border:1px solid #eee"></p>`;
  const footer = html.lastIndexOf('<p style="color:#666');
  if (footer >= 0) return html.slice(0, footer) + img + html.slice(footer);
  const closing = html.endsWith("</div>") ? html.length - "</div>".length : html.length;
  return html.slice(0, closing) + img + html.slice(closing);
}
