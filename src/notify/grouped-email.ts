import type { Notification } from "./outbox.js";
import type { RenderedMessage } from "./render.js";

/**
 * Several symbols of one watchlist rule that fired together: one email, as they are one
 * Telegram message. Pure: the rendered alerts in, one email out.
 */

type Email = RenderedMessage["email"];

/** Where each alert email's footer ("You get this because…", unsubscribe) starts: kept once, at the end. */
const HTML_FOOTER = '<p style="color:#666';
const TEXT_FOOTER = "\n\nYou get this because";

const withoutFooter = (text: string, marker: string) => {
  const at = text.lastIndexOf(marker);
  return at >= 0 ? text.slice(0, at) : text;
};
const footerOf = (text: string, marker: string) => {
  const at = text.lastIndexOf(marker);
  return at >= 0 ? text.slice(at) : "";
};

/** The alerts one after another, the footer once; the subject names the list and its symbols. */
export function groupedAlertEmail(list: string, symbols: readonly string[], emails: readonly Email[]): Email {
  const last = emails.at(-1)!;
  const named = symbols.length > 4 ? `${symbols.slice(0, 4).join(", ")} and ${symbols.length - 4} more` : symbols.join(", ");
  return {
    subject: `Watchlist ${list}: ${symbols.length} alerts (${named})`,
    text: emails.map((e) => withoutFooter(e.text, TEXT_FOOTER)).join("\n\n") + footerOf(last.text, TEXT_FOOTER),
    // Each template's HTML is one <div>: the footer paragraph sits inside the last one.
    html: emails
      .map((e, i) => (i === emails.length - 1 ? e.html : `${withoutFooter(e.html, HTML_FOOTER)}</div><hr style="border:0;border-top:1px solid #eee">`))
      .join(""),
  };
}

/** The watchlist rule a row's alert came from, if it did. */
export const watchlistRuleOf = (row: Pick<Notification, "payload">): number | undefined =>
  typeof row.payload.parentRuleId === "number" ? row.payload.parentRuleId : undefined;
