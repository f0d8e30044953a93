import { afterEach, describe, expect, it } from "vitest";
import { removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { botEnv, parseLogLine, spawnBot, type BotProcess } from "../support/process.js";

const EX_CONFIG = 78;

/** What an operator sees when the configuration is wrong: exit 78, every problem named, no stack. */
describe("configuration errors through the real process", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  function start(args: string[], extra: Record<string, string>): BotProcess {
    const dataDir = tempDir();
    const bot = spawnBot(args, botEnv({ dataDir, prefix: uniquePrefix(), extra }));
    cleanups.push(async () => {
      await bot.kill();
      removeDir(dataDir);
    });
    return bot;
  }

  function expectNoStackAndNoLogs(bot: BotProcess) {
    const stderr = bot.stderr();
    expect(stderr).not.toMatch(/^\s{4}at /m);
    expect(stderr).not.toMatch(/node:internal|\.ts:\d+/);
    const jsonLines = bot
      .stdout()
      .split("\n")
      .filter((l) => parseLogLine(l) !== undefined);
    expect(jsonLines).toEqual([]);
    expect(bot.stdout().trim()).toBe("");
  }

  it("bad POLL_INTERVAL, HTTP_PORT and REDIS_URL: exit 78 and each named with what is wrong", async () => {
    const bot = start([], { POLL_INTERVAL: "abc", HTTP_PORT: "99999", REDIS_URL: "ftp://x" });
    const exit = await bot.waitForExit(30_000);
    expect(exit.code).toBe(EX_CONFIG);

    const stderr = bot.stderr();
    const lineFor = (name: string) => stderr.split("\n").find((l) => l.includes(name));
    expect(lineFor("POLL_INTERVAL")).toMatch(/whole number.*"abc"/);
    expect(lineFor("HTTP_PORT")).toMatch(/between 0 and 65535.*99999/);
    expect(lineFor("REDIS_URL")).toMatch(/redis:\/\//);
    expect(lineFor("REDIS_URL")).toMatch(/ftp:/);
    // A pointer to where every setting is documented.
    expect(stderr).toMatch(/\.env\.example/);
    expectNoStackAndNoLogs(bot);
  });

  it("an unknown CLI argument: exit 78 with the usage text", async () => {
    const bot = start(["--rol=worker"], {});
    const exit = await bot.waitForExit(30_000);
    expect(exit.code).toBe(EX_CONFIG);
    expect(bot.stderr()).toContain('"--rol=worker"');
    expect(bot.stderr()).toContain("usage: main [--demo] [--role=all|worker]");
    expectNoStackAndNoLogs(bot);
  });

  it("an unknown role: exit 78 naming the allowed roles", async () => {
    const bot = start(["--role=boss"], {});
    const exit = await bot.waitForExit(30_000);
    expect(exit.code).toBe(EX_CONFIG);
    expect(bot.stderr()).toMatch(/--role must be all or worker \(got "boss"\)/);
    expectNoStackAndNoLogs(bot);
  });
});
