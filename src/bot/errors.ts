import { NoMarketDataSessionError } from "../upstox/quote-source.js";
import { isShutdown } from "../lifecycle/abort.js";
import { traderMessage, UpstoxError, UpstoxResponseError, UpstoxTokenError } from "../upstox/errors.js";

/**
 * What the chat says when something it needs is not there: one sentence per known condition,
 * used by the bot's error boundary (src/bot/create-bot.ts) and by the few answers that show
 * what they have and say why the rest is missing (/watchlist, a stale /quote).
 */

/** Market data (quotes, prices) needs any linked user's valid token, and there is none. */
export const NO_MARKET_DATA = "No one has linked Upstox today, so there are no live prices yet: /login links your account (logins end at 03:30 IST every day).";

/** The user's own account (portfolio, funds, orders): their token expired or Upstox refused it. */
export const LOGIN_ENDED = "Your Upstox login has ended (logins end at 03:30 IST every day): send /login to link your account again.";

/** The user's own account, never linked. */
export const NOT_LINKED = "Link your Upstox account first: send /login.";

/**
 * The sentence for an error a trader can understand and act on, or undefined for anything
 * else (a bug: the boundary answers with an apology). Never a code or a stack trace.
 */
export function chatMessage(err: unknown): string | undefined {
  if (err instanceof NoMarketDataSessionError) return NO_MARKET_DATA;
  if (isShutdown(err)) return RESTARTING;
  // UDAPI100067 (a read-only login where a full one is needed) has its own sentence.
  if (err instanceof UpstoxTokenError && err.code !== "UDAPI100067") return LOGIN_ENDED;
  if (err instanceof UpstoxError) return traderMessage(err);
  return undefined;
}

const RESTARTING = "The bot is restarting right now, so that did not go through: try again in a minute.";

/**
 * Whether an error with a chat sentence is still worth an error-level log: a known condition
 * (no login, rate limit, Upstox down) is a warning; an answer we could not read is our problem.
 */
export function isExpectedCondition(err: unknown): boolean {
  return chatMessage(err) !== undefined && !(err instanceof UpstoxResponseError);
}
