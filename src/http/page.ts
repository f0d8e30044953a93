import type { ServerResponse } from "node:http";
import { escapeHtml } from "../format/html.js";

/** A small, self-contained HTML page for people who land on one of our URLs from a browser. */
export function sendPage(res: ServerResponse, status: number, title: string, bodyHtml: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(
    `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>` +
      `<body style="font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em"><h1>${escapeHtml(title)}</h1>${bodyHtml}</body>`,
  );
}
