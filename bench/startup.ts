import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix, unusedPort } from "../tests/support/env.js";
import { startNodeOptions } from "./production.js";
import { percentile, type BenchResult } from "./report.js";

/** The project root: this file runs as dist-bench/bench/startup.js. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** What `npm start` runs (`npm run bench` builds it first). */
const MAIN = path.join(ROOT, "dist", "src", "main.js");
const RUNS = 5;
const POLL_MS = 20;
const GOAL_MS = 2000;

interface StartRun {
  /** Spawn → the first /healthz answered 200. */
  readyMs: number;
  /** Resident set of the idle demo process at that moment (Linux; NaN elsewhere). */
  rssMb: number;
  /** SIGTERM → the process ended with exit 0. */
  stopMs: number;
}

/** VmRSS of a process from /proc, in MB; NaN where there is no /proc. */
function rssMbOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * One start of `node <the options of npm start> dist/src/main.js --demo`, as `npm start` / Docker / systemd run it: from
 * the spawn until /healthz answers 200 (polled every 20 ms), then a SIGTERM that must end in
 * exit 0. The working directory is the data directory, so a developer's .env cannot change
 * what is measured; the process gets only the settings below (and the demo's defaults).
 */
async function startOnce(dataDir: string, prefix: string): Promise<StartRun> {
  const port = await unusedPort();
  const env: NodeJS.ProcessEnv = { DATA_DIR: dataDir, HTTP_PORT: String(port), REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG"]) if (process.env[k] !== undefined) env[k] = process.env[k];
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...startNodeOptions(), MAIN, "--demo"], { cwd: dataDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  // Drained as it comes (a full pipe would stall the process), kept short for error messages.
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let ended = false;
  void exited.then(() => (ended = true));
  const fail = (why: string) => new Error(`${why}; last output: ${output.trim().split("\n").slice(-5).join(" | ")}`);

  try {
    let readyMs = NaN;
    while (Number.isNaN(readyMs)) {
      if (ended) throw fail("the bot exited before /healthz answered 200");
      if (performance.now() - t0 > 30_000) throw fail("no /healthz 200 within 30 s");
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status === 200) readyMs = performance.now() - t0;
      } catch {
        // Not listening yet.
      }
      if (Number.isNaN(readyMs)) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const rssMb = rssMbOf(child.pid!);
    const stopAt = performance.now();
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000).unref())]);
    if (code !== 0) throw fail(`SIGTERM ended in ${code === "timeout" ? "no exit within 15 s" : `exit ${code}`}, not exit 0`);
    return { readyMs, rssMb, stopMs: performance.now() - stopAt };
  } finally {
    if (!ended) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}

const round = (x: number) => Math.round(x);
const median = (xs: readonly number[]) => percentile(xs, 50);

/**
 * Start → /healthz 200 on the production path (`node dist/src/main.js --demo`), five times
 * with a fresh DATA_DIR (migrations, the demo trader seeded, history warm-ups queued) and five
 * times restarting on the directory the fresh start left (a restart), each pair on its own
 * queue prefix at the test Redis.
 */
export async function benchStartup(): Promise<BenchResult[]> {
  if (!existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} is missing: run npm run build (npm run bench builds it)`);
  const fresh: StartRun[] = [];
  const restart: StartRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dataDir = mkdtempSync(path.join(tmpdir(), "uab-bench-start-"));
    const prefix = uniquePrefix();
    try {
      fresh.push(await startOnce(dataDir, prefix));
      restart.push(await startOnce(dataDir, prefix));
    } finally {
      await deletePrefix(prefix);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const ms = (runs: StartRun[]) => runs.map((r) => r.readyMs);
  const all = (runs: StartRun[]) => `runs: ${ms(runs).map(round).join(", ")} ms`;
  return [
    {
      name: `start → /healthz 200, fresh DATA_DIR, median of ${RUNS} (${all(fresh)})`,
      value: round(median(ms(fresh))),
      unit: "ms",
      goal: GOAL_MS,
      better: "lower",
    },
    { name: "start → /healthz 200, fresh DATA_DIR, slowest", value: round(Math.max(...ms(fresh))), unit: "ms", better: "lower" },
    {
      name: `start → /healthz 200, existing DATA_DIR (a restart), median of ${RUNS} (${all(restart)})`,
      value: round(median(ms(restart))),
      unit: "ms",
      goal: GOAL_MS,
      better: "lower",
    },
    { name: "start → /healthz 200, existing DATA_DIR, slowest", value: round(Math.max(...ms(restart))), unit: "ms", better: "lower" },
    {
      name: "RSS of the idle demo process at /healthz 200 (fresh DATA_DIR, median)",
      value: round(median(fresh.map((r) => r.rssMb))),
      unit: "MB",
      better: "lower",
    },
    {
      name: "SIGTERM → exit 0 right after start (median of all runs)",
      value: round(median([...fresh, ...restart].map((r) => r.stopMs))),
      unit: "ms",
      better: "lower",
    },
  ];
}
