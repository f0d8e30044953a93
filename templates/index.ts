import { broadcast } from "./broadcast.js";
import { indicatorAlert } from "./indicator-alert.js";
import { priceAlert } from "./price-alert.js";
import { tokenExpired } from "./token-expired.js";

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
} as const satisfies Record<string, MessageTemplate>;

export type TemplateKind = keyof typeof TEMPLATES;
