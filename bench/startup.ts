import type { BenchResult } from "./report.js";

export async function benchStartup(): Promise<BenchResult[]> {
  throw new Error("not written yet");
}
