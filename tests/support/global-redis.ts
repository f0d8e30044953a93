import { accessSync, constants, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { DEFAULT_REDIS_URL, pingRedis, startPrivateRedis, type PrivateRedis } from "../../src/redis/connect.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis every test file uses (tests/support/env.ts reads it as TEST_REDIS_URL). */
    testRedisUrl: string;
  }
}

const HOW_TO_GET_REDIS =
  "Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), " +
  "or point the tests at a running one with TEST_REDIS_URL=redis://host:port.";

/**
 * vitest globalSetup: finds the Redis the test run shares, once, before any test file runs.
 *
 * - `TEST_REDIS_URL` set: that one, and it must answer;
 * - otherwise 127.0.0.1:6379 when something answers there;
 * - otherwise (or always, with `TEST_REDIS=private`) a private redis-server from PATH on a
 *   free port, nothing persisted, in its own temp dir, stopped at teardown.
 *
 * Test files get the URL through `inject("testRedisUrl")`.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const explicit = process.env.TEST_REDIS_URL?.trim();
  const mode = process.env.TEST_REDIS?.trim().toLowerCase();
  if (mode && mode !== "private" && mode !== "auto") {
    throw fail(`TEST_REDIS must be "private" or "auto" (got "${process.env.TEST_REDIS}")`);
  }

  if (explicit) {
    if (mode === "private") throw fail("TEST_REDIS=private and TEST_REDIS_URL are both set: choose one");
    if (!(await pingRedis(explicit))) {
      throw fail(`TEST_REDIS_URL is set to ${safeUrl(explicit)} but nothing answered PING there. Start Redis at that address, or unset TEST_REDIS_URL.`);
    }
    project.provide("testRedisUrl", explicit);
    return undefined;
  }

  if (mode !== "private" && (await pingRedis(DEFAULT_REDIS_URL))) {
    project.provide("testRedisUrl", DEFAULT_REDIS_URL);
    return undefined;
  }

  const bin = findOnPath("redis-server");
  if (!bin) {
    const why =
      mode === "private"
        ? "TEST_REDIS=private needs redis-server, and it is not on PATH."
        : "No Redis answers on 127.0.0.1:6379 and redis-server is not on PATH.";
    throw fail(`The tests need Redis. ${why} ${HOW_TO_GET_REDIS}`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "uab-test-redis-"));
  let server: PrivateRedis;
  try {
    server = await startPrivateRedis(bin, dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw fail(`The tests need Redis, and a private redis-server (${bin}) did not start: ${(err as Error).message} ${HOW_TO_GET_REDIS}`);
  }
  // Teardown stops it; should the run die without one (a crash, a second Ctrl-C), no
  // redis-server is left behind either.
  const pid = server.pid;
  const killOnExit = () => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  process.once("exit", killOnExit);
  process.stdout.write(`test Redis: private redis-server (pid ${pid}) at ${server.url}\n`);
  project.provide("testRedisUrl", server.url);
  return async () => {
    await server.stop();
    process.off("exit", killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * vitest reports a failed globalSetup after a misleading "No test files found": say it first,
 * on stderr, and fail with the same text.
 */
function fail(message: string): Error {
  process.stderr.write(`\n${message}\n\n`);
  return new Error(message);
}

/** The executable's full path when it is on PATH (what spawn would run), else undefined. */
function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function safeUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
