import { InstrumentIndicators, DEFAULT_SPECS, type IndicatorSpec } from "../src/signals/indicators/index.js";
const I = Number(process.argv[2] ?? 2000), R = 1000;
const s: IndicatorSpec[] = DEFAULT_SPECS;
const h0 = process.memoryUsage().heapUsed;
const inst = Array.from({ length: I }, () => new InstrumentIndicators(s));
const price = new Float64Array(I).fill(1000);
let t = performance.now();
for (let r = 0; r < R; r++) {
  if (r % 200 === 0) { console.log(r, ((performance.now() - t) * 1000 / (I * 200)).toFixed(2), "µs", ((process.memoryUsage().heapUsed - h0) / I / 1024).toFixed(1), "KB/inst"); t = performance.now(); }
  for (let i = 0; i < I; i++) { const p = price[i]!; const c = p * (1 + (Math.random() - 0.5) * 0.004); price[i] = c; inst[i]!.next({ ts: r * 60000, open: p, high: Math.max(p, c) + 0.1, low: Math.min(p, c) - 0.1, close: c, volume: 1000 + r }); }
}
