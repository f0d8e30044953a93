/**
 * Fake Telegram Bot API (api.telegram.org) for tests of the grammY bot.
 *
 *   const tg = await FakeTelegram.start();                 // { floodLimits: false } to switch 429s off
 *   const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
 *   await tg.sendText({ id: 1001, first_name: "Asha" }, "/ping");
 *   const [reply] = await tg.waitForMessages(1001, 1);    // reply.text: what the user sees
 *   await bot.stop(); await tg.close();
 */
export {
  FakeTelegram,
  DEFAULT_TOKEN,
  DEFAULT_BOT_USERNAME,
  type FakeTelegramOptions,
  type SentMessage,
  type SentFile,
  type CallbackAnswer,
  type CommandsCall,
  type ApiCall,
  type WebhookDelivery,
  type FailOptions,
  type TelegramUserInput,
} from "./server.js";
export { DEFAULT_FLOOD_LIMITS, type FloodLimitOptions } from "./flood.js";
export { parseHtml, parseMarkdownV2, parseMarkdown, formatText, TEXT_MAX, CAPTION_MAX, type MessageEntity, type FormattedText } from "./format.js";
export { TelegramApiError, type TelegramErrorBody } from "./errors.js";
