import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log/logger.js";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * What a route throws when the request itself is wrong (a body that is not JSON, say): the
 * server answers 400 with the message, logs one warning, and counts no error of ours.
 */
export class BadRequestError extends Error {
  override name = "BadRequestError";
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(data);
}

/** A tiny router over node:http: exact paths, GET/HEAD/POST as each route decides. */
export async function startHttpServer(opts: {
  host: string;
  port: number;
  routes: Record<string, RouteHandler>;
  log: Logger;
  onError?: (err: unknown) => void;
}): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      // A request target URL cannot parse ("//[", say): the client's mistake, never a crash.
      return sendJson(res, 400, { error: "bad request target" });
    }
    const route = opts.routes[url.pathname];
    if (!route) return sendJson(res, 404, { error: "not found" });
    Promise.resolve()
      .then(() => route(req, res, url))
      .catch((err: unknown) => {
        if (err instanceof BadRequestError) {
          opts.log.warn({ path: url.pathname, method: req.method, reason: err.message }, "bad request");
          if (!res.headersSent) sendJson(res, 400, { error: err.message });
          else res.end();
          return;
        }
        opts.onError?.(err);
        opts.log.error({ err, path: url.pathname }, "http handler failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.end();
      });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}
