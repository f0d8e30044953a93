import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, readEnvFile } from "../../src/config/load.js";
import { envSchema } from "../../src/config/schema.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const HEX_KEY = "a".repeat(64);

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("loadConfig defaults", () => {
  it("gives a complete working config from an empty environment", () => {
    const c = loadConfig({});
    expect(c.env).toBe("production");
    expect(c.log).toEqual({ level: "info", format: "json" });
    expect(c.upstox.apiBase).toBe("https://api.upstox.com");
    expect(c.upstox.hftBase).toBe("https://api-hft.upstox.com");
    expect(c.upstox.apiKey).toBeUndefined();
    expect(c.upstox.apiSecret).toBeUndefined();
    expect(c.upstox.redirectUri).toBeUndefined();
    expect(c.upstox.tokenEncryptionKey).toBeUndefined();
    expect(c.telegram).toEqual({ botToken: undefined, apiRoot: "https://api.telegram.org", adminIds: [], mode: "polling", webhookSecret: undefined });
    expect(c.pollIntervalSeconds).toBe(15);
    expect(c.shutdownTimeoutMs).toBe(9000);
    expect(c.workerConcurrency).toBe(16);
    expect(c.http).toEqual({ host: "127.0.0.1", port: 8080, publicUrl: "http://localhost:8080" });
    expect(c.redis).toEqual({ url: undefined, prefix: "uab" });
    expect(c.simulator).toEqual({ seed: 42, alwaysOpen: false });
    expect(c.backup.cron).toBe("30 2 * * *");
    expect(c.backup.retention).toBe(7);
    expect(c.email.smtpUrl).toBeUndefined();
    expect(c.email.from).toBe("Upstox Alert Bot <alerts@localhost>");
    expect(c.secrets).toEqual([]);
  });

  it("derives database and backup paths from DATA_DIR as absolute paths", () => {
    const c = loadConfig({ DATA_DIR: "/srv/bot" });
    expect(c.dataDir).toBe(path.resolve("/srv/bot"));
    expect(c.databasePath).toBe(path.resolve("/srv/bot/bot.sqlite"));
    expect(c.backup.dir).toBe(path.resolve("/srv/bot/backups"));

    const explicit = loadConfig({ DATA_DIR: "/srv/bot", DATABASE_PATH: "/var/db/x.sqlite", BACKUP_DIR: "/var/bk" });
    expect(explicit.databasePath).toBe(path.resolve("/var/db/x.sqlite"));
    expect(explicit.backup.dir).toBe(path.resolve("/var/bk"));
    expect(path.isAbsolute(loadConfig({ DATA_DIR: "rel/dir" }).dataDir)).toBe(true);
  });

  it("treats variables set to an empty string as unset, as .env.example's blank entries are", () => {
    const blank = loadConfig({
      LOG_LEVEL: "",
      LOG_FORMAT: "",
      NODE_ENV: "",
      DATA_DIR: "",
      HTTP_HOST: " ",
      QUEUE_PREFIX: "",
      EMAIL_FROM: "",
      POLL_INTERVAL: "",
      SMTP_URL: "",
      UPSTOX_API_KEY: "",
      TELEGRAM_BOT_TOKEN: "",
    });
    const empty = loadConfig({});
    expect(blank).toEqual(empty);
  });

  it("parses valid values into their typed forms", () => {
    const c = loadConfig({
      NODE_ENV: "development",
      LOG_LEVEL: "debug",
      LOG_FORMAT: "pretty",
      POLL_INTERVAL: " 3 ",
      HTTP_PORT: "0",
      SIMULATOR_ALWAYS_OPEN: "YES",
      ADMIN_TELEGRAM_IDS: "12, 34 ,56",
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_ROOT: "http://127.0.0.1:9999/",
      REDIS_URL: "redis://127.0.0.1:6380/2",
      UPSTOX_API_BASE: "http://127.0.0.1:4010///",
    });
    expect(c.env).toBe("development");
    expect(c.log).toEqual({ level: "debug", format: "pretty" });
    expect(c.pollIntervalSeconds).toBe(3);
    expect(c.http.port).toBe(0);
    expect(c.simulator.alwaysOpen).toBe(true);
    expect(c.telegram.adminIds).toEqual([12, 34, 56]);
    expect(c.telegram.botToken).toBe(BOT_TOKEN);
    // Trailing slashes are dropped so `${root}/bot…` never doubles them.
    expect(c.telegram.apiRoot).toBe("http://127.0.0.1:9999");
    expect(c.upstox.apiBase).toBe("http://127.0.0.1:4010");
    expect(c.redis.url).toBe("redis://127.0.0.1:6380/2");
  });

  it("lets overrides win over the environment", () => {
    const c = loadConfig({ POLL_INTERVAL: "20" }, { POLL_INTERVAL: "5" });
    expect(c.pollIntervalSeconds).toBe(5);
  });
});

describe("loadConfig validation", () => {
  it("reports every bad variable in one ConfigError, each naming the variable and the problem", () => {
    const err = configError({
      POLL_INTERVAL: "abc",
      HTTP_PORT: "70000",
      LOG_LEVEL: "loud",
      REDIS_URL: "http://x",
      ADMIN_TELEGRAM_IDS: "12,abc",
      TELEGRAM_BOT_TOKEN: "nope",
    });
    expect(err.name).toBe("ConfigError");
    expect(err.problems).toHaveLength(6);
    const byVar = (name: string) => {
      const found = err.problems.filter((p) => p.startsWith(`${name} `));
      expect(found, `a problem for ${name} in ${JSON.stringify(err.problems)}`).toHaveLength(1);
      return found[0]!;
    };
    expect(byVar("POLL_INTERVAL")).toMatch(/whole number.*"abc"/);
    expect(byVar("HTTP_PORT")).toMatch(/between 0 and 65535.*70000/);
    expect(byVar("LOG_LEVEL")).toMatch(/must be one of .*info/);
    expect(byVar("REDIS_URL")).toMatch(/redis:\/\/ or rediss:\/\//);
    expect(byVar("ADMIN_TELEGRAM_IDS")).toMatch(/numeric Telegram user ids.*"abc"/);
    expect(byVar("TELEGRAM_BOT_TOKEN")).toMatch(/BotFather/);
    // The message lists them all too, for the operator reading stderr.
    for (const p of err.problems) expect(err.message).toContain(p);
  });

  it("rejects out-of-range and malformed numbers, booleans, cron patterns and enums", () => {
    const err = configError({
      POLL_INTERVAL: "0",
      WORKER_CONCURRENCY: "1.5",
      BACKUP_RETENTION: "-1",
      SIMULATOR_ALWAYS_OPEN: "maybe",
      BACKUP_CRON: "every day",
      LOG_FORMAT: "xml",
      NODE_ENV: "staging",
      QUEUE_PREFIX: "has space",
      PUBLIC_URL: "ftp://example.com",
    });
    const names = err.problems.map((p) => p.split(" ")[0]).sort();
    expect(names).toEqual(
      [
        "BACKUP_CRON",
        "BACKUP_RETENTION",
        "LOG_FORMAT",
        "NODE_ENV",
        "POLL_INTERVAL",
        "PUBLIC_URL",
        "QUEUE_PREFIX",
        "SIMULATOR_ALWAYS_OPEN",
        "WORKER_CONCURRENCY",
      ].sort(),
    );
  });

  it("rejects an encryption key that is not 32 bytes", () => {
    const err = configError({ TOKEN_ENCRYPTION_KEY: "abcd" });
    expect(err.problems).toEqual([expect.stringMatching(/^TOKEN_ENCRYPTION_KEY must be 32 random bytes/)]);
    expect(loadConfig({ TOKEN_ENCRYPTION_KEY: HEX_KEY }).upstox.tokenEncryptionKey).toEqual(Buffer.alloc(32, 0xaa));
    const b64 = Buffer.alloc(32, 7).toString("base64");
    expect(loadConfig({ TOKEN_ENCRYPTION_KEY: b64 }).upstox.tokenEncryptionKey).toEqual(Buffer.alloc(32, 7));
  });
});

describe("Upstox credentials", () => {
  const trio = { UPSTOX_API_KEY: "my-key", UPSTOX_API_SECRET: "my-secret-value", UPSTOX_REDIRECT_URI: "https://bot.example.com/cb" };

  it("accepts all three with an encryption key", () => {
    const c = loadConfig({ ...trio, TOKEN_ENCRYPTION_KEY: HEX_KEY });
    expect(c.upstox.apiKey).toBe("my-key");
    expect(c.upstox.apiSecret).toBe("my-secret-value");
    expect(c.upstox.redirectUri).toBe("https://bot.example.com/cb");
    expect(c.secrets).toContain("my-secret-value");
    expect(c.secrets).toContain(HEX_KEY);
  });

  it("names each missing member of the trio when only one is set", () => {
    const err = configError({ UPSTOX_API_SECRET: "my-secret-value" });
    expect(err.problems).toHaveLength(2);
    expect(err.problems.some((p) => p.startsWith("UPSTOX_API_KEY is required"))).toBe(true);
    expect(err.problems.some((p) => p.startsWith("UPSTOX_REDIRECT_URI is required"))).toBe(true);
  });

  it("requires TOKEN_ENCRYPTION_KEY with the API key", () => {
    const err = configError(trio);
    expect(err.problems).toEqual([expect.stringMatching(/^TOKEN_ENCRYPTION_KEY is required when UPSTOX_API_KEY is set/)]);
  });

  it("still reports the cross-field problems when another variable is also bad", () => {
    const err = configError({ UPSTOX_API_KEY: "my-key", POLL_INTERVAL: "abc" });
    const names = err.problems.map((p) => p.split(" ")[0]).sort();
    expect(names).toEqual(["POLL_INTERVAL", "TOKEN_ENCRYPTION_KEY", "UPSTOX_API_SECRET", "UPSTOX_REDIRECT_URI"]);
  });
});

describe("secrets", () => {
  it("collects the bot token and the SMTP and Redis passwords", () => {
    const c = loadConfig({
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      SMTP_URL: "smtps://mailer:s%40fe-pass@smtp.example.com:465",
      REDIS_URL: "redis://default:redis-pw-123@127.0.0.1:6379",
    });
    expect(c.secrets).toContain(BOT_TOKEN);
    expect(c.secrets).toContain("s@fe-pass");
    expect(c.secrets).toContain("redis-pw-123");
    // The raw, percent-encoded form can show up in a logged URL too.
    expect(c.secrets).toContain("s%40fe-pass");
    expect(c.email.smtpUrl).toBe("smtps://mailer:s%40fe-pass@smtp.example.com:465");
  });

  it.each([
    ["an invalid port", "smtp://mailer:hunter2-secret@smtp.example.com:99999", "hunter2-secret"],
    ["a slash in the password", "smtp://mailer:pa/ss-secret@smtp.example.com:99999", "pa/ss-secret"],
    ["an @ in the password", "smtp://mailer:p@ss-secret@smtp.example.com:99999", "ss-secret"],
    ["no user name", "smtp://:hunter2-secret@smtp.example.com:99999", "hunter2-secret"],
  ])("never echoes the SMTP password of a malformed URL with %s", (_what, smtpUrl, secret) => {
    const err = configError({ SMTP_URL: smtpUrl });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^SMTP_URL must be a URL like smtp:\/\/host:port/);
    expect(err.message).not.toContain(secret);
    expect(JSON.stringify(err.problems)).not.toContain(secret);
    // The host part is still shown so the operator can find the mistake.
    expect(err.message).toContain("smtp.example.com:99999");
  });

  it("never echoes a malformed bot token, encryption key or wrong-scheme URL password", () => {
    const badToken = "123456789:short-but-secret";
    const err = configError({
      TELEGRAM_BOT_TOKEN: badToken,
      TOKEN_ENCRYPTION_KEY: "not-really-32-bytes-secret",
      REDIS_URL: "http://user:redis-secret-pw@host:6379",
    });
    expect(err.problems).toHaveLength(3);
    expect(err.message).not.toContain("short-but-secret");
    expect(err.message).not.toContain("not-really-32-bytes-secret");
    expect(err.message).not.toContain("redis-secret-pw");
  });
});

describe("readEnvFile", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("reads KEY=value pairs, ignoring comments, and returns {} for a missing file", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "uab-env-"));
    const file = path.join(dir, ".env");
    writeFileSync(file, '# comment\nPOLL_INTERVAL=7\nEMAIL_FROM="Bot <bot@example.com>"\nEMPTY=\n');
    expect(readEnvFile(file)).toEqual({ POLL_INTERVAL: "7", EMAIL_FROM: "Bot <bot@example.com>", EMPTY: "" });
    expect(readEnvFile(path.join(dir, "missing.env"))).toEqual({});
    const c = loadConfig({ ...readEnvFile(file), POLL_INTERVAL: "9" });
    expect(c.pollIntervalSeconds).toBe(9);
    expect(c.email.from).toBe("Bot <bot@example.com>");
  });
});

describe(".env.example", () => {
  // In zod 4, superRefine returns the object schema itself, so its shape is available directly.
  const schemaKeys = (): string[] => Object.keys(envSchema.shape);

  it("the schema exposes its variables", () => {
    const keys = schemaKeys();
    expect(keys.length).toBeGreaterThan(20);
    expect(keys).toContain("TELEGRAM_BOT_TOKEN");
    expect(keys).toContain("POLL_INTERVAL");
  });

  it("documents every variable the schema reads as NAME= at the start of a line", () => {
    const text = readFileSync(path.join(ROOT, ".env.example"), "utf8");
    const missing = schemaKeys().filter((k) => !new RegExp(`^${k}=`, "m").test(text));
    expect(missing).toEqual([]);
  });

  it("loads cleanly when copied verbatim as .env", () => {
    const env = readEnvFile(path.join(ROOT, ".env.example"));
    const c = loadConfig(env);
    expect(c).toEqual(loadConfig({}));
  });
});
