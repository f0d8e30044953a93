import { ALERT_USAGE } from "./parse-alert.js";

/**
 * Every chat command, once: its usage line (sent back on a malformed command), its
 * description (for /help and Telegram's command menu), and whether only admins may use it.
 */
export interface CommandSpec {
  command: string;
  usage: string;
  description: string;
  admin?: boolean;
}

export const COMMANDS: readonly CommandSpec[] = [
  { command: "start", usage: "/start", description: "Register and see what the bot does" },
  { command: "help", usage: "/help", description: "All commands" },
  { command: "id", usage: "/id", description: "Your Telegram user id and this chat's id" },
  { command: "login", usage: "/login", description: "Link your Upstox account" },
  {
    command: "watch",
    usage: "/watch SYMBOL [SYMBOL...] · /watch LIST SYMBOL [SYMBOL...]   e.g. /watch RELIANCE TCS, or /watch banks HDFCBANK ICICIBANK for a list named banks",
    description: "Add symbols to your watchlist or a named list",
  },
  {
    command: "unwatch",
    usage: "/unwatch SYMBOL [SYMBOL...] · /unwatch LIST SYMBOL [SYMBOL...] · /unwatch LIST all",
    description: "Remove symbols from a watchlist",
  },
  { command: "watchlist", usage: "/watchlist · /watchlist LIST", description: "Your watchlists with live prices" },
  { command: "quote", usage: "/quote SYMBOL   e.g. /quote INFY", description: "Price, day range and indicators" },
  {
    command: "chart",
    usage: "/chart SYMBOL [1m|5m|15m|30m|1h|1d] [N] [ema N] [sma N] [bb] [supertrend] [vwap]   e.g. /chart INFY 15m 200 ema 50 bb",
    description: "A candlestick chart with your alert levels",
  },
  // Built from the parser's own table of forms, so it lists exactly what /alert accepts.
  { command: "alert", usage: ALERT_USAGE, description: "Set a price or indicator alert" },
  { command: "alerts", usage: "/alerts", description: "Your alerts, with delete and snooze buttons" },
  { command: "delalert", usage: "/delalert ID   e.g. /delalert 12", description: "Delete an alert" },
  { command: "signals", usage: "/signals [SYMBOL]", description: "Your latest signals" },
  { command: "portfolio", usage: "/portfolio", description: "Holdings, positions and day P&L" },
  { command: "funds", usage: "/funds", description: "Available and used margin" },
  { command: "orders", usage: "/orders", description: "Today's orders, with Modify and Cancel buttons" },
  {
    command: "buy",
    usage: "/buy SYMBOL QTY [at PRICE | market] [intraday|delivery] [sl TRIGGER]   e.g. /buy INFY 10 at 1450",
    description: "Buy, after a confirmation card",
  },
  {
    command: "sell",
    usage: "/sell SYMBOL QTY [at PRICE | market] [intraday|delivery] [sl TRIGGER]   e.g. /sell INFY 10 market intraday",
    description: "Sell, after a confirmation card",
  },
  {
    command: "modify",
    usage: "/modify ORDER_ID [price P] [qty Q] [trigger T] [market]   e.g. /modify 250115000123 price 1440",
    description: "Change an open order",
  },
  { command: "cancel", usage: "/cancel ORDER_ID", description: "Cancel an open order" },
  {
    command: "gtt",
    usage: "/gtt SYMBOL buy|sell QTY above|below TRIGGER [target PRICE] [sl PRICE] [intraday|delivery]   e.g. /gtt INFY buy 10 below 1400 target 1500 sl 1350",
    description: "Set a GTT (good till triggered) order",
  },
  { command: "gtts", usage: "/gtts", description: "Your active GTTs, with Cancel buttons" },
  { command: "limits", usage: "/limits [value AMOUNT|off] [orders COUNT|off]   e.g. /limits value 20000 orders 5", description: "Your trading limits" },
  {
    command: "settings",
    usage:
      "/settings · /settings channels telegram|email|both · /settings email you@example.com · /settings quiet 22:00-07:00|off · /settings holdings 3%|off · /settings charts on|off · /settings price|indicator|portfolio|orders on|silent|off",
    description: "Channels, email, quiet hours, alert kinds, charts with alerts",
  },
  { command: "verify", usage: "/verify CODE   (the 6-digit code we emailed you)", description: "Confirm your email address" },
  { command: "mute", usage: "/mute [30m|2h|1d]", description: "Pause all alerts for a while (default 1h)" },
  { command: "unmute", usage: "/unmute", description: "Resume alerts" },
  { command: "stats", usage: "/stats", description: "Users, rules, signals today, queues, last poll", admin: true },
  { command: "health", usage: "/health", description: "Service health", admin: true },
  { command: "pause", usage: "/pause", description: "Pause market polling", admin: true },
  { command: "resume", usage: "/resume", description: "Resume market polling", admin: true },
  { command: "broadcast", usage: "/broadcast TEXT", description: "Message every user (asks to confirm)", admin: true },
  { command: "users", usage: "/users [PAGE]", description: "List users", admin: true },
  { command: "ban", usage: "/ban TELEGRAM_ID", description: "Ban a user", admin: true },
  { command: "unban", usage: "/unban TELEGRAM_ID", description: "Unban a user", admin: true },
  { command: "backup", usage: "/backup", description: "Back up the database and send the file", admin: true },
  { command: "loglevel", usage: "/loglevel fatal|error|warn|info|debug|trace", description: "Change the log level", admin: true },
  { command: "audit", usage: "/audit [N]", description: "Latest admin and trading actions", admin: true },
  { command: "halt", usage: "/halt", description: "Refuse every new order from chat at once", admin: true },
  { command: "resume_trading", usage: "/resume_trading", description: "Let orders from chat go out again", admin: true },
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.command, c]));

export function usageOf(command: string): string {
  const c = BY_NAME.get(command);
  if (!c) throw new Error(`no such command: ${command}`);
  return c.usage;
}

/**
 * A usage line taken apart: each way to write the command (usage lines separate them with
 * " · ") and the note after three spaces at the end, if any ("e.g. …", "(options …)").
 */
export function usageParts(command: string): { forms: string[]; note: string | undefined } {
  const usage = usageOf(command);
  const cut = usage.indexOf("   ");
  const main = cut === -1 ? usage : usage.slice(0, cut);
  const note = cut === -1 ? undefined : usage.slice(cut).trim();
  return { forms: main.split(" · "), note };
}

export const traderCommands = () => COMMANDS.filter((c) => !c.admin);
export const adminCommands = () => COMMANDS.filter((c) => c.admin);
