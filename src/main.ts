import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { GrammyError, HttpError } from "grammy";
import { startApp, type Role } from "./app.js";
import { ConfigError, loadConfig, readEnvFile, type Config } from "./config/load.js";
import { createLogger } from "./log/logger.js";
import { RedisUnavailableError } from "./redis/connect.js";

/** Defaults for `npm run demo`; anything set in the environment or .env still wins. */
const DEMO_DEFAULTS: Record<string, string> = {
  NODE_ENV: "development",
  LOG_FORMAT: "pretty",
  POLL_INTERVAL: "3",
  SIMULATOR_ALWAYS_OPEN: "true",
};

/**
 * Exit codes (sysexits.h), documented in README.md ("Running it for real"):
 * 0 stopped cleanly; 1 the shutdown failed or took longer than SHUTDOWN_TIMEOUT;
 * 69 a service the bot needs (Redis) is unavailable; 70 an unexpected error while starting;
 * 78 a configuration problem (a bad setting, argument, DATA_DIR, HTTP port, bot token).
 */
const EX_UNAVAILABLE = 69;
const EX_SOFTWARE = 70;
const EX_CONFIG = 78;
const USAGE = "usage: main [--demo] [--role=all|worker]";

function parseArgs(argv: string[]): { role: Role; demo: boolean } {
  let role: Role = "all";
  let demo = false;
  for (const arg of argv) {
    if (arg === "--demo") demo = true;
    else if (arg.startsWith("--role=")) {
      const r = arg.slice("--role=".length);
      if (r !== "all" && r !== "worker") throw new ConfigError([`--role must be all or worker (got "${r}")`]);
      role = r;
    } else throw new ConfigError([`unknown argument "${arg}" (${USAGE})`]);
  }
  return { role, demo };
}

async function main(): Promise<void> {
  let config: Config;
  let args: { role: Role; demo: boolean };
  try {
    args = parseArgs(process.argv.slice(2));
    // The demo's few defaults beat .env (a copied .env.example would otherwise turn the demo off at night) but not the real environment.
    const env = { ...readEnvFile(), ...(args.demo ? DEMO_DEFAULTS : {}), ...process.env };
    config = loadConfig(env);
    const dirProblem = dataDirProblem(config.dataDir);
    if (dirProblem) throw new ConfigError([dirProblem]);
  } catch (err) {
    if (err instanceof ConfigError) {
      // exitCode, not exit(): on macOS a piped stderr is asynchronous and exit() could cut the message off.
      process.stderr.write(`${err.message}\n\nSee .env.example for every setting and its format.\n`);
      process.exitCode = EX_CONFIG;
      return;
    }
    throw err;
  }

  const log = createLogger({ level: config.log.level, format: config.log.format, secrets: config.secrets });

  // Signals are ours from here on, also while starting: a SIGTERM during startup must not kill
  // the process before startApp has handed back what it opened (a private redis-server would
  // be orphaned); the shutdown then runs as soon as the start finishes.
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  let stopping: string | undefined;
  let force: NodeJS.Timeout | undefined;
  let signalledAt = 0;
  const shutdown = (signal: string) => {
    signalledAt ||= Date.now();
    // The budget runs from the signal, also when it comes while starting: a start that hangs
    // (Redis gone mid-start) still ends within SHUTDOWN_TIMEOUT. The app's own stop keeps
    // inside it, so this only fires if something outside the app holds the process.
    force ??= setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown took too long, exiting anyway");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    if (stopping) return;
    stopping = signal;
    if (!app) {
      log.info({ signal }, "signal received while starting: shutting down once started");
      return;
    }
    log.info({ signal }, "shutting down: draining workers");
    // stop() never rejects: what could not close politely was dropped, and said so.
    void app.stop(Math.max(1000, config.shutdownTimeoutMs - (Date.now() - signalledAt))).then(() => {
      log.info("stopped cleanly");
      process.exit(0);
    });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));

  try {
    app = await startApp(config, { role: args.role, demo: args.demo, log });
  } catch (err) {
    const failure = describeStartFailure(err, config);
    // One line naming the cause and the fix; the stack only for whoever runs at debug level.
    log.debug({ err }, "start-up failure in detail");
    log.fatal(`could not start: ${failure.message}`);
    // exitCode, not exit(), so the line above is not cut off (see the ConfigError case); a
    // handle startApp failed to close must not keep a failed start alive, though.
    process.exitCode = failure.exitCode;
    setTimeout(() => process.exit(failure.exitCode), 2000).unref();
    return;
  }
  if (stopping) {
    const signal = stopping;
    stopping = undefined;
    shutdown(signal);
  }
  // A bug in one handler must not take the bot down silently: log it and keep serving.
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));
}

/**
 * DATA_DIR must be a directory this process may write in, or one it can create: the first
 * problem in the way, as a config problem naming DATA_DIR, or undefined when there is none.
 */
function dataDirProblem(dir: string): string | undefined {
  const fix = "point DATA_DIR at a directory this user can write (it is created if missing)";
  let existing = dir;
  let stats;
  for (;;) {
    try {
      stats = statSync(existing);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: some parent is a file; the walk up finds which.
      if (code !== "ENOENT" && code !== "ENOTDIR") return `DATA_DIR ${dir} cannot be used (${(err as Error).message}): ${fix}`;
      const parent = path.dirname(existing);
      if (parent === existing) return undefined;
      existing = parent;
    }
  }
  const self = existing === dir;
  if (!stats.isDirectory()) {
    return self ? `DATA_DIR ${dir} is a file, not a directory: ${fix}` : `DATA_DIR ${dir} cannot be created: ${existing} is a file, not a directory; ${fix}`;
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    return self ? `DATA_DIR ${dir} is not writable by this user: ${fix}` : `DATA_DIR ${dir} cannot be created: no permission to write in ${existing}; ${fix}`;
  }
  return undefined;
}

/** Why startApp failed, as one line naming the cause and the fix, and the exit code for it. */
function describeStartFailure(err: unknown, config: Config): { exitCode: number; message: string } {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, "; ").trim();
  if (err instanceof RedisUnavailableError) return { exitCode: EX_UNAVAILABLE, message: oneLine(err.message) };
  if (err instanceof ConfigError) return { exitCode: EX_CONFIG, message: oneLine(err.problems.join("; ")) };
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.syscall === "listen") {
    const where = `${config.http.host}:${config.http.port}`;
    if (e.code === "EADDRINUSE")
      return {
        exitCode: EX_CONFIG,
        message: `HTTP_PORT ${config.http.port} is already in use on ${config.http.host}: stop whatever listens on ${where} or set HTTP_PORT to a free port (0 picks one)`,
      };
    if (e.code === "EADDRNOTAVAIL")
      return {
        exitCode: EX_CONFIG,
        message: `HTTP_HOST ${config.http.host} is not an address of this machine: set HTTP_HOST to one (127.0.0.1, or 0.0.0.0 for all)`,
      };
    if (e.code === "EACCES")
      return { exitCode: EX_CONFIG, message: `not allowed to listen on ${where} (ports below 1024 need privileges): set HTTP_PORT to 1024 or above` };
  }
  // DATA_DIR was fine a moment ago (dataDirProblem); something under it, or elsewhere, is not.
  if (typeof e?.path === "string" && ["EACCES", "EPERM", "EROFS", "ENOTDIR", "EEXIST", "EISDIR"].includes(e.code ?? "")) {
    const failedPath = e.path;
    const under = (dir: string) => failedPath === dir || failedPath.startsWith(dir + path.sep);
    const name = under(config.backup.dir)
      ? "BACKUP_DIR"
      : failedPath === config.databasePath || failedPath === path.dirname(config.databasePath)
        ? "DATABASE_PATH"
        : under(config.dataDir)
          ? "DATA_DIR"
          : undefined;
    const why =
      e.code === "EEXIST" || e.code === "ENOTDIR"
        ? "a file is in the way"
        : e.code === "EISDIR"
          ? "it is a directory"
          : e.code === "EROFS"
            ? "read-only file system"
            : "permission denied";
    if (name) return { exitCode: EX_CONFIG, message: `${name}: cannot use ${failedPath} (${why}): point ${name} at a location this user can write` };
  }
  if (e?.code === "SQLITE_CANTOPEN") {
    return {
      exitCode: EX_CONFIG,
      message: `DATABASE_PATH ${config.databasePath} cannot be opened as an SQLite file: point DATABASE_PATH (or DATA_DIR) at a writable location`,
    };
  }
  if (err instanceof GrammyError && err.method === "getMe" && (err.error_code === 401 || err.error_code === 404)) {
    return {
      exitCode: EX_CONFIG,
      message: `Telegram refused TELEGRAM_BOT_TOKEN (${err.error_code} ${err.description}): set it to the token @BotFather gave you`,
    };
  }
  if (err instanceof HttpError) {
    return {
      exitCode: EX_UNAVAILABLE,
      message: `Telegram could not be reached at ${config.telegram.apiRoot} (${oneLine(err.message)}): check the network, or TELEGRAM_API_ROOT`,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EX_SOFTWARE, message: `${oneLine(message)} (unexpected: LOG_LEVEL=debug logs the stack trace)` };
}

void main();
