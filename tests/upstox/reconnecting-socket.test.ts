import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { createLogger } from "../../src/log/logger.js";
import { UpstoxTokenError } from "../../src/upstox/errors.js";
import {
  backoffDelay,
  istDay,
  ReconnectingSocket,
  redactUrl,
  type ReconnectingSocketOptions,
  type SocketStatus,
} from "../../src/upstox/feed/reconnecting-socket.js";
import { sleep, waitUntil } from "../support/wait.js";

/**
 * The generic socket against a plain local WebSocket server: what it does on open, loss,
 * refusal, silence and close. The Upstox feeds on top are tested against the fake Upstox.
 */

interface Server {
  wss: WebSocketServer;
  url: string;
  /** Every connection's request path and query, in order. */
  requests: string[];
  sockets: WebSocket[];
  /** What the server does with a new connection. */
  onConnection: (ws: WebSocket) => void;
}

async function startServer(): Promise<Server> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const server: Server = {
    wss,
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    requests: [],
    sockets: [],
    onConnection: (ws) => ws.send("hello"),
  };
  wss.on("connection", (ws, req) => {
    server.requests.push(req.url ?? "");
    server.sockets.push(ws);
    server.onConnection(ws);
  });
  return server;
}

const closeServer = (s: Server) =>
  new Promise<void>((resolve) => {
    for (const ws of s.wss.clients) ws.terminate();
    s.wss.close(() => resolve());
  });

function capturingLog() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", format: "json", destination: { write: (l: string) => void lines.push(l) } }) };
}

describe("ReconnectingSocket", () => {
  let server: Server;
  let sockets: ReconnectingSocket[];
  let codes: number;
  const { lines, log } = capturingLog();

  const make = (extra: Partial<ReconnectingSocketOptions> = {}) => {
    const messages: string[] = [];
    const statuses: SocketStatus[] = [];
    const s = new ReconnectingSocket({
      name: "test",
      authorize: async () => `${server.url}/feed?requestId=r${codes}&code=SECRET-CODE-${codes++}`,
      onMessage: (data) => messages.push(data.toString("utf8")),
      onStatus: (st) => statuses.push(st),
      backoff: { initialMs: 10, maxMs: 40 },
      random: () => 1,
      stallMs: 5_000,
      log,
      ...extra,
    });
    sockets.push(s);
    return { s, messages, statuses };
  };

  beforeEach(async () => {
    server = await startServer();
    sockets = [];
    codes = 0;
    lines.length = 0;
  });
  afterEach(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await closeServer(server);
  });

  it("connects with a fresh authorization each time and reconnects after the server drops it", async () => {
    let opened = 0;
    const { s, messages, statuses } = make({ onOpen: () => opened++ });
    s.start();
    await waitUntil(() => messages.length === 1, { what: "first message" });
    expect(s.status).toBe("connected");
    expect(s.lastMessageAt).not.toBeNull();

    server.sockets[0]!.close(1011, "going away");
    await waitUntil(() => messages.length === 2, { what: "message on the second connection" });
    expect(opened).toBe(2);
    expect(server.requests).toEqual(["/feed?requestId=r0&code=SECRET-CODE-0", "/feed?requestId=r1&code=SECRET-CODE-1"]);
    expect(s.reconnectsToday).toBe(1);
    expect(s.lastError).toContain("1011");
    expect(statuses).toEqual(["connecting", "connected", "connecting", "connected"]);
  });

  it("backs off with full jitter, doubling up to the max, and starts over once a connection carried a message", async () => {
    let refuse = 4;
    const seen: number[] = [];
    const { s, messages } = make({
      stableMs: 0,
      authorize: async () => {
        if (refuse-- > 0) throw new Error("Upstox is down");
        return `${server.url}/feed?code=C${codes++}`;
      },
      onStatus: (_st, sock) => {
        if (sock.retryDelayMs !== undefined) seen.push(sock.retryDelayMs);
      },
    });
    s.start();
    await waitUntil(() => messages.length === 1, { what: "connected after refusals" });
    expect(seen).toEqual([10, 20, 40, 40]);
    expect(s.reconnectsToday).toBe(4);
    expect(s.lastError).toBe("authorization failed: Upstox is down");

    server.sockets[0]!.terminate();
    await waitUntil(() => seen.length === 5);
    expect(seen[4]).toBe(10);
    expect(backoffDelay(3, 10, 1000, () => 0.5)).toBe(40);
    expect(backoffDelay(50, 10, 1000, () => 0.999)).toBe(999);
  });

  it("keeps backing off when a server accepts, says hello and hangs up before the connection proved stable", async () => {
    let refuse = 2;
    const seen: number[] = [];
    const { s, messages } = make({
      stableMs: 60_000,
      authorize: async () => {
        if (refuse-- > 0) throw new Error("Upstox is down");
        return `${server.url}/feed?code=C${codes++}`;
      },
      onStatus: (_st, sock) => {
        if (sock.retryDelayMs !== undefined) seen.push(sock.retryDelayMs);
      },
    });
    s.start();
    await waitUntil(() => messages.length === 1, { what: "connected after refusals" });
    expect(seen).toEqual([10, 20]);
    server.sockets[0]!.terminate();
    await waitUntil(() => seen.length === 3);
    // Not 10 again: the hello-and-hang-up does not count as a good connection.
    expect(seen[2]).toBe(40);
  });

  it("a refused token leaves it down with a clear error, retried at the max backoff", async () => {
    const { s } = make({
      authorize: async () => {
        throw new UpstoxTokenError("Invalid token used to access API", 401, "UDAPI100050");
      },
    });
    s.start();
    await waitUntil(() => s.status === "down");
    expect(s.lastError).toBe("not authorized: Invalid token used to access API");
    expect(s.retryDelayMs).toBe(40);
  });

  it("drops a connection that goes quiet for stallMs and makes a new one, unless the watchdog is off", async () => {
    server.onConnection = () => undefined;
    const quiet = make({ stallMs: 150 });
    let watching = false;
    const idle = make({ stallMs: 150, watchdogActive: () => watching, authorize: async () => `${server.url}/idle` });
    quiet.s.start();
    idle.s.start();
    await waitUntil(() => quiet.s.reconnectsToday >= 1 && quiet.s.status === "connected", { what: "watchdog reconnect" });
    expect(quiet.s.lastError).toMatch(/^stalled: no frame for \d+ ms$/);
    expect(server.requests.filter((r) => r.startsWith("/feed")).length).toBeGreaterThanOrEqual(2);

    // Three stall periods with the watchdog off: the idle socket keeps its one connection.
    await sleep(450);
    expect(idle.s.status).toBe("connected");
    expect(server.requests.filter((r) => r === "/idle")).toHaveLength(1);
    watching = true;
    await waitUntil(() => server.requests.filter((r) => r === "/idle").length === 2, { what: "idle socket dropped once watched" });
  });

  it("counts ping frames as life", async () => {
    server.onConnection = (ws) => {
      const t = setInterval(() => ws.ping(), 30);
      ws.on("close", () => clearInterval(t));
    };
    const { s } = make({ stallMs: 400 });
    s.start();
    await waitUntil(() => s.lastMessageAt !== null, { what: "a ping" });
    await sleep(1_000);
    expect(s.status).toBe("connected");
    expect(s.reconnectsToday).toBe(0);
  });

  it("survives handlers that throw, counting them", async () => {
    server.onConnection = (ws) => {
      ws.send("one");
      ws.send("two");
    };
    const { s } = make({
      onOpen: () => {
        throw new Error("subscribe failed");
      },
      onMessage: () => {
        throw new Error("bad handler");
      },
    });
    s.start();
    await waitUntil(() => s.handlerErrors === 3, { what: "three handler errors" });
    expect(s.status).toBe("connected");
    expect(lines.some((l) => l.includes("bad handler"))).toBe(true);
  });

  it("never puts the one-time code in lastError or the log", async () => {
    server.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean, code?: number) => void) => cb(false, 403);
    const { s } = make();
    s.start();
    await waitUntil(() => s.reconnectsToday >= 2, { what: "refused handshakes" });
    expect(s.lastError).toContain("403");
    expect(lines.length).toBeGreaterThan(0);
    for (const text of [s.lastError!, ...lines]) expect(text).not.toMatch(/SECRET-CODE/);
    expect(redactUrl("wss://x/feed?requestId=1&code=2")).toBe("wss://x/feed?[redacted]");
  });

  it("sends frames only on an open connection", async () => {
    const got: string[] = [];
    server.onConnection = (ws) => {
      ws.on("message", (d) => got.push(String(d)));
      ws.send("hi");
    };
    const { s, messages } = make();
    expect(s.send("early")).toBe(false);
    s.start();
    await waitUntil(() => messages.length === 1);
    expect(s.send("sub")).toBe(true);
    await waitUntil(() => got.length === 1);
    expect(got).toEqual(["sub"]);
  });

  it("close() is idempotent, ends the connection and any pending retry, and it stays closed", async () => {
    const { s, messages, statuses } = make();
    s.start();
    await waitUntil(() => messages.length === 1);
    const closing = s.close();
    expect(s.close()).toBe(closing);
    await closing;
    expect(s.status).toBe("stopped");
    await waitUntil(() => server.wss.clients.size === 0, { what: "server side closed" });
    s.start();
    await sleep(50);
    expect(server.requests).toHaveLength(1);
    expect(statuses.at(-1)).toBe("stopped");

    // Closed while waiting to retry: the retry never happens.
    const refused = make({
      authorize: async () => {
        throw new Error("no");
      },
      backoff: { initialMs: 100, maxMs: 100 },
    });
    refused.s.start();
    await waitUntil(() => refused.s.retryDelayMs !== undefined);
    await refused.s.close();
    expect(refused.s.retryDelayMs).toBeUndefined();
    const before = refused.s.reconnectsToday;
    await sleep(150);
    expect(refused.s.reconnectsToday).toBe(before);

    // Closed during the handshake.
    server.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean) => void) => setTimeout(() => cb(true), 200);
    const mid = make();
    mid.s.start();
    await waitUntil(() => server.wss.clients.size === 0 && mid.statuses.includes("connecting"));
    await sleep(20);
    await mid.s.close();
    expect(mid.s.status).toBe("stopped");
  });

  it("counts reconnects per IST day, starting over at IST midnight", async () => {
    // 18:29:59 UTC is 23:59:59 IST.
    let clock = Date.parse("2026-12-07T18:29:00Z");
    const { s, messages } = make({ now: () => clock });
    s.start();
    await waitUntil(() => messages.length === 1);
    server.sockets[0]!.terminate();
    await waitUntil(() => messages.length === 2);
    expect(s.reconnectsToday).toBe(1);
    clock = Date.parse("2026-12-07T18:30:00Z");
    expect(s.reconnectsToday).toBe(0);
    server.sockets[1]!.terminate();
    await waitUntil(() => messages.length === 3);
    expect(s.reconnectsToday).toBe(1);
    expect(istDay(Date.parse("2026-12-07T18:29:59Z")) + 1).toBe(istDay(clock));
  });
});
