/** HTML safety for Telegram's parse_mode HTML, the email HTML part and the bot's web pages. */

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Links we put in href: only http(s), so a bad value cannot become a javascript: link. "" for none. */
export function httpUrl(v: unknown): string {
  return typeof v === "string" && /^https?:\/\/\S+$/i.test(v) ? v : "";
}
