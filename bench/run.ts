import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import path from "node:path";
import { benchCandleStore } from "./candle-store.js";
import { benchCharts } from "./charts.js";
import { benchDelivery } from "./delivery.js";
import { benchIndicators } from "./indicators.js";
import { benchPipeline } from "./pipeline.js";
import { formatResult, meets, printResults, type BenchResult } from "./report.js";
import { benchStartup } from "./startup.js";
import { benchStream } from "./stream.js";
import { benchUpstoxQuotes } from "./upstox-quotes.js";
import { benchWeek } from "./week.js";

interface Section {
  id: string;
  title: string;
  run: () => Promise<BenchResult[]>;
}

/**
 * In the order they run: the ones that hold a lot of memory go last but one, delivery last.
 * The stream section starts whole apps with 50,000 rules each; run before the candle store,
 * the heap it leaves made the candle read's p50 0.77 → 1.38 ms.
 */
const SECTIONS: readonly Section[] = [
  { id: "startup", title: "Start-up: `node dist/src/main.js` to /healthz 200 (production path)", run: () => benchStartup() },
  { id: "quotes", title: "Upstox quotes: batching and parsing (5,000 instruments)", run: () => benchUpstoxQuotes(5000) },
  { id: "pipeline", title: "Price rules: quote batch to outbox rows (2,000 instruments)", run: () => benchPipeline() },
  { id: "indicators", title: "Indicators: one closed candle for 2,000 instruments through IndicatorEngine.onCandle", run: () => benchIndicators() },
  { id: "charts", title: "Charts: a 1,000-candle chart rendered to PNG", run: () => benchCharts() },
  { id: "candles", title: "Candle store: live inserts, recent reads, prune (2M rows)", run: () => benchCandleStore() },
  { id: "stream", title: "Real-time path: feed frames decoded, a tick to the outbox and to Telegram (2,000 × 50,000 rules)", run: () => benchStream() },
  { id: "week", title: "Memory: a simulated trading week, 2,000 instruments × 50,000 rules (production path)", run: () => benchWeek() },
  { id: "delivery", title: "Telegram delivery against the fake Bot API with its flood limits", run: () => benchDelivery() },
];

function parseArgs(argv: readonly string[]): { only: Set<string> | undefined; json: string | undefined } {
  let only: Set<string> | undefined;
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") json = argv[i + 1] && !argv[i + 1]!.startsWith("--") ? argv[++i]! : "bench-results.json";
    else if (a.startsWith("--json=")) json = a.slice("--json=".length);
    else if (a === "--only") only = new Set((argv[++i] ?? "").split(","));
    else if (a.startsWith("--only=")) only = new Set(a.slice("--only=".length).split(","));
    else {
      console.error(`unknown argument ${a}; usage: npm run bench -- [--only ${SECTIONS.map((s) => s.id).join(",")}] [--json [FILE]]`);
      process.exit(2);
    }
  }
  if (only) {
    const unknown = [...only].filter((id) => !SECTIONS.some((s) => s.id === id));
    if (unknown.length) {
      console.error(`unknown section ${unknown.join(", ")}; sections: ${SECTIONS.map((s) => s.id).join(", ")}`);
      process.exit(2);
    }
  }
  return { only, json };
}

/** `npm run bench`: every figure against its goal; exits 1 when one misses. */
async function main(): Promise<void> {
  const { only, json } = parseArgs(process.argv.slice(2));
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`Machine: ${machine}`);
  const sections: { id: string; title: string; results: BenchResult[] }[] = [];
  for (const s of SECTIONS) {
    if (only && !only.has(s.id)) continue;
    let results: BenchResult[];
    try {
      results = await s.run();
    } catch (err) {
      // A section that cannot run is a miss, not a crash that hides the other figures.
      results = [{ name: `${s.id} could not run: ${(err as Error).message}`, value: NaN, unit: "", goal: 0, better: "lower" }];
    }
    printResults(s.title, results);
    sections.push({ id: s.id, title: s.title, results });
  }
  const all = sections.flatMap((s) => s.results);
  const goals = all.filter((r) => r.goal !== undefined);
  const missed = goals.filter((r) => !meets(r));
  console.log(`\n${goals.length - missed.length} of ${goals.length} figures at their goals`);
  for (const r of missed) console.log(`  ${formatResult(r)}`);
  if (json) {
    const file = path.resolve(json);
    mkdirSync(path.dirname(file), { recursive: true });
    const figures = sections.flatMap((s) => s.results.map((r) => ({ section: s.id, ...r, met: meets(r) })));
    writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), machine, figures }, null, 2) + "\n");
    console.log(`figures written to ${file}`);
  }
  process.exitCode = missed.length ? 1 : 0;
}

void main();
