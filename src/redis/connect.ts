import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
}

export interface ResolvedRedis {
  url: string;
  /** Set when we started a private redis-server; stopping it is ours to do. */
  embedded: { stop(): Promise<void>; kill(): void } | undefined;
}

export interface ResolveRedisOptions {
  /** REDIS_URL from config: when set it is used as is and must answer. */
  url: string | undefined;
  log: Logger;
  /** Where to look for a local Redis when REDIS_URL is unset. */
  defaultUrl?: string;
  /** The redis-server executable for the private fallback. */
  redisServerBin?: string;
  /** Directory for the private server's working files. */
  workDir: string;
}

/** Sends PING and resolves true on PONG; never throws. */
export async function pingRedis(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Finds the Redis the bot will use: REDIS_URL if set; otherwise a Redis on 127.0.0.1:6379;
 * otherwise a private redis-server started from PATH, so `npm run demo` works on a laptop
 * without any setup. Without any of these it fails with a message saying how to get one.
 */
export async function resolveRedis(opts: ResolveRedisOptions): Promise<ResolvedRedis> {
  if (opts.url) {
    if (await pingRedis(opts.url)) return { url: opts.url, embedded: undefined };
    throw new RedisUnavailableError(
      `REDIS_URL is set to ${safeUrl(opts.url)} but nothing answered there. Start Redis at that address, or unset REDIS_URL to use a local one.`,
    );
  }
  const defaultUrl = opts.defaultUrl ?? DEFAULT_REDIS_URL;
  if (await pingRedis(defaultUrl)) return { url: defaultUrl, embedded: undefined };

  opts.log.warn({ tried: defaultUrl }, "no Redis answered and REDIS_URL is unset: starting a private redis-server");
  const embedded = await startPrivateRedis(opts.redisServerBin ?? "redis-server", opts.workDir);
  opts.log.info({ url: embedded.url, pid: embedded.pid }, "private redis-server started (data is not persisted)");
  return { url: embedded.url, embedded };
}

function safeUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface PrivateRedis {
  url: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL now: for a shutdown out of time, so the server is never left behind. */
  kill(): void;
}

/**
 * Starts `bin` (a redis-server) on a free port of 127.0.0.1 with nothing persisted, working
 * in `workDir`, and resolves once it answers PING. Rejects with RedisUnavailableError.
 */
export async function startPrivateRedis(bin: string, workDir: string): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = path.resolve(workDir);
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    bin,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes"],
    // redis-server logs to stdout, including why it could not start ("Address already in
    // use"): keep the tail of both streams for the error message, and keep draining them.
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        new RedisUnavailableError(
          err.code === "ENOENT"
            ? "No Redis is reachable: REDIS_URL is unset, nothing answers on 127.0.0.1:6379, and redis-server is not on PATH. " +
                "Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), " +
                "run one with Docker (docker run -p 6379:6379 redis:7), or set REDIS_URL=redis://host:6379."
            : `Could not start redis-server: ${err.message}`,
        ),
      );
    });
    // "close", not "exit": the last output lines may arrive after the process has exited.
    child.once("close", (code) => reject(new RedisUnavailableError(`redis-server exited at start (code ${code}): ${lastLines(output)}`)));
  });
  const url = `redis://127.0.0.1:${port}`;
  const ready = (async () => {
    for (let i = 0; i < 100; i++) {
      if (await pingRedis(url, 500)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new RedisUnavailableError(`redis-server did not answer on ${url} within 5 s`);
  })();
  try {
    await Promise.race([ready, spawnFailed]);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  spawnFailed.catch(() => {});
  return {
    url,
    pid: child.pid!,
    kill: () => void child.kill("SIGKILL"),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

/** The last few log lines, without redis-server's "pid:role date time level" prefixes. */
function lastLines(text: string, n = 3): string {
  return text
    .split("\n")
    .map((l) => l.replace(/^\d+:[A-Z] \d{2} \w{3} \d{4} [\d:.]+ [.\-*#] /, "").trim())
    .filter(Boolean)
    .slice(-n)
    .join(" | ");
}

/** A connection BullMQ workers can share: blocking commands must not time out. */
export function createRedisConnection(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, enableReadyCheck: true });
}
