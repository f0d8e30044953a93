import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { deadPort, deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { botEnv, parseLogLine, spawnBot, type BotProcess, type LogLine } from "../support/process.js";

const EX_UNAVAILABLE = 69;
const EX_SOFTWARE = 70;
const EX_CONFIG = 78;
const FATAL = 60;

/**
 * What an operator sees when the bot cannot start: one line naming the cause and the fix, no
 * stack trace, and an exit code that says which kind of problem it is (README, "Running it
 * for real").
 */
describe("start-up failures through the real process", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function dir(): string {
    const d = tempDir();
    cleanups.push(() => removeDir(d));
    return d;
  }

  function start(extra: Record<string, string>, dataDir = dir()): BotProcess {
    const prefix = uniquePrefix();
    const bot = spawnBot([], botEnv({ dataDir, prefix, extra }));
    cleanups.push(async () => {
      await bot.kill();
      await deletePrefix(prefix);
    });
    return bot;
  }

  function expectNoStack(bot: BotProcess) {
    for (const text of [bot.stdout(), bot.stderr()]) {
      expect(text).not.toMatch(/^\s{4}at /m);
      expect(text).not.toMatch(/\\n\s{4}at /);
      expect(text).not.toMatch(/node:internal|\.ts:\d+/);
      expect(text).not.toContain('"stack"');
    }
  }

  /** The one fatal line (and nothing else at error level or above); it is a single line. */
  function theFatalLine(bot: BotProcess): LogLine {
    const lines = bot
      .stdout()
      .split("\n")
      .filter((l) => l.trim() !== "");
    const parsed = lines.map((l) => parseLogLine(l));
    expect(
      parsed.every((l) => l !== undefined),
      `every stdout line is a JSON log line:\n${bot.stdout()}`,
    ).toBe(true);
    const severe = parsed.filter((l) => l!.level >= 50);
    expect(severe, bot.stdout()).toHaveLength(1);
    const fatal = severe[0]!;
    expect(fatal.level).toBe(FATAL);
    expect(fatal.msg).toMatch(/^could not start: /);
    expect(fatal.msg).not.toContain("\n");
    expect(Object.keys(fatal).sort()).toEqual(["level", "msg", "pid", "time"]);
    expect(bot.stderr()).toBe("");
    return fatal;
  }

  it("Redis unreachable at REDIS_URL: exit 69, one line naming REDIS_URL and what to do", async () => {
    const port = await deadPort();
    const bot = start({ REDIS_URL: `redis://127.0.0.1:${port}` });
    expect((await bot.waitForExit(30_000)).code).toBe(EX_UNAVAILABLE);
    const fatal = theFatalLine(bot);
    expect(fatal.msg).toContain("REDIS_URL");
    expect(fatal.msg).toContain(`127.0.0.1:${port}`);
    expect(fatal.msg).toMatch(/Start Redis at that address, or unset REDIS_URL/);
    expectNoStack(bot);
  });

  it("Telegram unreachable at TELEGRAM_API_ROOT: exit 69 in seconds, one line naming TELEGRAM_API_ROOT", async () => {
    const port = await deadPort();
    const bot = start({ TELEGRAM_BOT_TOKEN: "123456:TEST-token-for-an-unreachable-api", TELEGRAM_API_ROOT: `http://127.0.0.1:${port}` });
    expect((await bot.waitForExit(30_000)).code).toBe(EX_UNAVAILABLE);
    const line = theFatalLine(bot);
    expect(line.msg).toContain("Telegram could not be reached");
    expect(line.msg).toContain("TELEGRAM_API_ROOT");
    expectNoStack(bot);
  });

  it("the stack trace of a start-up failure is there at debug level only", async () => {
    const port = await deadPort();
    const bot = start({ REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: "debug" });
    expect((await bot.waitForExit(30_000)).code).toBe(EX_UNAVAILABLE);
    const detail = bot.logs.find((l) => l.msg === "start-up failure in detail");
    expect(detail?.level).toBe(20);
    expect((detail?.err as { stack?: string } | undefined)?.stack).toMatch(/RedisUnavailableError/);
    // The fatal line itself stays one line without a stack, and is the last line a normal log
    // level shows (debug detail may trail it: the logger writes asynchronously).
    const last = bot.logs.filter((l) => l.level > 20).at(-1)!;
    expect(last.level).toBe(FATAL);
    expect(last.msg).toMatch(/^could not start: REDIS_URL /);
    expect(last.err).toBeUndefined();
  });

  it("DATA_DIR is a regular file: exit 78 naming DATA_DIR, no stack, nothing logged", async () => {
    const file = path.join(dir(), "not-a-dir");
    writeFileSync(file, "x");
    const bot = start({}, file);
    expect((await bot.waitForExit(30_000)).code).toBe(EX_CONFIG);
    const stderr = bot.stderr();
    const line = stderr.split("\n").find((l) => l.includes("DATA_DIR"));
    expect(line).toContain(file);
    expect(line).toMatch(/is a file, not a directory: point DATA_DIR at a directory/);
    expect(stderr).toMatch(/\.env\.example/);
    expect(bot.stdout().trim()).toBe("");
    expectNoStack(bot);
  });

  it("DATA_DIR below a regular file: exit 78 naming DATA_DIR and the file in the way", async () => {
    const file = path.join(dir(), "plain-file");
    writeFileSync(file, "x");
    const bot = start({}, path.join(file, "data"));
    expect((await bot.waitForExit(30_000)).code).toBe(EX_CONFIG);
    expect(bot.stderr()).toMatch(new RegExp(`DATA_DIR .*/plain-file/data cannot be created: .*/plain-file is a file, not a directory`));
    expect(bot.stdout().trim()).toBe("");
    expectNoStack(bot);
  });

  it("DATABASE_PATH is a directory: exit 78, one line naming DATABASE_PATH", async () => {
    const dataDir = dir();
    const dbPath = path.join(dataDir, "bot.sqlite");
    mkdirSync(dbPath);
    const bot = start({ DATABASE_PATH: dbPath }, dataDir);
    expect((await bot.waitForExit(30_000)).code).toBe(EX_CONFIG);
    expect(theFatalLine(bot).msg).toContain(`DATABASE_PATH ${dbPath} cannot be opened`);
    expectNoStack(bot);
  });

  it("HTTP_PORT already taken: exit 78, one line naming HTTP_PORT", async () => {
    const holder = await holdPort();
    cleanups.push(() => new Promise<void>((resolve) => holder.server.close(() => resolve())));
    const bot = start({ HTTP_PORT: String(holder.port), HTTP_HOST: "127.0.0.1" });
    expect((await bot.waitForExit(30_000)).code).toBe(EX_CONFIG);
    expect(theFatalLine(bot).msg).toContain(`HTTP_PORT ${holder.port} is already in use`);
    expectNoStack(bot);
  });

  it("a bot token Telegram refuses: exit 78, one line naming TELEGRAM_BOT_TOKEN", async () => {
    const tg = await FakeTelegram.start();
    cleanups.push(() => tg.close());
    const bot = start({ TELEGRAM_BOT_TOKEN: "999999:WRONG-token-abcdefghijklmnopqrstuvwxy", TELEGRAM_API_ROOT: tg.apiRoot });
    expect((await bot.waitForExit(30_000)).code).toBe(EX_CONFIG);
    const fatal = theFatalLine(bot);
    expect(fatal.msg).toMatch(/Telegram refused TELEGRAM_BOT_TOKEN \(401 /);
    // The refused token itself is never printed.
    expect(bot.stdout()).not.toContain("WRONG-token");
    expectNoStack(bot);
  });

  it("anything else: exit 70 with the error's message on one line", async () => {
    // Not a database at all: nothing the bot could have foreseen.
    const dataDir = dir();
    writeFileSync(path.join(dataDir, "bot.sqlite"), "this is not an SQLite database, just text ".repeat(100));
    const bot = start({}, dataDir);
    expect((await bot.waitForExit(30_000)).code).toBe(EX_SOFTWARE);
    const fatal = theFatalLine(bot);
    expect(fatal.msg).toMatch(/not a database/);
    expect(fatal.msg).toMatch(/LOG_LEVEL=debug/);
    expectNoStack(bot);
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
