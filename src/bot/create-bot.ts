import { autoRetry } from "@grammyjs/auto-retry";
import { sequentialize } from "@grammyjs/runner";
import { Bot, GrammyError, HttpError } from "grammy";
import { handlers } from "../../handlers/index.js";
import { adminCommands, COMMANDS, traderCommands } from "./commands.js";
import type { BotContext, HandlerDeps } from "./context.js";
import { chatMessage, isExpectedCondition } from "./errors.js";
import type { OAuthStates } from "./oauth.js";
import { replyHtml } from "./reply.js";
import { escapeHtml } from "../format/html.js";

/**
 * The grammY bot: per-chat ordering, the sender's account on every update, the command
 * Composers in handlers/, and one place where errors are caught and answered.
 */
export function createBot(services: HandlerDeps, oauth: OAuthStates, token: string): Bot<BotContext> {
  const { config, log } = services;
  const bot = new Bot<BotContext>(token, { client: { apiRoot: config.telegram.apiRoot } });
  // Honour 429 retry_after on our replies; give up rather than wait longer than a minute. A
  // network error is not retried here (auto-retry would back off up to an hour, so a start
  // with Telegram unreachable would hang): it reaches the caller, and the start says so.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));

  // Updates of one chat are handled in order; different chats in parallel.
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.use(async (ctx, next) => {
    ctx.services = services;
    ctx.oauth = oauth;
    ctx.isAdmin = ctx.from !== undefined && config.telegram.adminIds.includes(ctx.from.id);
    ctx.account = undefined;
    const from = ctx.from;
    if (from && !from.is_bot && ctx.chat?.type === "private") {
      const name = [from.first_name, from.last_name].filter(Boolean).join(" ") || null;
      const existing = services.users.findByTelegramId(from.id);
      ctx.account = existing
        ? existing.telegramUsername !== (from.username ?? null) || existing.displayName !== name
          ? services.users.update(existing.id, { username: from.username ?? null, name })
          : existing
        : services.users.create({ telegramId: from.id, telegramUsername: from.username ?? null, displayName: name });
      if (ctx.account?.status === "inactive") ctx.account = services.users.update(ctx.account.id, { status: "active" });
    }
    if (ctx.account?.status === "banned" && !ctx.isAdmin) {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: "This bot is not available to you." });
      else if (ctx.message) await ctx.reply("This bot is not available to you.");
      return;
    }
    await next();
  });

  bot.use(...handlers);

  // Anything no Composer took.
  bot.on("message:text", async (ctx) => {
    const text = ctx.message.text.trim();
    if (ctx.chat.type !== "private") {
      // Alerts and accounts are personal: groups get a pointer, not a conversation.
      if (text.startsWith("/")) await ctx.reply(`Please message me privately${ctx.me.username ? `: @${ctx.me.username}` : ""}.`);
      return;
    }
    if (text.startsWith("/")) {
      const name = text.slice(1).split(/[\s@]/)[0] ?? "";
      const known = COMMANDS.find((c) => c.command === name.toLowerCase());
      if (known?.admin) return replyHtml(ctx, "That command is for admins only.");
      const close = COMMANDS.filter((c) => !c.admin && (c.command.startsWith(name.slice(0, 3).toLowerCase()) || name.toLowerCase().startsWith(c.command)));
      const hint = close.length
        ? ` Did you mean ${close
            .slice(0, 3)
            .map((c) => `/${c.command}`)
            .join(", ")}?`
        : "";
      return replyHtml(ctx, `I don't know <code>/${escapeHtml(name.slice(0, 40))}</code>.${hint} Send /help for the list.`);
    }
    return replyHtml(ctx, "I understand commands: send /help to see them.");
  });
  bot.on("callback_query:data", (ctx) => ctx.answerCallbackQuery({ text: "That button has expired." }));

  // The one place errors are answered. A known condition (no Upstox login, Upstox busy or
  // down) gets its sentence; anything else is a bug: logged, and the user gets an apology.
  bot.catch(async (err) => {
    const ctx = err.ctx;
    const e = err.error;
    const known = chatMessage(e);
    const where = { updateId: ctx.update.update_id, userId: ctx.account?.id };
    if (known !== undefined && isExpectedCondition(e))
      log.warn({ ...where, err: (e as Error).message, kind: (e as Error).name }, "answered a known Upstox condition");
    else {
      services.metrics.errors.inc({ where: "bot" });
      if (e instanceof GrammyError) log.error({ ...where, code: e.error_code, description: e.description, method: e.method }, "Telegram refused a call");
      else if (e instanceof HttpError) log.error({ ...where, err: e.error }, "could not reach Telegram");
      else log.error({ ...where, err: e }, "handler failed");
    }
    try {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: (known ?? "Sorry, something went wrong. Please try again.").slice(0, 200) });
      else if (ctx.chat) await ctx.reply(known ?? "Sorry, something went wrong on our side. Please try again in a minute.");
    } catch {
      // Telegram itself is failing: the log above is all we can do.
    }
  });
  return bot;
}

/** The command menus: traders see theirs; each admin also sees the admin commands. */
export async function publishCommands(bot: Bot<BotContext>, adminIds: readonly number[]): Promise<void> {
  const toMenu = (list: typeof COMMANDS) => list.map((c) => ({ command: c.command, description: c.description }));
  await bot.api.setMyCommands(toMenu(traderCommands()), { scope: { type: "all_private_chats" } });
  for (const id of adminIds) {
    await bot.api.setMyCommands([...toMenu(traderCommands()), ...toMenu(adminCommands())], { scope: { type: "chat", chat_id: id } });
  }
}
