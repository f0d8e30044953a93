import type { IncomingMessage, ServerResponse } from "node:http";
import { sendPage } from "./page.js";
import { escapeHtml } from "../format/html.js";
import type { Services } from "../services.js";

export const UNSUBSCRIBE_PATH = "/unsubscribe";

async function readBody(req: IncomingMessage, limit = 4096): Promise<string> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) break;
  }
  return body;
}

/**
 * GET shows a confirmation button (mail scanners follow links: a GET must change nothing);
 * POST, from that button or a mail client's one-click (RFC 8058), stops the emails.
 */
export async function handleUnsubscribe(req: IncomingMessage, res: ServerResponse, url: URL, s: Services): Promise<void> {
  const links = s.unsubscribe!;
  const u = url.searchParams.get("u");
  const t = url.searchParams.get("t");
  const userId = links.verify(u, t);
  const user = userId === undefined ? undefined : s.users.get(userId);
  if (!user) return sendPage(res, 400, "Link not valid", "<p>This unsubscribe link is broken or was changed. Use /settings in the bot instead.</p>");
  if (req.method === "POST") {
    await readBody(req);
    const channels = user.telegramId !== null ? "telegram" : user.channels;
    s.users.update(user.id, { channels, ...(user.telegramId === null ? { prefs: { price: "off", indicator: "off", portfolio: "off", orders: "off" } } : {}) });
    s.log.info({ userId: user.id }, "unsubscribed from email");
    return sendPage(
      res,
      200,
      "Unsubscribed",
      `<p>You won't get these emails any more.${user.telegramId !== null ? " Alerts still arrive in Telegram; change that with /settings." : ""}</p>`,
    );
  }
  return sendPage(
    res,
    200,
    "Stop alert emails?",
    `<form method="post" action="${escapeHtml(UNSUBSCRIBE_PATH)}?u=${escapeHtml(u!)}&amp;t=${escapeHtml(t!)}"><button type="submit" style="font-size:1.1em;padding:.5em 1em">Unsubscribe</button></form>`,
  );
}
