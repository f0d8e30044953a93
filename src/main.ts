import { startApp, type Role } from "./app.js";
import { ConfigError, loadConfig, readEnvFile, type Config } from "./config/load.js";
import { createLogger } from "./log/logger.js";

/** Defaults for `npm run demo`; anything set in the environment or .env still wins. */
const DEMO_DEFAULTS: Record<string, string> = {
  NODE_ENV: "development",
  LOG_FORMAT: "pretty",
  POLL_INTERVAL: "3",
  SIMULATOR_ALWAYS_OPEN: "true",
};

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
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = signal;
    if (!app) {
      log.info({ signal }, "signal received while starting: shutting down once started");
      return;
    }
    log.info({ signal }, "shutting down: draining workers");
    const force = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown took too long, exiting anyway");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    app
      .stop()
      .then(() => {
        log.info("stopped cleanly");
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, "error during shutdown");
        process.exit(1);
      });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));

  try {
    app = await startApp(config, { role: args.role, demo: args.demo, log });
  } catch (err) {
    log.fatal({ err }, `could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  if (stopping) {
    const signal = stopping;
    stopping = undefined;
    shutdown(signal);
  }
  // A bug in one handler must not take the bot down silently: log it and keep serving.
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));
}

void main();
