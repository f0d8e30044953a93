import { Api } from "grammy";
import type { Logger } from "../log/logger.js";

export interface TelegramSender {
  readonly target: string;
  sendHtml(chatId: number, html: string, opts?: { silent?: boolean }): Promise<void>;
}

/** The Bot API when a bot token is configured; otherwise messages are shown in the log (demo). */
export function createTelegramSender(opts: { botToken: string | undefined; apiRoot: string; log: Logger }): TelegramSender {
  if (opts.botToken) {
    const api = new Api(opts.botToken, { apiRoot: opts.apiRoot });
    return {
      target: opts.apiRoot,
      async sendHtml(chatId, html, opts) {
        await api.sendMessage(chatId, html, { parse_mode: "HTML", link_preview_options: { is_disabled: true }, disable_notification: opts?.silent ?? false });
      },
    };
  }
  return {
    target: "console",
    async sendHtml(chatId, html) {
      const plain = html.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
      opts.log.info({ chatId }, `📨 telegram → ${plain.replace(/\n/g, " | ")}`);
    },
  };
}
