import { priceAlert } from "./price-alert.js";

export interface MessageTemplate {
  /** Telegram HTML (parse_mode HTML). */
  telegram: string;
  subject: string;
  text: string;
  html: string;
}

export const TEMPLATES = {
  price_alert: priceAlert,
} as const satisfies Record<string, MessageTemplate>;

export type TemplateKind = keyof typeof TEMPLATES;
