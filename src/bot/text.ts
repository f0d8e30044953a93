/**
 * Moved to src/format/*. Kept only for callers that still import from here (src/bot/create-bot.ts,
 * handlers/admin.ts, jobs/notify.ts); new code imports from src/format directly.
 */
export { escapeHtml } from "../format/html.js";
export { TELEGRAM_LIMIT } from "../format/telegram.js";
