import { Api } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import type { Logger } from "../log/logger.js";

/** grammY types its signal with the abort-controller polyfill; the platform's is what it uses at run time. */
type GrammySignal = Parameters<Api["sendMessage"]>[3];

export interface TelegramSender {
  readonly target: string;
  /** `replyMarkup`: buttons under the message (alerts carry theirs); the console sender has none to show. */
  sendHtml(chatId: number, html: string, opts?: { silent?: boolean; replyMarkup?: InlineKeyboardMarkup }): Promise<void>;
}

/**
 * How long one send may take. Well within a chat's hold (ChatLocks, 15 s), so a hung request
 * cannot outlast the hold and let another job send the same rows meanwhile (grammY's default
 * is 500 s).
 */
export const SEND_TIMEOUT_SECONDS = 10;

/** The Bot API when a bot token is configured; otherwise messages are shown in the log (demo). */
export function createTelegramSender(opts: {
  botToken: string | undefined;
  apiRoot: string;
  log: Logger;
  /** The shutdown's cut-off: aborts a send still waiting for Telegram (its row stays pending). */
  signal?: AbortSignal;
}): TelegramSender {
  const signal = opts.signal;
  if (opts.botToken) {
    const api = new Api(opts.botToken, { apiRoot: opts.apiRoot, timeoutSeconds: SEND_TIMEOUT_SECONDS });
    return {
      target: opts.apiRoot,
      async sendHtml(chatId, html, send) {
        signal?.throwIfAborted();
        try {
          await api.sendMessage(
            chatId,
            html,
            {
              parse_mode: "HTML",
              link_preview_options: { is_disabled: true },
              disable_notification: send?.silent ?? false,
              ...(send?.replyMarkup ? { reply_markup: send.replyMarkup } : {}),
            },
            signal as GrammySignal,
          );
        } catch (err) {
          // grammY wraps the abort in an HttpError: report the shutdown itself.
          if (signal?.aborted) throw signal.reason;
          throw err;
        }
      },
    };
  }
  return {
    target: "console",
    async sendHtml(chatId, html) {
      const plain = html
        .replace(/<[^>]+>/g, "")
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, "&");
      opts.log.info({ chatId }, `📨 telegram → ${plain.replace(/\n/g, " | ")}`);
    },
  };
}
