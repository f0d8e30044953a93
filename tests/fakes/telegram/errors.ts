/** Bot API error envelopes, as api.telegram.org sends them. */

export interface TelegramErrorBody {
  ok: false;
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/** Thrown inside a method handler; the server turns it into the error envelope with that HTTP status. */
export class TelegramApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly parameters?: TelegramErrorBody["parameters"],
    /** For a 429 from the flood model: which limit refused (recorded on the call, not sent). */
    readonly floodLimit?: "chat" | "group" | "global",
  ) {
    super(description);
  }

  body(): TelegramErrorBody {
    return { ok: false, error_code: this.status, description: this.description, ...(this.parameters ? { parameters: this.parameters } : {}) };
  }
}

export const badRequest = (what: string): TelegramApiError => new TelegramApiError(400, `Bad Request: ${what}`);

export const tooManyRequests = (retryAfter: number, floodLimit?: "chat" | "group" | "global"): TelegramApiError => {
  const n = Math.max(1, Math.ceil(retryAfter));
  return new TelegramApiError(429, `Too Many Requests: retry after ${n}`, { retry_after: n }, floodLimit);
};

export const UNAUTHORIZED = (): TelegramApiError => new TelegramApiError(401, "Unauthorized");
export const METHOD_NOT_FOUND = (): TelegramApiError => new TelegramApiError(404, "Not Found: method not found");
export const BLOCKED = (): TelegramApiError => new TelegramApiError(403, "Forbidden: bot was blocked by the user");
export const GETUPDATES_CONFLICT = (): TelegramApiError =>
  new TelegramApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
export const WEBHOOK_ACTIVE = (): TelegramApiError =>
  new TelegramApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
