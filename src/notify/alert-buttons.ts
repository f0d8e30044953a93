import type { InlineKeyboardButton, InlineKeyboardMarkup } from "grammy/types";
import type { Notification } from "./outbox.js";

/** The alert buttons' actions, as their callback data names them: `al:<action>:<signalId>`. */
export type AlertAction = "buy" | "sell" | "gtt" | "snz" | "del";

/** Telegram refuses an inline keyboard of more buttons than this. */
export const MAX_BUTTONS = 100;
const TRADE_BUTTONS = 3;
const MANAGE_BUTTONS = 2;
/** Long enough for any NSE symbol; an index's longer name is cut so a tagged label still fits its button. */
const SYMBOL_CHARS = 12;

const ALERT_KINDS: ReadonlySet<string> = new Set(["price_alert", "indicator_alert"]);

export const alertCallbackData = (action: AlertAction, signalId: number): string => `al:${action}:${signalId}`;

type Row = Pick<Notification, "kind" | "payload">;

/** The row's signal when it is an alert that has one (rows written without a signal get no buttons). */
function signalOf(row: Row): number | undefined {
  if (!ALERT_KINDS.has(row.kind)) return undefined;
  const id = row.payload.signalId;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** "SBIN #12": which alert a button acts on, when the message holds more than that alert. */
function tagOf(payload: Record<string, unknown>): string {
  const symbol = typeof payload.symbol === "string" ? payload.symbol : "";
  const short = symbol.length > SYMBOL_CHARS ? `${symbol.slice(0, SYMBOL_CHARS - 1)}…` : symbol;
  const ruleId = payload.ruleId;
  const rule = typeof ruleId === "number" || typeof ruleId === "string" ? `#${ruleId}` : "";
  return [short, rule].filter(Boolean).join(" ");
}

const button = (text: string, action: AlertAction, signalId: number): InlineKeyboardButton.CallbackButton => ({
  text,
  callback_data: alertCallbackData(action, signalId),
});

/**
 * The inline keyboard for one Telegram message made of these outbox rows (in the message's
 * order), or undefined when none of them is an alert: order updates and digests add nothing.
 *
 * Each alert gets a row Buy / Sell / Set GTT (only when trading is offered) and a row
 * Snooze 1 h / Delete. A message that is one alert alone gets the short labels; in any other
 * message every button also names its alert's symbol and rule number, as the buttons of
 * several alerts (or of one beside an order update) would otherwise look alike.
 *
 * Telegram allows 100 buttons. A message holds at most 20 rows (jobs/notify.ts), so 20 alerts
 * with 5 buttons each just fit; should that limit grow, the trade buttons of the oldest alerts
 * go first (the newest prices are the ones worth acting on, and Snooze and Delete of an alert
 * shown are kept). The message is never split for its buttons: that would change which rows
 * go together and when. Only past 50 alerts would Snooze and Delete of the oldest go too.
 */
export function alertButtons(rows: readonly Row[], opts: { trading: boolean }): InlineKeyboardMarkup | undefined {
  // Counted first without allocating: most messages carry no alert and must stay cheap.
  let alerts = 0;
  for (const row of rows) if (signalOf(row) !== undefined) alerts++;
  if (!alerts) return undefined;

  const tagged = rows.length > 1;
  // The oldest alerts that lose their trade buttons (or all their buttons) to stay within the limit.
  const manageOnly = Math.max(0, Math.min(alerts, alerts - Math.floor((MAX_BUTTONS - MANAGE_BUTTONS * alerts) / TRADE_BUTTONS)));
  const noButtons = Math.max(0, alerts - Math.floor(MAX_BUTTONS / MANAGE_BUTTONS));
  const keyboard: InlineKeyboardButton[][] = [];
  let seen = 0;
  for (const row of rows) {
    const signalId = signalOf(row);
    if (signalId === undefined) continue;
    const index = seen++;
    if (index < noButtons) continue;
    const tag = tagged ? tagOf(row.payload) : "";
    // A tagged label is shorter where it can be: three of them share a phone's width.
    const text = (plain: string, short = plain) => (tag ? `${short} ${tag}` : plain);
    if (opts.trading && index >= manageOnly) {
      keyboard.push([button(text("Buy"), "buy", signalId), button(text("Sell"), "sell", signalId), button(text("Set GTT", "GTT"), "gtt", signalId)]);
    }
    keyboard.push([button(text("😴 1 h"), "snz", signalId), button(text("🗑 Delete"), "del", signalId)]);
  }
  return { inline_keyboard: keyboard };
}
