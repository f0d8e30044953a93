import { broadcast } from "./broadcast.js";
import { gttCancelled, gttExpired, gttFailed, gttTriggered } from "./gtt.js";
import { holdingMove } from "./holding-move.js";
import { indicatorAlert } from "./indicator-alert.js";
import { orderCancelled, orderFilled, orderPartiallyFilled, orderPlaced, orderRejected } from "./orders.js";
import { portfolioDigest } from "./portfolio-digest.js";
import { priceAlert } from "./price-alert.js";
import { rulePaused } from "./rule-paused.js";
import { tokenExpired } from "./token-expired.js";
import { tokenExpiring } from "./token-expiring.js";

/**
 * One message in every variant. Syntax (filled by src/notify/render.ts):
 * - `{{name}}`: a value, HTML-escaped in `telegram` and `html`, as is in `subject` and `text`.
 * - `{{#name}}…{{/name}}`: kept when the value is non-empty; repeated once per item when it
 *   is a list (the item's fields are then in scope).
 * - `{{^name}}…{{/name}}`: kept only when the value is empty (or an empty list).
 * Every email variant ends with the `{{#unsubscribeUrl}}` footer; render leaves it out when
 * it has no link for the recipient. The `telegram` variant may use only the tags Telegram
 * accepts (b, i, u, s, a, code, pre) and must write `&amp;` for a literal ampersand.
 */
export interface MessageTemplate {
  /** Telegram HTML (parse_mode HTML). */
  telegram: string;
  subject: string;
  text: string;
  html: string;
}

export const TEMPLATES = {
  price_alert: priceAlert,
  indicator_alert: indicatorAlert,
  token_expired: tokenExpired,
  broadcast,
  order_placed: orderPlaced,
  order_partially_filled: orderPartiallyFilled,
  order_filled: orderFilled,
  order_rejected: orderRejected,
  order_cancelled: orderCancelled,
  gtt_triggered: gttTriggered,
  gtt_failed: gttFailed,
  gtt_cancelled: gttCancelled,
  gtt_expired: gttExpired,
  portfolio_digest: portfolioDigest,
  holding_move: holdingMove,
  token_expiring: tokenExpiring,
  rule_paused: rulePaused,
} as const satisfies Record<string, MessageTemplate>;

export type TemplateKind = keyof typeof TEMPLATES;
