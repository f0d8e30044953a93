import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningApp } from "../../src/app.js";
import { DEFAULT_REDIS_URL, pingRedis, RedisUnavailableError, resolveRedis } from "../../src/redis/connect.js";
import { getJson, silentLog, startTestApp, testConfig } from "../support/app.js";
import { childPids, processAlive, removeDir, tempDir, uniquePrefix, deadPort, TEST_REDIS_URL } from "../support/env.js";
import { waitUntil } from "../support/wait.js";

/**
 * When REDIS_URL is unset and nothing answers on the default address, the bot starts a
 * private redis-server of its own, and stops it again on shutdown.
 */
describe("embedded Redis fallback", () => {
  /** Ports a private server must never take: the default Redis's and the test Redis's. */
  const takenPorts = [new URL(DEFAULT_REDIS_URL).port, new URL(TEST_REDIS_URL).port];
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function dir(): string {
    const d = tempDir();
    cleanups.push(() => removeDir(d));
    return d;
  }

  it("starts a private redis-server when nothing answers, and stop() ends it", async () => {
    const dead = await deadPort();
    const before = await childPids("redis-server");
    const resolved = await resolveRedis({ url: undefined, log: silentLog(), defaultUrl: `redis://127.0.0.1:${dead}`, workDir: dir() });
    cleanups.push(() => resolved.embedded?.stop());

    expect(resolved.embedded).toBeDefined();
    const url = new URL(resolved.url);
    expect(url.hostname).toBe("127.0.0.1");
    expect(takenPorts).not.toContain(url.port);
    expect(url.port).not.toBe(String(dead));
    expect(await pingRedis(resolved.url)).toBe(true);
    const started = (await childPids("redis-server")).filter((p) => !before.includes(p));
    expect(started).toHaveLength(1);

    await resolved.embedded!.stop();
    expect(await pingRedis(resolved.url, 500)).toBe(false);
    expect(processAlive(started[0]!)).toBe(false);
    // Stopping twice is harmless.
    await resolved.embedded!.stop();
  });

  it("uses the default Redis as is when it answers (no private server)", async () => {
    // The test Redis stands in for "the Redis on 127.0.0.1:6379": it may live elsewhere.
    const before = await childPids("redis-server");
    const resolved = await resolveRedis({ url: undefined, log: silentLog(), defaultUrl: TEST_REDIS_URL, workDir: dir() });
    expect(resolved).toEqual({ url: TEST_REDIS_URL, embedded: undefined });
    expect(await childPids("redis-server")).toEqual(before);
  });

  it("without redis-server on hand it fails saying how to get Redis", async () => {
    const dead = await deadPort();
    const attempt = resolveRedis({
      url: undefined,
      log: silentLog(),
      defaultUrl: `redis://127.0.0.1:${dead}`,
      redisServerBin: "/nonexistent/redis-server",
      workDir: dir(),
    });
    await expect(attempt).rejects.toBeInstanceOf(RedisUnavailableError);
    const err = (await attempt.catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/REDIS_URL/);
    expect(err.message).toMatch(/install redis/i);
    expect(err.message).toMatch(/apt-get install redis-server|brew install redis/);
    expect(err.message).toMatch(/docker run/);
  });

  it("a redis-server that cannot start: the error says why, from its own log", async () => {
    // A stand-in that runs the real redis-server on a port this test already holds.
    const holder = await holdPort();
    cleanups.push(() => new Promise<void>((resolve) => holder.server.close(() => resolve())));
    const d = dir();
    const bin = path.join(d, "redis-server-on-a-taken-port");
    writeFileSync(bin, `#!/bin/sh\nexec redis-server --port ${holder.port} --bind 127.0.0.1 --save "" --appendonly no\n`, { mode: 0o755 });
    const dead = await deadPort();
    const err = (await resolveRedis({ url: undefined, log: silentLog(), defaultUrl: `redis://127.0.0.1:${dead}`, redisServerBin: bin, workDir: d }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(err.message).toMatch(/^redis-server exited at start \(code 1\): /);
    expect(err.message).toMatch(/Address already in use/);
  });

  it("with REDIS_URL set to a dead address it fails naming REDIS_URL (no fallback)", async () => {
    const dead = await deadPort();
    const before = await childPids("redis-server");
    const attempt = resolveRedis({ url: `redis://127.0.0.1:${dead}`, log: silentLog(), workDir: dir() });
    await expect(attempt).rejects.toBeInstanceOf(RedisUnavailableError);
    const err = (await attempt.catch((e: unknown) => e)) as Error;
    expect(err.message).toContain("REDIS_URL");
    expect(err.message).toContain(`127.0.0.1:${dead}`);
    expect(await childPids("redis-server")).toEqual(before);
  });

  it("never prints the REDIS_URL password in its error", async () => {
    const dead = await deadPort();
    const err = (await resolveRedis({ url: `redis://user:s3cret-pass@127.0.0.1:${dead}`, log: silentLog(), workDir: dir() }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(err.message).not.toContain("s3cret-pass");
    expect(err.message).toContain("user:***@");
  });

  describe("the whole app on a private redis-server", () => {
    async function startOnPrivateRedis(): Promise<{ app: RunningApp; redisPid: number }> {
      const dataDir = dir();
      const dead = await deadPort();
      const before = await childPids("redis-server");
      const config = testConfig({ dataDir, prefix: uniquePrefix(), env: { REDIS_URL: undefined, SIMULATOR_ALWAYS_OPEN: "true" } });
      expect(config.redis.url).toBeUndefined();
      const app = await startTestApp(config, { defaultRedisUrl: `redis://127.0.0.1:${dead}` });
      cleanups.push(() => app.stop().catch(() => {}));
      const started = (await childPids("redis-server")).filter((p) => !before.includes(p));
      expect(started).toHaveLength(1);
      expect(path.basename(config.dataDir)).toBe(path.basename(dataDir));
      return { app, redisPid: started[0]! };
    }

    it("serves /healthz 200 with redis ok, and stop() leaves no redis-server running", async () => {
      const { app, redisPid } = await startOnPrivateRedis();
      expect(takenPorts).not.toContain(new URL(app.redisUrl).port);

      const health = await getJson(`http://127.0.0.1:${app.httpPort}/healthz`);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: "ok", checks: { redis: { ok: true }, sqlite: { ok: true } } });

      await app.stop();
      expect(processAlive(redisPid)).toBe(false);
      expect(await childPids("redis-server")).not.toContain(redisPid);
      expect(await pingRedis(app.redisUrl, 500)).toBe(false);
    });

    it("when Redis goes away, /healthz answers 503 and /metrics still answers, and stop() does not hang", async () => {
      const { app, redisPid } = await startOnPrivateRedis();
      const base = `http://127.0.0.1:${app.httpPort}`;
      expect((await getJson(`${base}/healthz`)).status).toBe(200);

      process.kill(redisPid, "SIGKILL");
      await waitUntil(() => !processAlive(redisPid), { what: "redis-server to die" });

      // The shared BullMQ connection queues commands while offline; health must not wait on it.
      const health = await waitUntil(
        async () => {
          const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
          return r.status === 503 ? ((await r.json()) as { status: string; checks: { redis: { ok: boolean; error?: string } } }) : undefined;
        },
        { timeoutMs: 20_000, what: "/healthz to report 503" },
      );
      expect(health.status).toBe("unhealthy");
      expect(health.checks.redis.ok).toBe(false);
      expect(health.checks.redis.error).toBeTruthy();

      const scrape = async () => {
        const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) });
        expect(res.status).toBe(200);
        return res.text();
      };
      const text = await scrape();
      expect(text).toContain("uab_polls_total");
      // Unknown rather than a made-up number; the queue depths are left out.
      expect(text).toMatch(/^uab_last_poll_age_seconds NaN$/im);
      expect(text).not.toMatch(/^uab_queue_depth\{/m);
      // Each failed read is counted (visible from the next scrape on).
      expect(await scrape()).toMatch(/^uab_errors_total\{where="metrics"\} [1-9]/m);

      // No worker can drain without Redis: stop gives up quickly instead of waiting forever.
      await app.stop();
    });
  });
});

/** A TCP server on 127.0.0.1 holding an ephemeral port until closed. */
function holdPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (typeof addr === "object" && addr) resolve({ server, port: addr.port });
      else reject(new Error("no port"));
    });
  });
}
