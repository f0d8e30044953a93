/**
 * Everything that can go wrong talking to Upstox, as types the rest of the bot can act on,
 * each with a sentence a trader understands (`traderMessage`).
 */

export class UpstoxError extends Error {
  override name = "UpstoxError";
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/** 401 / UDAPI100050: the access token is invalid or past its 03:30 IST expiry. */
export class UpstoxTokenError extends UpstoxError {
  override name = "UpstoxTokenError";
}

/** 429 / UDAPI10005, after our own limiter and backoff could not avoid it. */
export class UpstoxRateLimitError extends UpstoxError {
  override name = "UpstoxRateLimitError";
  constructor(
    message: string,
    readonly retryAfterMs: number,
    code?: string,
    requestId?: string,
  ) {
    super(message, 429, code ?? "UDAPI10005", requestId);
  }
}

/** 5xx or 423 (maintenance): Upstox's side. Reads are retried before this surfaces. */
export class UpstoxUnavailableError extends UpstoxError {
  override name = "UpstoxUnavailableError";
}

/** No answer in time, or the connection failed. */
export class UpstoxNetworkError extends UpstoxError {
  override name = "UpstoxNetworkError";
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message, undefined, undefined);
  }
}

/** 4xx other than auth and rate limits: Upstox refused the request itself. */
export class UpstoxRequestError extends UpstoxError {
  override name = "UpstoxRequestError";
}

/** Upstox answered 2xx with something that is not the documented shape. */
export class UpstoxResponseError extends UpstoxError {
  override name = "UpstoxResponseError";
}

/**
 * An order placement whose outcome we could not learn: the request may or may not have
 * reached the exchange, and reconciliation by tag found nothing yet. Never retried blindly.
 */
export class OrderOutcomeUnknownError extends UpstoxError {
  override name = "OrderOutcomeUnknownError";
  constructor(
    message: string,
    readonly tag: string,
    override readonly cause?: unknown,
  ) {
    super(message, undefined, undefined);
  }
}

const CODE_MESSAGES: Record<string, string> = {
  UDAPI100050: "Your Upstox login has expired (Upstox logs everyone out at 3:30 AM). Use /login to link your account again.",
  UDAPI100067: "This needs a full Upstox login, not the read-only one. Use /login.",
  UDAPI10005: "Upstox is limiting how fast we can ask. Please try again in a few seconds.",
  UDAPI100010: "Upstox can't find that order.",
  UDAPI100040: "That order is already complete, cancelled or rejected, so it can't be changed.",
  UDAPI100039: "After-market orders can't be placed while the market is open.",
  UDAPI100072: "Upstox's funds service is down for its nightly maintenance (midnight to 5:30 AM). Try again after 5:30 AM.",
  UDAPI100074: "Upstox accepts orders only between 5:30 AM and midnight.",
  UDAPI1052: "The quantity must be more than zero.",
  UDAPI1056: "That order type isn't valid. Use MARKET, LIMIT, SL or SL-M.",
  UDAPI1026: "Upstox didn't recognise that instrument.",
  UDAPI100011: "Upstox didn't recognise that instrument.",
  UDAPI1087: "Upstox didn't recognise that instrument.",
  UDAPI1154: "Upstox only accepts orders from your registered static IP, and this server's IP isn't it.",
  UDAPI100058: "Your Upstox account has no active trading segments, so Upstox won't issue a login.",
  UDAPI100068: "The bot's Upstox app settings (API key or redirect URL) are wrong. Tell the admin.",
  UDAPI100016: "The bot's Upstox app credentials were refused. Tell the admin.",
};

/** One sentence for the chat: what happened and what to do, no codes or stack traces. */
export function traderMessage(err: unknown): string {
  if (err instanceof OrderOutcomeUnknownError)
    return "We couldn't confirm whether Upstox received your order. Check /orders before trying again, so you don't place it twice.";
  if (err instanceof UpstoxError && err.code && CODE_MESSAGES[err.code]) return CODE_MESSAGES[err.code]!;
  if (err instanceof UpstoxTokenError) return CODE_MESSAGES.UDAPI100050!;
  if (err instanceof UpstoxRateLimitError) return CODE_MESSAGES.UDAPI10005!;
  if (err instanceof UpstoxUnavailableError)
    return err.status === 423
      ? "Upstox's funds service is down for maintenance right now. Try again after 5:30 AM."
      : "Upstox is having trouble right now. Please try again in a minute.";
  if (err instanceof UpstoxNetworkError) return "We couldn't reach Upstox just now. Please try again in a minute.";
  if (err instanceof UpstoxRequestError) return `Upstox refused the request: ${err.message}`;
  if (err instanceof UpstoxResponseError) return "Upstox sent an answer we couldn't read. The admin has been told.";
  return "Something went wrong talking to Upstox. Please try again.";
}
