import type { IncomingMessage, ServerResponse } from "node:http";
import { recordOrderSnapshot } from "../orders/track.js";
import { parseOrderWebhook } from "../orders/webhook.js";
import { enqueueNotifications } from "../queue/queues.js";
import type { Services } from "../services.js";
import { sendJson } from "./server.js";

/** Upstox posts order updates here; the secret in the path is the only thing that proves it is Upstox. */
export const orderWebhookPath = (secret: string) => `/upstox/orders/${secret}`;

const MAX_BODY = 64 * 1024;

/**
 * Upstox's order postback: parse, find the user by their Upstox id, record the snapshot
 * (one notification per transition, whatever else reported it), answer 200 quickly. An
 * update we cannot use is still answered 2xx, so Upstox does not retry it forever.
 */
export async function handleOrderWebhook(req: IncomingMessage, res: ServerResponse, s: Services): Promise<void> {
  if (req.method !== "POST") return sendJson(res, 405, { error: "POST only" });
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_BODY) return sendJson(res, 413, { error: "too large" });
  }
  const parsed = parseOrderWebhook(body);
  if (parsed.kind === "invalid") {
    s.log.warn({ issues: parsed.error.issues }, "order postback not understood");
    return sendJson(res, 400, { error: "not an order update" });
  }
  if (parsed.kind === "ignored") return sendJson(res, 200, { ignored: parsed.updateType });
  const snapshot = parsed.snapshot;
  const user = snapshot.upstoxUserId ? s.users.findByUpstoxUserId(snapshot.upstoxUserId) : undefined;
  if (!user) {
    s.log.info({ orderId: snapshot.orderId }, "order postback for an account nobody linked");
    return sendJson(res, 200, { ignored: "unknown user" });
  }
  const ids = recordOrderSnapshot({ db: s.db, orders: s.orders, outbox: s.outbox, users: s.users, now: s.clock() }, user.id, snapshot);
  await enqueueNotifications(s.queues, ids, s.delivery);
  sendJson(res, 200, { ok: true });
}
