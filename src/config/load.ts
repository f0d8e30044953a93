import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { envSchema, type Env } from "./schema.js";

export interface Config {
  env: Env["NODE_ENV"];
  log: { level: Env["LOG_LEVEL"]; format: Env["LOG_FORMAT"] };
  dataDir: string;
  databasePath: string;
  backup: { dir: string; cron: string; retention: number };
  redis: { url: string | undefined; prefix: string };
  workerConcurrency: number;
  http: { host: string; port: number; publicUrl: string };
  pollIntervalSeconds: number;
  /** Where live prices come from: the streaming feeds first (REST polls while they are down), or REST polls only. */
  marketData: { mode: "stream" | "poll"; stallSeconds: number };
  candleRetentionDays: number;
  shutdownTimeoutMs: number;
  simulator: { seed: number; alwaysOpen: boolean };
  upstox: {
    apiBase: string;
    hftBase: string;
    assetsBase: string;
    instrumentFiles: Array<"NSE" | "BSE" | "MCX" | "complete">;
    apiKey: string | undefined;
    apiSecret: string | undefined;
    redirectUri: string | undefined;
    tokenEncryptionKey: Buffer | undefined;
    /** Secret path segment of the order postback URL (PUBLIC_URL/upstox/orders/<secret>). */
    webhookSecret: string | undefined;
    /** Telegram user id whose Upstox token serves everyone's market data, while it is valid. */
    marketDataUser: number | undefined;
    /** Sent as X-Algo-Name on every order write when set (an algo registered with Upstox). */
    algoName: string | undefined;
  };
  /**
   * Trading from chat: off until the operator turns it on. The limits are the operator's
   * ceilings per trader; a trader may set lower ones for themselves (/limits).
   */
  trading: { enabled: boolean; maxOrderValue: number; maxOrdersPerDay: number; cardTtlMs: number };
  telegram: { botToken: string | undefined; apiRoot: string; adminIds: number[]; mode: "polling" | "webhook"; webhookSecret: string | undefined };
  email: { smtpUrl: string | undefined; from: string };
  /** Values that must never reach a log line, even inside an error message. */
  secrets: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Reads `.env` (if present) underneath the real environment: a variable set in the
 * environment always wins over the file, as operators expect from systemd or Docker.
 */
export function readEnvFile(file = ".env"): Record<string, string> {
  if (!existsSync(file)) return {};
  return parseEnv(readFileSync(file, "utf8")) as Record<string, string>;
}

/** Validates every setting at once and reports all problems together. */
export function loadConfig(env: Record<string, string | undefined>, overrides: Partial<Record<string, string>> = {}): Config {
  // A variable set to an empty string (`LOG_LEVEL=` in .env or a compose file) means "unset",
  // for every setting alike, not only the ones whose parser happens to treat "" as absent.
  const merged = Object.fromEntries(Object.entries({ ...env, ...overrides }).filter(([, v]) => typeof v === "string" && v.trim() !== ""));
  const result = envSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.map(String).join(".") || "(environment)";
      return `${name} ${issue.message.startsWith("must") || issue.message.startsWith("is ") ? issue.message : `is invalid: ${issue.message}`}`;
    });
    throw new ConfigError(problems);
  }
  const e = result.data;
  const dataDir = path.resolve(e.DATA_DIR);
  const secrets = [
    e.TELEGRAM_BOT_TOKEN,
    e.TELEGRAM_WEBHOOK_SECRET,
    e.UPSTOX_WEBHOOK_SECRET,
    e.UPSTOX_API_SECRET,
    e.TOKEN_ENCRYPTION_KEY?.toString("hex"),
    e.TOKEN_ENCRYPTION_KEY?.toString("base64"),
    ...passwordOf(e.SMTP_URL),
    ...passwordOf(e.REDIS_URL),
  ].filter((s): s is string => typeof s === "string" && s.length >= 4);

  return {
    env: e.NODE_ENV,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    dataDir,
    databasePath: path.resolve(e.DATABASE_PATH ?? path.join(dataDir, "bot.sqlite")),
    backup: { dir: path.resolve(e.BACKUP_DIR ?? path.join(dataDir, "backups")), cron: e.BACKUP_CRON, retention: e.BACKUP_RETENTION },
    redis: { url: e.REDIS_URL, prefix: e.QUEUE_PREFIX },
    workerConcurrency: e.WORKER_CONCURRENCY,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT, publicUrl: e.PUBLIC_URL! },
    pollIntervalSeconds: e.POLL_INTERVAL,
    marketData: { mode: e.MARKET_DATA_MODE, stallSeconds: e.FEED_STALL_SECONDS },
    candleRetentionDays: e.CANDLE_RETENTION_DAYS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT * 1000,
    simulator: { seed: e.SIMULATOR_SEED, alwaysOpen: e.SIMULATOR_ALWAYS_OPEN },
    upstox: {
      apiBase: e.UPSTOX_API_BASE!,
      hftBase: e.UPSTOX_HFT_BASE!,
      assetsBase: e.UPSTOX_ASSETS_BASE!,
      instrumentFiles: e.INSTRUMENT_FILES,
      apiKey: e.UPSTOX_API_KEY,
      apiSecret: e.UPSTOX_API_SECRET,
      redirectUri: e.UPSTOX_REDIRECT_URI,
      tokenEncryptionKey: e.TOKEN_ENCRYPTION_KEY,
      webhookSecret: e.UPSTOX_WEBHOOK_SECRET,
      marketDataUser: e.UPSTOX_MARKET_DATA_USER,
      algoName: e.UPSTOX_ALGO_NAME,
    },
    trading: {
      enabled: e.TRADING_ENABLED,
      maxOrderValue: e.TRADING_MAX_ORDER_VALUE,
      maxOrdersPerDay: e.TRADING_MAX_ORDERS_PER_DAY,
      cardTtlMs: e.ORDER_CARD_TTL_SECONDS * 1000,
    },
    telegram: {
      botToken: e.TELEGRAM_BOT_TOKEN,
      apiRoot: e.TELEGRAM_API_ROOT!,
      adminIds: e.ADMIN_TELEGRAM_IDS,
      mode: e.TELEGRAM_MODE,
      webhookSecret: e.TELEGRAM_WEBHOOK_SECRET,
    },
    email: { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM },
    secrets,
  };
}

/** A URL's password as written (percent-encoded) and as sent: either form can reach a log line. */
function passwordOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const p = new URL(url).password;
    if (!p) return [];
    let decoded = p;
    try {
      decoded = decodeURIComponent(p);
    } catch {
      // A stray "%" that is not an escape: the raw form is all there is.
    }
    return decoded === p ? [p] : [decoded, p];
  } catch {
    return [];
  }
}
