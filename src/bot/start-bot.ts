import { run, type RunnerHandle } from "@grammyjs/runner";
import { webhookCallback, type Bot } from "grammy";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Services } from "../services.js";
import type { BotContext } from "./context.js";
import { publishCommands } from "./create-bot.js";

export interface RunningBot {
  /** In webhook mode, the handler for POST /telegram/webhook. */
  webhook: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  stop(): Promise<void>;
}

export const WEBHOOK_PATH = "/telegram/webhook";

/**
 * Long polling through @grammyjs/runner (the default: works behind NAT), or a webhook at
 * PUBLIC_URL/telegram/webhook that only accepts posts carrying the secret token.
 */
export async function startBot(bot: Bot<BotContext>, s: Services): Promise<RunningBot> {
  const { config, log } = s;
  await bot.init();
  try {
    await publishCommands(bot, config.telegram.adminIds);
  } catch (err) {
    // The menu is a convenience: a failure here must not keep the bot from answering.
    log.warn({ err: (err as Error).message }, "could not publish the command menu");
  }
  if (config.telegram.mode === "webhook") {
    await bot.api.setWebhook(`${config.http.publicUrl}${WEBHOOK_PATH}`, { secret_token: config.telegram.webhookSecret!, drop_pending_updates: false });
    const handle = webhookCallback(bot, "http", { secretToken: config.telegram.webhookSecret!, onTimeout: "return" });
    log.info({ bot: bot.botInfo.username }, "Telegram bot listening on the webhook");
    return { webhook: handle as (req: IncomingMessage, res: ServerResponse) => Promise<void>, stop: async () => {} };
  }
  await bot.api.deleteWebhook();
  const runner: RunnerHandle = run(bot, { runner: { fetch: { allowed_updates: ["message", "callback_query"] } } });
  log.info({ bot: bot.botInfo.username }, "Telegram bot polling for updates");
  return {
    webhook: undefined,
    stop: async () => {
      if (runner.isRunning()) await runner.stop();
    },
  };
}
