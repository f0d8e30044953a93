import type { OAuthStates } from "../bot/oauth.js";
import type { Services } from "../services.js";
import { gatherHealth } from "./health.js";
import { handleOrderWebhook, orderWebhookPath } from "./order-webhook.js";
import { sendJson, type RouteHandler } from "./server.js";
import { handleUnsubscribe, UNSUBSCRIBE_PATH } from "./unsubscribe-route.js";
import { handleUpstoxCallback, UPSTOX_CALLBACK_PATH } from "./upstox-callback.js";

/**
 * The HTTP routes of the role that serves HTTP: health and metrics always; unsubscribe
 * links; the Telegram webhook in webhook mode; the Upstox login callback and order postback
 * when an Upstox app is configured.
 */
export function appRoutes(deps: {
  services: Services;
  oauth: OAuthStates;
  /**
   * The Telegram webhook, in webhook mode: its path and handler. Passed in rather than
   * imported, so a process without a bot token never loads the chat bot's modules.
   */
  telegramWebhook: { path: string; handle: RouteHandler } | undefined;
  /** Sends the login confirmation into the chat (absent without a bot token). */
  sendToChat: ((chatId: number, html: string) => Promise<void>) | undefined;
  health: { startedAt: number; redisUp: () => boolean; sqlitePing: { get(): unknown } };
}): Record<string, RouteHandler> {
  const { services: s, oauth, telegramWebhook } = deps;
  const routes: Record<string, RouteHandler> = {
    "/healthz": async (_req, res) => {
      const report = await gatherHealth(s, deps.health.startedAt, deps.health.redisUp, deps.health.sqlitePing);
      sendJson(res, report.status === "ok" ? 200 : 503, report);
    },
    "/metrics": async (_req, res) => {
      const body = await s.metrics.registry.metrics();
      res.writeHead(200, { "content-type": s.metrics.registry.contentType });
      res.end(body);
    },
    [UNSUBSCRIBE_PATH]: (req, res, url) => handleUnsubscribe(req, res, url, s),
  };
  if (telegramWebhook) routes[telegramWebhook.path] = telegramWebhook.handle;
  if (s.upstox && s.config.upstox.webhookSecret) routes[orderWebhookPath(s.config.upstox.webhookSecret)] = (req, res) => handleOrderWebhook(req, res, s);
  if (s.upstox)
    routes[UPSTOX_CALLBACK_PATH] = (_req, res, url) =>
      handleUpstoxCallback(url, res, s, oauth, async (chatId, html) => void (await deps.sendToChat?.(chatId, html)));
  return routes;
}
