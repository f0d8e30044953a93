import type { BenchResult } from "./report.js";

export async function benchCandleStore(): Promise<BenchResult[]> {
  throw new Error("not written yet");
}
