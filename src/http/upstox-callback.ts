import type { ServerResponse } from "node:http";
import type { Services } from "../services.js";
import type { OAuthStates } from "../bot/oauth.js";
import { escapeHtml } from "../notify/render.js";
import { formatIstTime } from "../notify/render.js";
import { traderMessage } from "../upstox/errors.js";

export const UPSTOX_CALLBACK_PATH = "/upstox/callback";

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(
    `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>` +
      `<body style="font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em"><h1>${escapeHtml(title)}</h1><p>${body}</p></body>`,
  );
}

/**
 * Where Upstox sends the trader after login: the one-time state says which chat user this
 * is, the one-time code becomes their access token (stored encrypted), and the chat is told.
 */
export async function handleUpstoxCallback(
  url: URL,
  res: ServerResponse,
  s: Services,
  oauth: OAuthStates,
  notify: (telegramId: number, html: string) => Promise<void>,
): Promise<void> {
  const code = url.searchParams.get("code");
  const state = url.searchParams.get("state");
  if (!s.upstox) return page(res, 404, "Not available", "This bot runs without an Upstox app.");
  if (!code || !state) return page(res, 400, "Login link incomplete", "Start again from the bot with /login.");
  const userId = await oauth.consume(state);
  const user = userId === undefined ? undefined : s.users.get(userId);
  if (!user) return page(res, 400, "Login link expired", "This link was already used or is older than 10 minutes. Send /login to the bot for a new one.");
  try {
    const grant = await s.upstox.client.exchangeCode(code);
    const expiresAt = s.upstox.tokens.save(user.id, grant.accessToken, grant.upstoxUserId ?? null, new Date(s.clock()));
    s.log.info({ userId: user.id }, "Upstox account linked");
    const until = formatIstTime(expiresAt).slice(0, 16);
    if (user.telegramId !== null)
      await notify(user.telegramId, `✅ Upstox account linked${grant.userName ? ` (${escapeHtml(grant.userName)})` : ""}. Valid until ${until} IST.`).catch((err: unknown) =>
        s.log.warn({ err: (err as Error).message }, "could not confirm the Upstox link in chat"),
      );
    return page(res, 200, "Upstox linked", `Your account is linked until ${escapeHtml(until)} IST. You can close this window and go back to Telegram.`);
  } catch (err) {
    s.log.warn({ userId: user.id, err: (err as Error).message }, "Upstox code exchange failed");
    return page(res, 502, "Upstox login failed", `${escapeHtml(traderMessage(err))} Send /login to the bot to try again.`);
  }
}
