import type { Frequency, RuleKind, RuleParams } from "../signals/rules.js";
import { editDistance } from "./symbols.js";

/** What `/alert SYMBOL ...` asks for, before the symbol is resolved. */
export interface AlertRequest {
  symbol: string;
  /** `cross` without a direction is resolved against the current price by the handler. */
  kind: RuleKind | "cross";
  params: RuleParams;
  frequency: Frequency;
  cooldownSeconds: number;
  expiresInMs: number | undefined;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const ALERT_WORDS = ["above", "below", "cross", "change", "rsi", "macd", "ema", "sma", "bb", "volume"];

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

/** "1,450.50" or "₹1450" -> 1450.5; undefined when not a sane positive price. */
export function parsePrice(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const clean = s.replace(/^₹|^rs\.?/i, "").replace(/,/g, "");
  if (!/^\d+(\.\d{1,2})?$/.test(clean)) return undefined;
  const n = Number(clean);
  return n > 0 && n <= 10_000_000 ? n : undefined;
}

/** "30m", "2h", "1d", "90s" -> ms. */
export function parseDuration(s: string | undefined): number | undefined {
  const m = /^(\d{1,4})(s|m|min|h|d)$/i.exec(s ?? "");
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const ms = n * (unit === "s" ? 1000 : unit === "h" ? 3_600_000 : unit === "d" ? 86_400_000 : 60_000);
  return ms > 0 && ms <= 365 * 86_400_000 ? ms : undefined;
}

const int = (s: string | undefined, min: number, max: number) => {
  if (!s || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= min && n <= max ? n : undefined;
};
const num = (s: string | undefined, min: number, max: number) => {
  if (!s || !/^\d+(\.\d+)?$/.test(s)) return undefined;
  const n = Number(s);
  return n >= min && n <= max ? n : undefined;
};

/** Parses the words after /alert. Every rejection says what was wrong in plain words. */
export function parseAlert(text: string): ParseResult<AlertRequest> {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2) return fail(words.length ? "Tell me what to watch for after the symbol." : "Which symbol, and what should I watch for?");
  const symbol = words[0]!;
  const w = words.slice(1).map((x) => x.toLowerCase());

  // Options at the end: once | bar | every [5m] | expires|for 2d
  let frequency: Frequency = "once";
  let cooldownSeconds = 0;
  let expiresInMs: number | undefined;
  for (;;) {
    const last = w.at(-1);
    const prev = w.at(-2);
    if (last === "once" || last === "bar") {
      frequency = last === "once" ? "once" : "once_per_bar";
      w.pop();
    } else if (last === "every") {
      frequency = "every";
      cooldownSeconds = 300;
      w.pop();
    } else if (prev === "every" && parseDuration(last) !== undefined) {
      frequency = "every";
      cooldownSeconds = Math.round(parseDuration(last)! / 1000);
      w.splice(-2);
    } else if ((prev === "expires" || prev === "for") && last !== undefined) {
      expiresInMs = parseDuration(last);
      if (expiresInMs === undefined) return fail(`"${last}" is not a duration: use e.g. 30m, 2h or 5d.`);
      w.splice(-2);
    } else break;
  }

  const [a, b, c, d, e] = w;
  const base = { symbol, frequency, cooldownSeconds, expiresInMs };
  switch (a) {
    case "above":
    case "below": {
      const level = parsePrice(b);
      if (level === undefined) return fail(`"${b ?? ""}" is not a price: use a number like 1450 or 1450.50.`);
      if (c !== undefined) return fail(`I didn't understand "${c}" after the price.`);
      return { ok: true, value: { ...base, kind: a === "above" ? "price_above" : "price_below", params: { level } } };
    }
    case "cross":
    case "crosses": {
      const dir = b === "up" || b === "above" ? "up" : b === "down" || b === "below" ? "down" : undefined;
      const priceWord = dir ? c : b;
      const level = parsePrice(priceWord);
      if (level === undefined) return fail(`"${priceWord ?? ""}" is not a price: use a number like 1450.`);
      if ((dir ? d : c) !== undefined) return fail(`I didn't understand "${dir ? d : c}" after the price.`);
      return { ok: true, value: { ...base, kind: dir === "up" ? "cross_up" : dir === "down" ? "cross_down" : "cross", params: { level } } };
    }
    case "change":
    case "move": {
      const pct = num(b?.replace(/%$/, ""), 0.1, 50);
      if (pct === undefined) return fail(`"${b ?? ""}" is not a percent between 0.1 and 50, e.g. 3%.`);
      return { ok: true, value: { ...base, kind: "change_pct", params: { pct } } };
    }
    case "rsi": {
      if (b !== "above" && b !== "below") return fail('After "rsi" say above or below, e.g. rsi below 30.');
      const level = num(c, 1, 99);
      if (level === undefined) return fail(`"${c ?? ""}" is not an RSI level between 1 and 99.`);
      let period = 14;
      if (d === "period") {
        const p = int(e, 2, 200);
        if (p === undefined) return fail(`"${e ?? ""}" is not an RSI period between 2 and 200.`);
        period = p;
      } else if (d !== undefined) return fail(`I didn't understand "${d}": add "period 14" or nothing.`);
      return { ok: true, value: { ...base, kind: b === "above" ? "rsi_above" : "rsi_below", params: { level, period } } };
    }
    case "macd": {
      if (b !== "up" && b !== "down") return fail('After "macd" say up or down (the MACD line crossing its signal line).');
      return { ok: true, value: { ...base, kind: b === "up" ? "macd_cross_up" : "macd_cross_down", params: {} } };
    }
    case "ema":
    case "sma": {
      const fast = int(b, 2, 400);
      const slow = int(c, 3, 400);
      if (fast === undefined || slow === undefined) return fail(`Give two periods, e.g. ${a} 9 21 up.`);
      if (fast >= slow) return fail(`The first ${a.toUpperCase()} period must be shorter than the second (got ${fast} and ${slow}).`);
      if (d !== "up" && d !== "down") return fail(`End with up or down: ${a} ${fast} ${slow} up means ${a.toUpperCase()} ${fast} crossing above ${a.toUpperCase()} ${slow}.`);
      return { ok: true, value: { ...base, kind: d === "up" ? "ma_cross_up" : "ma_cross_down", params: { ma: a, fast, slow } } };
    }
    case "bb":
    case "bollinger": {
      if (b !== "up" && b !== "down") return fail('After "bb" say up or down (a close above the upper or below the lower band).');
      return { ok: true, value: { ...base, kind: b === "up" ? "bb_break_up" : "bb_break_down", params: { period: 20, stdDev: 2 } } };
    }
    case "volume": {
      const multiple = num(b?.replace(/x$/, ""), 1.5, 100);
      if (multiple === undefined) return fail(`"${b ?? ""}" is not a multiple between 1.5 and 100, e.g. volume 3x.`);
      return { ok: true, value: { ...base, kind: "volume_spike", params: { multiple, period: 20 } } };
    }
    default: {
      const near = ALERT_WORDS.map((k) => [k, editDistance(a ?? "", k)] as const).sort((x, y) => x[1] - y[1])[0];
      const hint = near && near[1] <= 2 ? ` Did you mean "${near[0]}"?` : "";
      return fail(`I don't know the alert type "${a ?? ""}".${hint}`);
    }
  }
}
