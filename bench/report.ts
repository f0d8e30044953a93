export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The figure the value is measured against. */
  limit: number;
  ratio: number;
  /** How the ratio should compare to 1, e.g. "<= 1.00". */
  target: string;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function meets(r: BenchResult): boolean {
  const [op, num] = r.target.split(" ") as [string, string];
  const t = Number(num);
  if (op === "<=") return r.ratio <= t;
  if (op === ">=") return r.ratio >= t;
  return Math.abs(r.ratio - t) < 1e-9;
}

export function printResults(title: string, results: readonly BenchResult[]): void {
  console.log(`\n## ${title}`);
  for (const r of results) {
    const v = r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(2);
    console.log(
      `${meets(r) ? "ok  " : "MISS"} ${r.name}: ${v} ${r.unit} vs ${r.limit} ${r.unit} -> ratio ${r.ratio < 0.1 && r.ratio > 0 ? r.ratio.toPrecision(2) : r.ratio.toFixed(2)} (target ${r.target})`,
    );
  }
}
