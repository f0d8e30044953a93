import type { ServerResponse } from "node:http";
import { sendPage } from "./page.js";
import type { Services } from "../services.js";
import type { OAuthStates } from "../bot/oauth.js";
import { escapeHtml } from "../format/html.js";
import { formatIstTime } from "../format/time.js";
import { traderMessage } from "../upstox/errors.js";

export const UPSTOX_CALLBACK_PATH = "/upstox/callback";

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
  if (!s.upstox) return sendPage(res, 404, "Not available", "<p>This bot runs without an Upstox app.</p>");
  if (!code || !state) return sendPage(res, 400, "Login link incomplete", "<p>Start again from the bot with /login.</p>");
  const userId = await oauth.consume(state);
  const user = userId === undefined ? undefined : s.users.get(userId);
  if (!user)
    return sendPage(res, 400, "Login link expired", "<p>This link was already used or is older than 10 minutes. Send /login to the bot for a new one.</p>");
  try {
    const grant = await s.upstox.client.exchangeCode(code);
    const expiresAt = s.upstox.tokens.save(user.id, grant.accessToken, grant.upstoxUserId ?? null, new Date(s.clock()));
    s.log.info({ userId: user.id }, "Upstox account linked");
    const until = formatIstTime(expiresAt).slice(0, 16);
    if (user.telegramId !== null)
      await notify(user.telegramId, `✅ Upstox account linked${grant.userName ? ` (${escapeHtml(grant.userName)})` : ""}. Valid until ${until} IST.`).catch(
        (err: unknown) => s.log.warn({ err: (err as Error).message }, "could not confirm the Upstox link in chat"),
      );
    return sendPage(
      res,
      200,
      "Upstox linked",
      `<p>Your account is linked until ${escapeHtml(until)} IST. You can close this window and go back to Telegram.</p>`,
    );
  } catch (err) {
    s.log.warn({ userId: user.id, err: (err as Error).message }, "Upstox code exchange failed");
    return sendPage(res, 502, "Upstox login failed", `<p>${escapeHtml(traderMessage(err))} Send /login to the bot to try again.</p>`);
  }
}
