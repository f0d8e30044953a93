import type { IncomingMessage, ServerResponse } from "node:http";
import { recordOrderSnapshot } from "../orders/track.js";
import { parseOrderWebhook } from "../orders/webhook.js";
import type { Services } from "../services.js";
import { BadRequestError, sendJson } from "./server.js";

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
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return sendJson(res, 413, { error: "too large" });
  }
  // Bytes joined before decoding: a character split across two chunks stays whole.
  const parsed = parseOrderWebhook(Buffer.concat(chunks));
  // The server answers 400 with this and logs one warning line.
  if (parsed.kind === "invalid") throw new BadRequestError(`not an order update: ${parsed.error.issues.slice(0, 3).join("; ")}`);
  if (parsed.kind === "ignored") return sendJson(res, 200, { ignored: parsed.updateType });
  const snapshot = parsed.snapshot;
  const user = snapshot.upstoxUserId ? s.users.findByUpstoxUserId(snapshot.upstoxUserId) : undefined;
  if (!user) {
    s.log.info({ orderId: snapshot.orderId }, "order postback for an account nobody linked");
    return sendJson(res, 200, { ignored: "unknown user" });
  }
  const ids = recordOrderSnapshot({ db: s.db, orders: s.orders, notifier: s.notifier, users: s.users, now: s.clock() }, user.id, snapshot);
  await s.notifier.queue(ids);
  sendJson(res, 200, { ok: true });
}
