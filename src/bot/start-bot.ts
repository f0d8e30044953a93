import { run, type RunnerHandle } from "@grammyjs/runner";
import { webhookCallback, type Bot } from "grammy";
import type { Update } from "grammy/types";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadRequestError } from "../http/server.js";
import type { BotContext, HandlerDeps } from "./context.js";
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
export async function startBot(bot: Bot<BotContext>, s: Pick<HandlerDeps, "config" | "log">): Promise<RunningBot> {
  const { config, log } = s;
  // One getMe of our own: grammY's init() retries network errors forever, so a Telegram that
  // cannot be reached would hang the start instead of ending it with a clear line.
  bot.botInfo = await bot.api.getMe();
  try {
    await publishCommands(bot, config.telegram.adminIds);
  } catch (err) {
    // The menu is a convenience: a failure here must not keep the bot from answering.
    log.warn({ err: (err as Error).message }, "could not publish the command menu");
  }
  if (config.telegram.mode === "webhook") {
    await bot.api.setWebhook(`${config.http.publicUrl}${WEBHOOK_PATH}`, { secret_token: config.telegram.webhookSecret!, drop_pending_updates: false });
    const handle = webhookCallback(bot, nodeHttpAdapter, { secretToken: config.telegram.webhookSecret!, onTimeout: "return" });
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

/**
 * grammY's "http" adapter, except that a body which is not a JSON update is the sender's
 * mistake (BadRequestError, so the server answers 400) rather than a SyntaxError thrown at
 * us (a 500 and a stack trace). Like the original, the body is read only after the secret
 * header has been checked: `update` is a getter grammY calls once the token matched.
 */
function nodeHttpAdapter(req: IncomingMessage, res: ServerResponse) {
  const header = req.headers["x-telegram-bot-api-secret-token"];
  return {
    get update(): Promise<Update> {
      return readUpdate(req);
    },
    header: Array.isArray(header) ? header[0] : header,
    end: () => void res.end(),
    respond: (json: string) => void res.writeHead(200, { "content-type": "application/json" }).end(json),
    unauthorized: () => void res.writeHead(401).end("secret token is wrong"),
  };
}

async function readUpdate(req: IncomingMessage): Promise<Update> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new BadRequestError("body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || typeof (value as { update_id?: unknown }).update_id !== "number") {
    throw new BadRequestError("body is not a Telegram update");
  }
  return value as Update;
}
