/** Telegram's own limits on what one message may hold. */

/**
 * Telegram's limit on a message's text: 4,096 characters, counted after entity parsing, so
 * measuring the HTML source (tags included) stays on the safe side.
 */
export const TELEGRAM_LIMIT = 4096;

/**
 * Splits an HTML message under Telegram's 4,096-character limit at line breaks, never
 * inside a line (lines are built by us and never contain an open tag across a break).
 */
export function splitMessage(html: string, limit = TELEGRAM_LIMIT): string[] {
  if (html.length <= limit) return [html];
  const parts: string[] = [];
  let current = "";
  for (const line of html.split("\n")) {
    const chunks = line.length > limit ? hardSplit(line, limit) : [line];
    for (const chunk of chunks) {
      if (current && current.length + 1 + chunk.length > limit) {
        parts.push(current);
        current = chunk;
      } else current = current ? `${current}\n${chunk}` : chunk;
    }
  }
  if (current) parts.push(current);
  return parts;
}

/** A single over-long line: cut on spaces where possible, never inside an HTML entity. */
function hardSplit(line: string, limit: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf(" ", limit);
    if (cut < limit / 2) cut = limit;
    const amp = rest.lastIndexOf("&", cut);
    if (amp > cut - 8 && !rest.slice(amp, cut).includes(";")) cut = amp;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  if (rest) out.push(rest);
  return out;
}
