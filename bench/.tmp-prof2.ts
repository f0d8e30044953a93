import { InstrumentIndicators, DEFAULT_SPECS, specKey, type IndicatorSpec } from "../src/signals/indicators/index.js";
const gc = (globalThis as any).gc as () => void;
const I = 2000;
for (const s of [[] as IndicatorSpec[], ...DEFAULT_SPECS.map((s) => [s]), DEFAULT_SPECS]) {
  gc(); const m0 = process.memoryUsage();
  const inst = Array.from({ length: I }, () => new InstrumentIndicators(s));
  for (let r = 0; r < 800; r++) for (let i = 0; i < I; i++) inst[i]!.next({ ts: r * 60000, open: 100, high: 101 + (r % 3), low: 99 - (r % 2), close: 100 + (r % 5) - 2 + i / 1e4, volume: 1000 + r });
  gc(); const m1 = process.memoryUsage();
  console.log(s.length === 1 ? specKey(s[0]!) : `all(${s.length})`, ((m1.heapUsed - m0.heapUsed) / I).toFixed(0), "B heap/inst", ((m1.arrayBuffers - m0.arrayBuffers) / I).toFixed(0), "B ab/inst", inst.length);
}
