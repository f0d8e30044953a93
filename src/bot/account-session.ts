import type { UpstoxSession } from "../upstox/token-store.js";
import type { BotContext } from "./context.js";
import { LOGIN_ENDED, NOT_LINKED } from "./errors.js";
import { replyHtml } from "./reply.js";
import { escapeHtml } from "../format/html.js";

/**
 * The sender's own Upstox session, or a reply saying why there is none: the simulator has no
 * account, `refusal` (trading off or halted) when the caller has one, never linked, or the
 * login ended.
 */
export async function accountSession(ctx: BotContext, refusal?: string): Promise<UpstoxSession | undefined> {
  const s = ctx.services;
  if (!s.upstox) {
    await replyHtml(ctx, "This bot runs on the built-in market simulator: there is no Upstox account behind it.");
    return undefined;
  }
  if (refusal) {
    await replyHtml(ctx, escapeHtml(refusal));
    return undefined;
  }
  const session = s.upstox.tokens.session(ctx.account!.id);
  if (!session) await replyHtml(ctx, escapeHtml(s.upstox.tokens.state(ctx.account!.id).state === "none" ? NOT_LINKED : LOGIN_ENDED));
  return session;
}
