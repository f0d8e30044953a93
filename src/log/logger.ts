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
  const secrets = secretForms((settings.secrets ?? []).filter((s) => s.length >= 4));
  const options: LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    // Telegram puts the bot token in every API URL and error text; key-based redaction cannot
    // see inside strings, so known secret values (and anything shaped like a Bearer or bot
    // token, configured or not) are scrubbed from the finished line too.
    hooks: { streamWrite: (line) => scrub(line, secrets) },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  if (settings.format === "pretty") {
    // Prettify each (already scrubbed) line synchronously: works with any `{ write }`
    // destination, and a line is on its way out before the call that logged it returns.
    const prettify = pretty.prettyFactory({
      colorize: !settings.destination && process.stdout.isTTY === true,
      translateTime: "SYS:HH:MM:ss",
      ignore: "pid,hostname",
    });
    const out = settings.destination ?? pino.destination({ dest: 1, sync: true });
    return pino(options, { write: (line: string) => void out.write(prettify(line)) });
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/**
 * A secret as it appears inside a JSON log line: quotes, backslashes and control characters
 * are escaped there, so a password like `pa"ss` must be looked for as `pa\"ss` too.
 */
function secretForms(secrets: string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

export function scrub(line: string, secrets: string[]): string {
  let out = line;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[redacted]");
  // Bearer tokens and bot tokens we were not told about still look like themselves.
  return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, "$1[redacted]").replace(/\/bot\d+:[A-Za-z0-9_-]{20,}/g, "/bot[redacted]");
}
