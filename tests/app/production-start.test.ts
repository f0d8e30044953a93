import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { botEnv, ensureBuilt, httpPortOf, spawnBot, type BotProcess } from "../support/process.js";
import { waitUntil } from "../support/wait.js";

/**
 * The production start path: `npm start` (and Docker, systemd) run `node dist/src/main.js`,
 * compiled JavaScript without tsx. The other process tests run the sources with tsx; this one
 * runs the build, so a build that cannot start (a module only tsx could resolve, say) fails here.
 */
describe("the compiled build (npm start's path)", () => {
  let bot: BotProcess | undefined;
  const dataDir = tempDir();
  const prefix = uniquePrefix();

  // Builds dist/ when it is missing or older than the sources (a clean clone in CI).
  beforeAll(() => ensureBuilt(), 180_000);

  afterAll(async () => {
    await bot?.kill();
    await deletePrefix(prefix);
    removeDir(dataDir);
  });

  it("node dist/src/main.js --demo answers /healthz 200, streams the simulator's ticks, and exits 0 on SIGTERM", async () => {
    bot = spawnBot(["--demo"], botEnv({ dataDir, prefix, extra: { SIMULATOR_ALWAYS_OPEN: "true" } }), { compiled: true });
    const port = await httpPortOf(bot);
    const health = await waitUntil(
      async () => {
        const r = await getJson(`http://127.0.0.1:${port}/healthz`);
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 20_000, what: "/healthz 200" },
    );
    expect(health.body).toMatchObject({ status: "ok", checks: { redis: { ok: true }, sqlite: { ok: true }, upstoxToken: { state: "simulator" } } });
    expect(bot.logs.some((l) => l.msg === "bot started" && l.role === "all")).toBe(true);

    // The demo streams (MARKET_DATA_MODE=stream by default): the simulator's ticks reach the engine.
    const feeds = await waitUntil(
      async () => {
        const r = await getJson(`http://127.0.0.1:${port}/healthz`);
        const list = (r.body as { checks: { feeds?: Array<{ name: string; ok: boolean; subscribed: number }> } }).checks.feeds;
        return list?.some((x) => x.name === "simulator" && x.ok && x.subscribed > 0) ? list : undefined;
      },
      { timeoutMs: 20_000, what: "the simulator feed live in /healthz" },
    );
    expect(feeds).toEqual([expect.objectContaining({ name: "simulator", status: "connected" })]);
    const ticks = await waitUntil(
      async () => {
        const m = /uab_feed_ticks_total\{feed="simulator"\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
      },
      { timeoutMs: 10_000, what: "simulator ticks counted" },
    );
    expect(ticks).toBeGreaterThan(0);

    expect(bot.child.kill("SIGTERM")).toBe(true);
    expect(await bot.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(bot.logs.some((l) => l.msg === "stopped cleanly")).toBe(true);
    expect(bot.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(bot.stderr()).toBe("");
  }, 60_000);
});
