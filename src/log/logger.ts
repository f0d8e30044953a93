import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/**
 * Field names whose values are secrets wherever they appear (up to three levels deep,
 * which covers `{ req: { headers: { authorization } } }` and `{ user: { upstox: { token } } }`).
 */
const SECRET_KEYS = [
  "token",
  "accessToken",
  "access_token",
  "extended_token",
  "refreshToken",
  "botToken",
  "password",
  "pass",
  "secret",
  "apiSecret",
  "client_secret",
  "authorization",
  "Authorization",
  "cookie",
  "tokenEncryptionKey",
  "smtpUrl",
];

export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export interface LoggerSettings {
  level: string;
  format: "json" | "pretty";
  /** Literal secret values (bot token, API secret, …) scrubbed from every line, even inside messages. */
  secrets?: string[];
  /** Where lines go; defaults to stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const secrets = (settings.secrets ?? []).filter((s) => s.length >= 4);
  const options: LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    // Telegram puts the bot token in every API URL and error text; key-based redaction cannot
    // see inside strings, so known secret values are scrubbed from the finished line too.
    hooks: secrets.length ? { streamWrite: (line) => scrub(line, secrets) } : {},
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  if (settings.format === "pretty") {
    const stream = pretty({
      colorize: !settings.destination && process.stdout.isTTY,
      translateTime: "SYS:HH:MM:ss",
      ignore: "pid,hostname",
      destination: settings.destination ?? 1,
      sync: true,
    });
    return pino(options, stream);
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

export function scrub(line: string, secrets: string[]): string {
  let out = line;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[redacted]");
  // Bearer tokens and bot tokens we were not told about still look like themselves.
  return out
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, "$1[redacted]")
    .replace(/\/bot\d+:[A-Za-z0-9_-]{20,}/g, "/bot[redacted]");
}
