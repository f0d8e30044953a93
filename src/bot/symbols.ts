import type { InstrumentRepository } from "../db/repositories/instruments.js";
import type { InstrumentInfo } from "../market/types.js";

export type SymbolLookup = { ok: true; instrument: InstrumentInfo } | { ok: false; input: string; suggestions: string[] };

const SYMBOL_RE = /^[A-Za-z0-9&_.-]{1,30}$/;

/** Levenshtein distance, bounded: enough to rank a handful of candidates. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/**
 * `RELIANCE` -> its NSE instrument. On a miss, suggestions from symbols sharing a prefix,
 * ranked by edit distance, so `RELIANC` or `RELAINCE` gets "did you mean RELIANCE?".
 */
export function resolveSymbol(repo: InstrumentRepository, input: string): SymbolLookup {
  const symbol = input.trim().toUpperCase();
  if (!SYMBOL_RE.test(symbol)) return { ok: false, input, suggestions: [] };
  const hit = repo.findBySymbol(symbol);
  if (hit) return { ok: true, instrument: hit };
  const candidates = new Map<string, number>();
  for (let len = Math.min(symbol.length, 4); len >= 1 && candidates.size < 40; len--) {
    for (const c of repo.searchByPrefix(symbol.slice(0, len), 40)) {
      if (!candidates.has(c.tradingSymbol)) candidates.set(c.tradingSymbol, editDistance(symbol, c.tradingSymbol.toUpperCase()));
    }
  }
  const suggestions = [...candidates]
    .filter(([, d]) => d <= Math.max(2, Math.floor(symbol.length / 3)))
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([s]) => s);
  return { ok: false, input, suggestions };
}

export function symbolMissMessage(miss: { input: string; suggestions: string[] }): string {
  const shown = miss.input.length > 30 ? `${miss.input.slice(0, 30)}…` : miss.input;
  return miss.suggestions.length
    ? `I don't know the symbol "${shown}". Did you mean ${miss.suggestions.join(", ")}?`
    : `I don't know the symbol "${shown}". Use the NSE trading symbol, e.g. RELIANCE or INFY.`;
}
