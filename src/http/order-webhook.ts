import type { IncomingMessage, ServerResponse } from "node:http";
import { recordGttSnapshot } from "../orders/gtt-track.js";
import type { GttSnapshot } from "../orders/gtt-update.js";
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
  if (parsed.kind === "gtt") return handleGttUpdate(res, s, parsed.snapshot);
  // GTT updates are opt-in and documented from one sample (REFERENCE §5.5.4): one we cannot
  // read is logged and acknowledged, as refusing it would only make Upstox send it again.
  if (parsed.kind === "invalid" && parsed.updateType === "gtt_order") {
    s.log.warn({ issues: parsed.error.issues.slice(0, 3) }, "GTT postback we cannot read");
    return sendJson(res, 200, { ignored: "unreadable gtt_order" });
  }
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

/**
 * A GTT postback names no user: the GTT's stored owner decides (or the Upstox account, should
 * a future payload name one). A GTT nobody is known to own is acknowledged and dropped.
 */
async function handleGttUpdate(res: ServerResponse, s: Services, snapshot: GttSnapshot): Promise<void> {
  const named = snapshot.upstoxUserId ? s.users.findByUpstoxUserId(snapshot.upstoxUserId) : undefined;
  if (!named && s.gtts.owner(snapshot.gttOrderId) === undefined) {
    s.log.info({ gttOrderId: snapshot.gttOrderId }, "GTT postback for a GTT nobody here owns");
    return sendJson(res, 200, { ignored: "unknown gtt" });
  }
  const ids = recordGttSnapshot({ db: s.db, gtts: s.gtts, notifier: s.notifier, users: s.users, now: s.clock() }, named?.id, snapshot);
  await s.notifier.queue(ids);
  sendJson(res, 200, { ok: true });
}
