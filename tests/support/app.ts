import { startApp, type AppOptions, type RunningApp } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config/load.js";
import { createLogger, type Logger } from "../../src/log/logger.js";
import { randomBytes } from "node:crypto";
import { TEST_REDIS_URL } from "./env.js";

/** A pino logger that keeps its JSON lines in memory, parsed. */
export function capturingLog(level = "info"): { log: Logger; lines: Array<Record<string, unknown> & { msg: string }> } {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  const log = createLogger({
    level,
    format: "json",
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown> & { msg: string }) },
  });
  return { log, lines };
}

/** A silent pino logger, as the app expects one. */
export const silentLog = (): Logger => createLogger({ level: "silent", format: "json" });

/** A validated config for an in-process app: its own data dir and queue prefix, an ephemeral HTTP port. */
export function testConfig(opts: { dataDir: string; prefix: string; env?: Record<string, string | undefined> }): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    HTTP_PORT: "0",
    DATA_DIR: opts.dataDir,
    QUEUE_PREFIX: opts.prefix,
    REDIS_URL: TEST_REDIS_URL,
    POLL_INTERVAL: "3600",
    // Tests script prices through polls unless they test the feeds (MARKET_DATA_MODE=stream).
    MARKET_DATA_MODE: "poll",
    ...opts.env,
  });
}

/** Starts the app in this process with a silent logger unless one is given. */
export async function startTestApp(config: Config, opts: Partial<AppOptions> = {}): Promise<RunningApp> {
  return startApp(config, { role: "all", demo: false, log: silentLog(), ...opts });
}

export async function getJson(url: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** The settings that point the app at a FakeUpstox (both hosts, the assets host, its app credentials). */
export function upstoxEnv(fake: { apiBase: string; hftBase: string; clientId: string; clientSecret: string; redirectUri: string }): Record<string, string> {
  return {
    UPSTOX_API_BASE: fake.apiBase,
    UPSTOX_HFT_BASE: fake.hftBase,
    UPSTOX_ASSETS_BASE: fake.apiBase,
    UPSTOX_API_KEY: fake.clientId,
    UPSTOX_API_SECRET: fake.clientSecret,
    UPSTOX_REDIRECT_URI: fake.redirectUri,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
  };
}
