import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT, TEST_REDIS_URL, baseProcessEnv } from "./env.js";
import { waitUntil } from "./wait.js";

/** One parsed JSON log line from the bot (pino). */
export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [key: string]: unknown;
}

export interface BotProcess {
  child: ChildProcess;
  pid: number;
  /** Every stdout line that parsed as a JSON object, in order. */
  logs: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line (already seen or still to come) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs the process if it is still running; always safe to call. */
  kill(): Promise<void>;
}

/** What `npm start` runs: the build (`npm run build` writes it; see ensureBuilt). */
export const BUILT_MAIN = "dist/src/main.js";

/**
 * Starts the bot under a minimal environment: `src/main.ts` with tsx (development, the
 * default: no build needed), or with `compiled` the build exactly as `npm start` runs it
 * (call ensureBuilt first).
 */
export function spawnBot(args: string[], env: Record<string, string>, opts: { compiled?: boolean } = {}): BotProcess {
  const entry = opts.compiled ? [BUILT_MAIN] : ["--import", "tsx", "src/main.ts"];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: PROJECT_ROOT,
    env: baseProcessEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let partial = "";
  const logs: LogLine[] = [];
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    out += chunk;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const parsed = parseLogLine(line);
      if (parsed) logs.push(parsed);
    }
  });
  child.stderr.on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // "close", not "exit": exit can come before the last stdout chunk has been read here.
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  const bot: BotProcess = {
    child,
    pid: child.pid!,
    logs,
    stdout: () => out,
    stderr: () => err,
    waitForLog: async (pred, timeoutMs = 30_000, what = "a log line") => {
      let done = false;
      void exited.then(() => (done = true));
      return waitUntil(
        () => {
          const hit = logs.find(pred);
          if (hit) return hit;
          if (done) throw new Error(`process exited before ${what}; stderr:\n${err.slice(-2000)}\nstdout:\n${out.slice(-2000)}`);
          return undefined;
        },
        { timeoutMs, what },
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- stderr ---\n${err.slice(-2000)}\n--- stdout ---\n${out.slice(-3000)}`);
      });
    },
    exited,
    waitForExit: (timeoutMs) =>
      Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs).unref()),
      ]),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
  return bot;
}

export function parseLogLine(line: string): LogLine | undefined {
  const t = line.trim();
  if (!t.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (v && typeof v === "object" && typeof (v as LogLine).msg === "string") return v as LogLine;
  } catch {
    /* not a log line */
  }
  return undefined;
}

/** Environment for a bot process under test: JSON logs, an ephemeral HTTP port, its own data and queue prefix. */
export function botEnv(opts: { dataDir: string; prefix: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    NODE_ENV: "test",
    LOG_FORMAT: "json",
    LOG_LEVEL: "info",
    HTTP_PORT: "0",
    DATA_DIR: opts.dataDir,
    QUEUE_PREFIX: opts.prefix,
    REDIS_URL: TEST_REDIS_URL,
    ...opts.extra,
  };
}

/** The port from the "HTTP on http://..." log line. */
export async function httpPortOf(bot: BotProcess, timeoutMs = 30_000): Promise<number> {
  const line = await bot.waitForLog((l) => l.msg.startsWith("HTTP on ") && typeof l.port === "number", timeoutMs, "the HTTP on line");
  return line.port as number;
}

const BUILT_SOURCES = ["src", "handlers", "jobs", "templates", "tsconfig.json", "tsconfig.build.json"];

/** The newest modification time (ms) of a file or of any file under a directory. */
function newestMtime(file: string): number {
  const st = statSync(file);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, entry)));
  return newest;
}

/**
 * Makes sure dist/ holds a build of the sources as they are: runs `npm run build` when
 * dist/src/main.js is missing or older than any source (a clean clone, or an edit since), and
 * throws with tsc's output when the build fails. Takes about 10 s when it builds.
 */
export function ensureBuilt(): void {
  const main = path.join(PROJECT_ROOT, BUILT_MAIN);
  const builtAt = existsSync(main) ? statSync(main).mtimeMs : -1;
  const changedAt = Math.max(...BUILT_SOURCES.map((f) => newestMtime(path.join(PROJECT_ROOT, f))));
  if (builtAt >= changedAt) return;
  const tsc = path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: PROJECT_ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`the build (tsc -p tsconfig.build.json) failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}
