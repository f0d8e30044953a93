import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { inject } from "vitest";

/** The project root, derived from this file's location (tests/support/ → ../..). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The real Redis the integration tests share; every test works under its own key prefix.
 * Under vitest it is the one tests/support/global-redis.ts found or started (127.0.0.1:6379,
 * `TEST_REDIS_URL`, or a private redis-server); outside vitest (bench/) `TEST_REDIS_URL` or
 * 127.0.0.1:6379.
 */
export const TEST_REDIS_URL: string =
  process.env.TEST_REDIS_URL?.trim() || (process.env.VITEST ? inject("testRedisUrl") : undefined) || "redis://127.0.0.1:6379";

export const uniquePrefix = () => `t-${randomUUID()}`;

export function tempDir(label = "uab-it-"): string {
  return mkdtempSync(path.join(tmpdir(), label));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Deletes every key under `${prefix}:` (SCAN + DEL), returns how many went. */
export async function deletePrefix(prefix: string, url = TEST_REDIS_URL): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on("error", () => {});
  let removed = 0;
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
      cursor = next;
      if (keys.length) removed += await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return removed;
}

/**
 * A port on 127.0.0.1 where nothing listens, and nothing will during the test: a privileged
 * port (below 1024, which test processes cannot bind) that refuses connections. An ephemeral
 * port freed by unusedPort() could be taken by a server of a test running in parallel.
 */
export async function deadPort(): Promise<number> {
  for (const port of [1, 7, 9, 11, 13, 17, 19]) if (await refuses(port)) return port;
  return unusedPort();
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/** A port nothing listens on right now: bound to an ephemeral port and released. */
export async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** A minimal environment for a child process: no inherited settings that could change the bot's config. */
export function baseProcessEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "SYSTEMROOT"];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

/** Pids of this process's direct children whose command name is `comm` (Linux `ps`). */
export async function childPids(comm: string): Promise<number[]> {
  const { execFile } = await import("node:child_process");
  const out = await new Promise<string>((resolve) =>
    // ps exits 1 when there are no children at all: that is an empty list, not an error.
    execFile("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], (_err, stdout) => resolve(stdout)),
  );
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, name]) => pid && name === comm)
    .map(([pid]) => Number(pid));
}

/** Whether a process with this pid still exists (and is not a zombie we could still reap). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
