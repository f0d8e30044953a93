import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startNodeOptions } from "./production.js";
import type { BenchResult } from "./report.js";

interface WeekResult {
  instruments: number;
  rules: number;
  rulesAtEnd: number;
  days: number;
  polls: boolean;
  pollEvery: number;
  setupMs: number;
  weekMs: number;
  candleJobMsPerMinute: number;
  /** Mean time of one quote poll. */
  pollJobMs: number;
  fired: number;
  rssAtDayEnd: number[];
  heapUsedMb: number;
  arrayBuffersMb: number;
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

const here = path.dirname(fileURLToPath(import.meta.url));

/** Runs bench/week-process.js (compiled, beside this file) in a fresh node with `npm start`'s options and --expose-gc, and reads its result line. */
function runWeekProcess(options: readonly string[]): Promise<WeekResult> {
  const script = path.join(here, "week-process.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...options, "--expose-gc", script], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("WEEK_RESULT "));
      if (code !== 0 || !line) reject(new Error(`week process exited ${code}: ${(err || out).trim().split("\n").slice(-5).join(" | ")}`));
      else resolve(JSON.parse(line.slice("WEEK_RESULT ".length)) as WeekResult);
    });
  });
}

/**
 * RSS over a simulated trading week on the production start path (see week-process.ts):
 * 2,000 instruments × 50,000 rules, 5 days × 375 one-minute candles through the real candle
 * job, with a quote poll every 15 minutes (every minute would double the run time and hold
 * the same memory). RSS at the end of each day after a collection; the goals
 * are ≤ 200 MB after day 5 and flat (≤ 5 MB) from day 2 to day 5.
 */
export async function benchWeek(): Promise<BenchResult[]> {
  const options = startNodeOptions();
  const r = await runWeekProcess(options);
  const rss = r.rssAtDayEnd;
  const last = rss[rss.length - 1]!;
  const n = r.instruments.toLocaleString("en-US");
  const rules = r.rules.toLocaleString("en-US");
  const label = `${n} instruments × ${rules} rules (${r.rulesAtEnd.toLocaleString("en-US")} active at the end), ${r.days} days × 375 candles${r.polls ? `, a quote poll every ${r.pollEvery} min` : ""}`;
  return [
    {
      name: `RSS after the simulated week (${label}; node ${[...options, "--expose-gc"].join(" ")}; day ends: ${rss.map((x) => round(x)).join(", ")} MB)`,
      value: round(last),
      unit: "MB",
      goal: 200,
      better: "lower",
    },
    {
      name: `RSS growth, end of day ${Math.min(2, rss.length)} → end of day ${rss.length}`,
      value: round(last - rss[Math.min(1, rss.length - 1)]!),
      unit: "MB",
      goal: 5,
      better: "lower",
    },
    { name: `the week's run time (set-up ${round(r.setupMs / 1000)} s not included)`, value: round(r.weekMs / 1000), unit: "s", better: "lower" },
    {
      name: `candle job per minute (${n} candles stored, indicators stepped, candle rules evaluated)`,
      value: round(r.candleJobMsPerMinute),
      unit: "ms",
      better: "lower",
    },
    ...(r.polls ? [{ name: `quote poll job, mean (${n} quotes, ${rules} rules)`, value: round(r.pollJobMs), unit: "ms", better: "lower" as const }] : []),
    { name: `heap used after the week (alerts fired: ${r.fired.toLocaleString("en-US")})`, value: round(r.heapUsedMb), unit: "MB", better: "lower" },
  ];
}
