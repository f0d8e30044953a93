/**
 * One measured figure. `goal` is the goal from issue 11 (see shared/PERFORMANCE.md); a
 * figure without a goal is shown for context (growth curves, peer comparisons) and never
 * fails the run.
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  goal?: number;
  /** Which side of the goal is good: "lower" means value <= goal, "higher" value >= goal. */
  better: "lower" | "higher";
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function meets(r: BenchResult): boolean {
  if (r.goal === undefined) return true;
  if (!Number.isFinite(r.value)) return false;
  return r.better === "lower" ? r.value <= r.goal : r.value >= r.goal;
}

function show(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString("en-US");
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 1 || v === 0) return v.toFixed(2);
  return v.toPrecision(2);
}

export function formatResult(r: BenchResult): string {
  const tag = r.goal === undefined ? "info" : meets(r) ? "ok  " : "MISS";
  const unit = r.unit ? ` ${r.unit}` : "";
  const goal = r.goal === undefined ? "" : ` (goal ${r.better === "lower" ? "≤" : "≥"} ${show(r.goal)}${unit})`;
  return `${tag} ${r.name}: ${show(r.value)}${unit}${goal}`;
}

export function printResults(title: string, results: readonly BenchResult[]): void {
  console.log(`\n## ${title}`);
  for (const r of results) console.log(formatResult(r));
}
