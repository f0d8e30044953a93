import { z } from "zod";

/**
 * Every setting the bot reads, in one place. Values come from the environment (and `.env`),
 * always as strings, so each field parses its own string form. `.env.example` documents
 * each one; keep the two in step (a test checks that).
 */

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      ctx.addIssue({ code: "custom", message: `must be true or false (got "${v}")` });
      return z.NEVER;
    });

const int = (fallback: number, min: number, max: number, unit = "") =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      if (!/^-?\d+$/.test(v)) {
        ctx.addIssue({ code: "custom", message: `must be a whole number${unit ? ` of${unit}` : ""} (got "${v}")` });
        return z.NEVER;
      }
      const n = Number(v);
      if (n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be between ${min} and ${max}${unit} (got ${n})` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v));

const url = (fallback: string | undefined, protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === "" ? fallback : v;
      if (value === undefined) return undefined;
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        ctx.addIssue({ code: "custom", message: `must be a URL like ${protocols[0]}//host:port (got "${redactUrl(value)}")` });
        return z.NEVER;
      }
      if (!protocols.includes(parsed.protocol)) {
        ctx.addIssue({
          code: "custom",
          message: `must start with ${protocols.map((p) => p + "//").join(" or ")} (got "${parsed.protocol}//…")`,
        });
        return z.NEVER;
      }
      return value.replace(/\/+$/, "");
    });

/** Shows a URL in an error message without the password it may carry. */
function redactUrl(value: string): string {
  // Everything between the user name and the last "@" is the password: a malformed URL may
  // carry one with "/", "@" or "#" in it, and an empty user name is legal.
  return value.replace(/\/\/([^:@/]*):.*@/, "//$1:***@");
}

const adminIds = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return [] as number[];
    const ids: number[] = [];
    for (const part of v
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (!/^\d{1,15}$/.test(part)) {
        ctx.addIssue({ code: "custom", message: `must be a comma-separated list of numeric Telegram user ids (bad entry "${part}")` });
        return z.NEVER;
      }
      ids.push(Number(part));
    }
    return ids;
  });

/** 32 bytes as 64 hex characters or base64. */
const encryptionKey = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === "") return undefined;
    const buf = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
    if (buf.length !== 32) {
      ctx.addIssue({
        code: "custom",
        message: "must be 32 random bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)",
      });
      return z.NEVER;
    }
    return buf;
  });

const cronPattern = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === "" ? fallback : v;
      const fields = value.split(/\s+/);
      if (fields.length < 5 || fields.length > 6 || !fields.every((f) => /^[\d*/,\-A-Za-z?LW#]+$/.test(f))) {
        ctx.addIssue({ code: "custom", message: `must be a cron pattern like "30 2 * * *" (got "${value}")` });
        return z.NEVER;
      }
      return value;
    });

/** An optional shared secret: 16 to `max` URL-safe characters. */
const secretToken = (max: number, why: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      if (!new RegExp(`^[A-Za-z0-9_-]{16,${max}}$`).test(v)) {
        ctx.addIssue({ code: "custom", message: `must be 16-${max} letters, digits, '_' or '-' (${why})` });
        return z.NEVER;
      }
      return v;
    });

export const envSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"], { message: "must be development, production or test" }).default("production"),
    LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    LOG_FORMAT: z.enum(["json", "pretty"], { message: "must be json or pretty" }).default("json"),

    DATA_DIR: z.string().trim().min(1).default("./data"),
    DATABASE_PATH: optionalString,
    BACKUP_DIR: optionalString,
    BACKUP_CRON: cronPattern("30 2 * * *"),
    BACKUP_RETENTION: int(7, 1, 365, " copies"),

    REDIS_URL: url(undefined, ["redis:", "rediss:"]),
    QUEUE_PREFIX: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, "must be 1-40 letters, digits, dot, dash or underscore")
      .default("uab"),
    WORKER_CONCURRENCY: int(16, 1, 64),

    HTTP_HOST: z.string().trim().min(1).default("127.0.0.1"),
    HTTP_PORT: int(8080, 0, 65535),
    PUBLIC_URL: url("http://localhost:8080", ["http:", "https:"]),

    POLL_INTERVAL: int(15, 1, 3600, " seconds"),
    MARKET_DATA_MODE: z
      .enum(["stream", "poll"], { message: "must be stream (WebSocket feeds, REST polling as the fallback) or poll (REST only)" })
      .default("stream"),
    FEED_STALL_SECONDS: int(15, 2, 300, " seconds"),
    CANDLE_RETENTION_DAYS: int(30, 1, 3650, " days"),
    SHUTDOWN_TIMEOUT: int(9, 1, 60, " seconds"),
    SIMULATOR_SEED: int(42, 0, 2 ** 31 - 1),
    SIMULATOR_ALWAYS_OPEN: bool(false),

    UPSTOX_API_BASE: url("https://api.upstox.com", ["https:", "http:"]),
    UPSTOX_HFT_BASE: url("https://api-hft.upstox.com", ["https:", "http:"]),
    UPSTOX_ASSETS_BASE: url("https://assets.upstox.com", ["https:", "http:"]),
    INSTRUMENT_FILES: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const raw = v === undefined || v.trim() === "" ? "NSE,BSE" : v;
        const files = raw
          .split(",")
          .map((f) => f.trim().toUpperCase())
          .filter(Boolean);
        const allowed = ["NSE", "BSE", "MCX", "COMPLETE"];
        const bad = files.filter((f) => !allowed.includes(f));
        if (bad.length || !files.length) {
          ctx.addIssue({ code: "custom", message: `must be a comma-separated list of NSE, BSE, MCX or complete (bad: "${bad.join(",") || raw}")` });
          return z.NEVER;
        }
        return [...new Set(files.map((f) => (f === "COMPLETE" ? "complete" : f)))] as Array<"NSE" | "BSE" | "MCX" | "complete">;
      }),
    UPSTOX_API_KEY: optionalString,
    UPSTOX_API_SECRET: optionalString,
    UPSTOX_REDIRECT_URI: url(undefined, ["https:", "http:"]),
    TOKEN_ENCRYPTION_KEY: encryptionKey,
    UPSTOX_WEBHOOK_SECRET: secretToken(128, "it becomes part of the postback URL"),
    UPSTOX_MARKET_DATA_USER: z
      .string()
      .trim()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === "") return undefined;
        if (!/^\d{1,15}$/.test(v)) {
          ctx.addIssue({ code: "custom", message: `must be the numeric Telegram user id of a linked trader (send /id to the bot to see yours; got "${v}")` });
          return z.NEVER;
        }
        return Number(v);
      }),

    TRADING_ENABLED: bool(false),
    TRADING_MAX_ORDER_VALUE: int(100_000, 1, 1_000_000_000, " rupees"),
    TRADING_MAX_ORDERS_PER_DAY: int(20, 1, 1000),
    ORDER_CARD_TTL_SECONDS: int(60, 10, 600, " seconds"),
    UPSTOX_ALGO_NAME: z
      .string()
      .trim()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === "") return undefined;
        if (!/^[A-Za-z0-9 _.-]{1,50}$/.test(v)) {
          ctx.addIssue({
            code: "custom",
            message: `must be the algo name registered with Upstox: 1-50 letters, digits, spaces, dot, dash or underscore (got "${v}")`,
          });
          return z.NEVER;
        }
        return v;
      }),

    TELEGRAM_BOT_TOKEN: z
      .string()
      .trim()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === "") return undefined;
        if (!/^\d+:[A-Za-z0-9_-]{20,}$/.test(v)) {
          ctx.addIssue({ code: "custom", message: "must look like 123456789:AA... (the token @BotFather gave you)" });
          return z.NEVER;
        }
        return v;
      }),
    TELEGRAM_API_ROOT: url("https://api.telegram.org", ["https:", "http:"]),
    ADMIN_TELEGRAM_IDS: adminIds,
    TELEGRAM_MODE: z.enum(["polling", "webhook"], { message: "must be polling or webhook" }).default("polling"),
    TELEGRAM_WEBHOOK_SECRET: secretToken(256, "Telegram's secret_token rules"),

    SMTP_URL: url(undefined, ["smtp:", "smtps:"]),
    EMAIL_FROM: z.string().trim().min(3).default("Upstox Alert Bot <alerts@localhost>"),
  })
  .superRefine(
    (env, ctx) => {
      const upstox = [env.UPSTOX_API_KEY, env.UPSTOX_API_SECRET, env.UPSTOX_REDIRECT_URI];
      if (upstox.some(Boolean) && !upstox.every(Boolean)) {
        for (const [name, value] of [
          ["UPSTOX_API_KEY", env.UPSTOX_API_KEY],
          ["UPSTOX_API_SECRET", env.UPSTOX_API_SECRET],
          ["UPSTOX_REDIRECT_URI", env.UPSTOX_REDIRECT_URI],
        ] as const) {
          if (!value)
            ctx.addIssue({
              code: "custom",
              path: [name],
              message: "is required when any of UPSTOX_API_KEY, UPSTOX_API_SECRET, UPSTOX_REDIRECT_URI is set",
            });
        }
      }
      if (env.TELEGRAM_MODE === "webhook" && !env.TELEGRAM_WEBHOOK_SECRET) {
        ctx.addIssue({
          code: "custom",
          path: ["TELEGRAM_WEBHOOK_SECRET"],
          message: "is required when TELEGRAM_MODE=webhook, so only Telegram can post updates to the bot",
        });
      }
      if (env.TELEGRAM_MODE === "webhook" && !env.TELEGRAM_BOT_TOKEN) {
        ctx.addIssue({ code: "custom", path: ["TELEGRAM_BOT_TOKEN"], message: "is required when TELEGRAM_MODE=webhook" });
      }
      if (env.UPSTOX_API_KEY && !env.TOKEN_ENCRYPTION_KEY) {
        ctx.addIssue({
          code: "custom",
          path: ["TOKEN_ENCRYPTION_KEY"],
          message: "is required when UPSTOX_API_KEY is set, to encrypt Upstox tokens at rest (generate one with: openssl rand -hex 32)",
        });
      }
      // Run even when other fields failed, so every problem is reported in one go. A field that
      // failed holds zod's NEVER marker (truthy), so it never adds a second, misleading issue.
    },
    { when: () => true },
  );

export type Env = z.output<typeof envSchema>;
