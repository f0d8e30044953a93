import { Api, InputFile } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import type { Logger } from "../log/logger.js";

/** grammY types its signal with the abort-controller polyfill; the platform's is what it uses at run time. */
type GrammySignal = Parameters<Api["sendMessage"]>[3];

export interface TelegramSender {
  readonly target: string;
  /** `replyMarkup`: buttons under the message (alerts carry theirs); the console sender has none to show. */
  sendHtml(chatId: number, html: string, opts?: SendOptions): Promise<void>;
  /** A picture with an HTML caption (which must fit CAPTION_LIMIT: see captionFits). */
  sendPhoto(chatId: number, photo: { png: Buffer; filename: string }, captionHtml: string, opts?: SendOptions): Promise<void>;
}

export interface SendOptions {
  silent?: boolean;
  replyMarkup?: InlineKeyboardMarkup;
}

/** Telegram's limit on a photo's caption: 1,024 characters after entity parsing. */
export const CAPTION_LIMIT = 1024;

/**
 * Whether an HTML caption fits Telegram's limit once its tags and entities are parsed. Counted
 * in UTF-16 units, never fewer than the characters Telegram counts, so a yes is always right.
 */
export function captionFits(html: string): boolean {
  if (html.length <= CAPTION_LIMIT) return true;
  return htmlToPlain(html).length <= CAPTION_LIMIT;
}

/** Our HTML as Telegram shows it: tags gone, the five escapes we write turned back into characters. */
const htmlToPlain = (html: string) =>
  html
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");

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
    /** Runs one call with the shutdown's cut-off; grammY wraps the abort in an HttpError, so the shutdown itself is reported. */
    const call = async (send: (signal: GrammySignal) => Promise<unknown>) => {
      signal?.throwIfAborted();
      try {
        await send(signal as GrammySignal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw err;
      }
    };
    const common = (send: SendOptions | undefined) => ({
      parse_mode: "HTML" as const,
      disable_notification: send?.silent ?? false,
      ...(send?.replyMarkup ? { reply_markup: send.replyMarkup } : {}),
    });
    return {
      target: opts.apiRoot,
      sendHtml: (chatId, html, send) => call((sig) => api.sendMessage(chatId, html, { ...common(send), link_preview_options: { is_disabled: true } }, sig)),
      sendPhoto: (chatId, photo, captionHtml, send) =>
        call((sig) => api.sendPhoto(chatId, new InputFile(photo.png, photo.filename), { ...common(send), caption: captionHtml }, sig)),
    };
  }
  return {
    target: "console",
    async sendHtml(chatId, html) {
      opts.log.info({ chatId }, `📨 telegram → ${htmlToPlain(html).replace(/\n/g, " | ")}`);
    },
    async sendPhoto(chatId, photo, captionHtml) {
      opts.log.info({ chatId, bytes: photo.png.length }, `📨 telegram 📈 ${photo.filename} → ${htmlToPlain(captionHtml).replace(/\n/g, " | ")}`);
    },
  };
}
