import { adminHandlers } from "./admin.js";
import { alertHandlers } from "./alerts.js";
import { chartHandlers } from "./charts.js";
import { marketHandlers } from "./market.js";
import { portfolioHandlers } from "./portfolio.js";
import { startHandlers } from "./start.js";
import { tradingHandlers } from "./trading.js";
import { watchlistHandlers } from "./watchlist.js";

/**
 * Every area of chat, in the order the bot tries them. The catch-all for anything none of
 * them took, and the error boundary, come after these in src/bot/create-bot.ts.
 */
export const handlers = [
  startHandlers,
  watchlistHandlers,
  alertHandlers,
  marketHandlers,
  chartHandlers,
  portfolioHandlers,
  tradingHandlers,
  adminHandlers,
] as const;
