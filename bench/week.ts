import type { BenchResult } from "./report.js";

export async function benchWeek(): Promise<BenchResult[]> {
  throw new Error("not written yet");
}
