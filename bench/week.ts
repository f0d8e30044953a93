import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./report.js";

interface WeekResult {
  instruments: number;
  rules: number;
  days: number;
  polls: boolean;
  setupMs: number;
  weekMs: number;
  candleJobMsPerMinute: number;
  pollJobMsPerMinute: number;
  fired: number;
  rssAtDayEnd: number[];
  heapUsedMb: number;
  arrayBuffersMb: number;
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/** Runs bench/week-process.js (compiled, beside this file) in a fresh `node --expose-gc` and reads its result line. */
function runWeekProcess(): Promise<WeekResult> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "week-process.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", script], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
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
 * job, with a quote poll a minute. RSS at the end of each day after a collection; the goals
 * are ≤ 200 MB after day 5 and flat (≤ 5 MB) from day 2 to day 5.
 */
export async function benchWeek(): Promise<BenchResult[]> {
  const r = await runWeekProcess();
  const rss = r.rssAtDayEnd;
  const last = rss[rss.length - 1]!;
  const label = `${r.instruments.toLocaleString("en-US")} instruments × ${r.rules.toLocaleString("en-US")} rules, ${r.days} days × 375 candles${r.polls ? " and quote polls" : ""}`;
  return [
    {
      name: `RSS after the simulated week (${label}; day ends: ${rss.map((x) => round(x)).join(", ")} MB)`,
      value: round(last),
      unit: "MB",
      goal: 200,
      better: "lower",
    },
    { name: "RSS growth, end of day 2 → end of day 5", value: round(last - rss[Math.min(1, rss.length - 1)]!), unit: "MB", goal: 5, better: "lower" },
    { name: `the week's run time (set-up ${round(r.setupMs / 1000)} s not included)`, value: round(r.weekMs / 1000), unit: "s", better: "lower" },
    {
      name: "candle job per minute (2,000 candles stored, indicators stepped, candle rules evaluated)",
      value: round(r.candleJobMsPerMinute),
      unit: "ms",
      better: "lower",
    },
    ...(r.polls
      ? [{ name: "quote poll job per minute (2,000 quotes, 50,000 rules)", value: round(r.pollJobMsPerMinute), unit: "ms", better: "lower" as const }]
      : []),
    { name: `heap used after the week (alerts fired: ${r.fired.toLocaleString("en-US")})`, value: round(r.heapUsedMb), unit: "MB", better: "lower" },
  ];
}
