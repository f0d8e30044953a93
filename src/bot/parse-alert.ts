import { byLength, isTimeframe, TIMEFRAMES, type Timeframe } from "../market/timeframes.js";
import { MAX_CONDITIONS, type Condition } from "../signals/conditions.js";
import { isCandleRule, type Frequency, type RuleKind, type RuleParams } from "../signals/rules.js";
import { describeCondition } from "../format/rules.js";
import { editDistance } from "./symbols.js";

/** What `/alert SYMBOL ...` asks for, before the symbol is resolved. */
export interface AlertRequest {
  /** The symbol as typed; "" for a rule over a watchlist. */
  symbol: string;
  /** `/alert watchlist NAME ...`: one rule over every symbol of the trader's list NAME. */
  watchlist?: string;
  /** `cross` without a direction is resolved against the current price by the handler. */
  kind: RuleKind | "cross";
  params: RuleParams;
  frequency: Frequency;
  cooldownSeconds: number;
  expiresInMs: number | undefined;
}

/** A rejection may carry the usage line of the part that was wrong (one form of /alert), to show instead of them all. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string; usage?: string };

const fail = (error: string, usage?: string): { ok: false; error: string; usage?: string } => (usage ? { ok: false, error, usage } : { ok: false, error });
const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

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

type RuleRequest = ParseResult<Pick<AlertRequest, "kind" | "params">>;

/**
 * One way to write a rule after the symbol. The table below is the parser: `/alert` picks the
 * form by its first word, and the usage line (src/bot/commands.ts) is built from the same
 * table, so the two cannot drift apart.
 */
export interface AlertForm {
  /** The first words that select this form; the first one is what the usage line shows. */
  words: readonly string[];
  /** What follows the symbol, as the usage line shows it: words, a|b choices, [optional parts], CAPS placeholders. */
  usage: string;
  /** Every kind this form can produce. */
  kinds: readonly AlertRequest["kind"][];
  /** `word` is the first word (lower case), `rest` the words after it. */
  parse(word: string, rest: readonly (string | undefined)[]): RuleRequest;
}

export const ALERT_FORMS: readonly AlertForm[] = [
  {
    words: ["above", "below"],
    usage: "above|below PRICE",
    kinds: ["price_above", "price_below"],
    parse(a, [b, c]) {
      const level = parsePrice(b);
      if (level === undefined) return fail(`"${b ?? ""}" is not a price: use a number like 1450 or 1450.50.`);
      if (c !== undefined) return fail(`I didn't understand "${c}" after the price.`);
      return ok({ kind: a === "above" ? "price_above" : "price_below", params: { level } });
    },
  },
  {
    words: ["cross", "crosses"],
    usage: "cross [up|down] PRICE",
    kinds: ["cross", "cross_up", "cross_down"],
    parse(_a, [b, c, d]) {
      const dir = b === "up" || b === "above" ? "up" : b === "down" || b === "below" ? "down" : undefined;
      const priceWord = dir ? c : b;
      const level = parsePrice(priceWord);
      if (level === undefined) return fail(`"${priceWord ?? ""}" is not a price: use a number like 1450.`);
      if ((dir ? d : c) !== undefined) return fail(`I didn't understand "${dir ? d : c}" after the price.`);
      return ok({ kind: dir === "up" ? "cross_up" : dir === "down" ? "cross_down" : "cross", params: { level } });
    },
  },
  {
    words: ["change", "move"],
    usage: "change PCT%",
    kinds: ["change_pct"],
    parse(_a, [b, c]) {
      const pct = num(b?.replace(/%$/, ""), 0.1, 50);
      if (pct === undefined) return fail(`"${b ?? ""}" is not a percent between 0.1 and 50, e.g. 3%.`);
      if (c !== undefined) return fail(`I didn't understand "${c}" after the percent.`);
      return ok({ kind: "change_pct", params: { pct } });
    },
  },
  {
    words: ["rsi"],
    usage: "rsi above|below LEVEL [period N]",
    kinds: ["rsi_above", "rsi_below"],
    parse(_a, [b, c, d, e]) {
      if (b !== "above" && b !== "below") return fail('After "rsi" say above or below, e.g. rsi below 30.');
      const level = num(c, 1, 99);
      if (level === undefined) return fail(`"${c ?? ""}" is not an RSI level between 1 and 99.`);
      let period = 14;
      if (d === "period") {
        const p = int(e, 2, 200);
        if (p === undefined) return fail(`"${e ?? ""}" is not an RSI period between 2 and 200.`);
        period = p;
      } else if (d !== undefined) return fail(`I didn't understand "${d}": add "period 14" or nothing.`);
      return ok({ kind: b === "above" ? "rsi_above" : "rsi_below", params: { level, period } });
    },
  },
  {
    words: ["macd"],
    usage: "macd up|down",
    kinds: ["macd_cross_up", "macd_cross_down"],
    parse(_a, [b, c]) {
      if (b !== "up" && b !== "down") return fail('After "macd" say up or down (the MACD line crossing its signal line).');
      if (c !== undefined) return fail(`I didn't understand "${c}" after macd ${b}.`);
      return ok({ kind: b === "up" ? "macd_cross_up" : "macd_cross_down", params: {} });
    },
  },
  {
    words: ["ema", "sma"],
    usage: "ema|sma FAST SLOW up|down",
    kinds: ["ma_cross_up", "ma_cross_down"],
    parse(a, [b, c, d]) {
      const ma = a === "sma" ? "sma" : "ema";
      const fast = int(b, 2, 400);
      const slow = int(c, 3, 400);
      if (fast === undefined || slow === undefined) return fail(`Give two periods, e.g. ${ma} 9 21 up.`);
      if (fast >= slow) return fail(`The first ${ma.toUpperCase()} period must be shorter than the second (got ${fast} and ${slow}).`);
      if (d !== "up" && d !== "down")
        return fail(`End with up or down: ${ma} ${fast} ${slow} up means ${ma.toUpperCase()} ${fast} crossing above ${ma.toUpperCase()} ${slow}.`);
      return ok({ kind: d === "up" ? "ma_cross_up" : "ma_cross_down", params: { ma, fast, slow } });
    },
  },
  {
    words: ["bb", "bollinger"],
    usage: "bb up|down|in",
    kinds: ["bb_break_up", "bb_break_down", "bb_enter"],
    parse(_a, [b, c]) {
      if (b !== "up" && b !== "down" && b !== "in")
        return fail('After "bb" say up or down (a close above the upper or below the lower band), or in (a close back inside it).');
      if (c !== undefined) return fail(`I didn't understand "${c}" after bb ${b}.`);
      return ok({ kind: b === "up" ? "bb_break_up" : b === "down" ? "bb_break_down" : "bb_enter", params: { period: 20, stdDev: 2 } });
    },
  },
  {
    words: ["supertrend", "st"],
    usage: "supertrend up|down [PERIOD MULTIPLIER]",
    kinds: ["supertrend_up", "supertrend_down"],
    parse(_a, [b, c, d, e]) {
      if (b !== "up" && b !== "down") return fail('After "supertrend" say up or down (its trend flipping), e.g. supertrend up.');
      let period = 10;
      let multiplier = 3;
      if (c !== undefined) {
        const p = int(c, 2, 200);
        const m = num(d, 0.5, 10);
        if (p === undefined || m === undefined)
          return fail(`Give the ATR period and the multiplier, e.g. supertrend ${b} 10 3 (got "${[c, d].filter(Boolean).join(" ")}").`);
        period = p;
        multiplier = m;
      }
      if (e !== undefined) return fail(`I didn't understand "${e}" after the multiplier.`);
      return ok({ kind: b === "up" ? "supertrend_up" : "supertrend_down", params: { period, multiplier } });
    },
  },
  {
    words: ["vwap"],
    usage: "vwap up|down",
    kinds: ["vwap_cross_up", "vwap_cross_down"],
    parse(_a, [b, c]) {
      if (b !== "up" && b !== "down") return fail('After "vwap" say up or down (the price crossing above or below VWAP).');
      if (c !== undefined) return fail(`I didn't understand "${c}" after vwap ${b}.`);
      return ok({ kind: b === "up" ? "vwap_cross_up" : "vwap_cross_down", params: {} });
    },
  },
  {
    words: ["atr"],
    usage: "atr Kx [period N]",
    kinds: ["atr_move"],
    parse(_a, [b, c, d]) {
      const multiple = num(b?.replace(/x$/, ""), 0.5, 20);
      if (multiple === undefined) return fail(`"${b ?? ""}" is not a multiple of ATR between 0.5 and 20, e.g. atr 2x.`);
      let period = 14;
      if (c === "period") {
        const p = int(d, 2, 200);
        if (p === undefined) return fail(`"${d ?? ""}" is not an ATR period between 2 and 200.`);
        period = p;
      } else if (c !== undefined) return fail(`I didn't understand "${c}": add "period 14" or nothing.`);
      return ok({ kind: "atr_move", params: { multiple, period } });
    },
  },
  {
    words: ["price"],
    usage: "price above|below ema|sma N",
    kinds: ["all_of"],
    parse(_a, [b, c, d, e]) {
      if (b !== "above" && b !== "below") return fail('After "price" say above or below and a line, e.g. price above ema 200.');
      let params: RuleParams;
      if (c === "ema" || c === "sma") {
        const period = int(d, 2, 400);
        if (period === undefined) return fail(`"${c}" needs a period from 2 to 400, e.g. price ${b} ${c} 200.`);
        if (e !== undefined) return fail(`I didn't understand "${e}" after ${c} ${period}.`);
        params = { side: b, ref: c, period };
      } else if (c === "vwap" || c === "supertrend") {
        if (d !== undefined) return fail(`I didn't understand "${d}" after ${c}.`);
        params = c === "supertrend" ? { side: b, ref: c, period: 10, multiplier: 3 } : { side: b, ref: c };
      } else return fail(`Say which line: ema N, sma N, vwap or supertrend (got "${c ?? ""}").`);
      return ok({ kind: "all_of", params: { conditions: [{ kind: "price_vs", params }] } });
    },
  },
  {
    words: ["gap"],
    usage: "gap up|down PCT%",
    kinds: ["gap_up", "gap_down"],
    parse(_a, [b, c, d]) {
      if (b !== "up" && b !== "down") return fail('After "gap" say up or down and the size, e.g. gap up 2%.');
      const pct = num(c?.replace(/%$/, ""), 0.1, 50);
      if (pct === undefined) return fail(`"${c ?? ""}" is not a percent between 0.1 and 50, e.g. gap ${b} 2%.`);
      if (d !== undefined) return fail(`I didn't understand "${d}" after the percent.`);
      return ok({ kind: b === "up" ? "gap_up" : "gap_down", params: { pct } });
    },
  },
  {
    words: ["volume"],
    usage: "volume Nx",
    kinds: ["volume_spike"],
    parse(_a, [b, c]) {
      const multiple = num(b?.replace(/x$/, ""), 1.5, 100);
      if (multiple === undefined) return fail(`"${b ?? ""}" is not a multiple between 1.5 and 100, e.g. volume 3x.`);
      if (c !== undefined) return fail(`I didn't understand "${c}" after the multiple.`);
      return ok({ kind: "volume_spike", params: { multiple, period: 20 } });
    },
  },
  {
    words: ["52w", "52-week", "52week", "52wk"],
    usage: "52w high|low",
    kinds: ["high_52w", "low_52w"],
    parse(a, [b, c]) {
      if (b !== "high" && b !== "low") return fail(`After "${a}" say high or low (a new 52-week high or low), e.g. 52w high.`);
      if (c !== undefined) return fail(`I didn't understand "${c}" after ${a} ${b}.`);
      return ok({ kind: b === "high" ? "high_52w" : "low_52w", params: {} });
    },
  },
];

/** The options that may end any form, as the usage line shows them (read by the loop in parseAlert). */
export const ALERT_OPTIONS: readonly string[] = ["once", "bar", "every [DURATION]", "expires DURATION"];

/** The /alert usage line: every form, then the options. */
/** The bars an indicator alert may read instead of one-minute candles (`on 15m`). */
export const TIMEFRAME_OPTION = `on ${TIMEFRAMES.filter((t) => t !== "1m").join("|")}`;

export const ALERT_USAGE = `${ALERT_FORMS.map((f) => `/alert SYMBOL ${f.usage}`).join(" · ")}   (options at the end: ${ALERT_OPTIONS.join(" | ")}) (indicator alerts also: ${TIMEFRAME_OPTION}; up to ${MAX_CONDITIONS} of them joined with "and") (a whole list: /alert watchlist NAME followed by change or an indicator alert)`;

const FORM_BY_WORD = new Map(ALERT_FORMS.flatMap((f) => f.words.map((w) => [w, f] as const)));
const ALERT_WORDS = [...FORM_BY_WORD.keys()];

/** A watchlist's name: a word that is not a symbol's shape alone, e.g. banks, it_stocks, swing-2. */
export const LIST_NAME_RE = /^[a-z][a-z0-9_-]{0,19}$/;

/** Parses the words after /alert. Every rejection says what was wrong in plain words. */
export function parseAlert(text: string): ParseResult<AlertRequest> {
  const all = text.trim().split(/\s+/).filter(Boolean);
  const overList = all[0]?.toLowerCase() === "watchlist";
  let watchlist: string | undefined;
  if (overList) {
    watchlist = all[1]?.toLowerCase();
    if (watchlist === undefined) return fail("Which watchlist? e.g. /alert watchlist banks rsi below 30");
    if (!LIST_NAME_RE.test(watchlist)) return fail(`"${all[1]!.slice(0, 30)}" is not a watchlist name: a word of letters, digits, - or _, e.g. banks.`);
  }
  // A rule over a list reads like one over a symbol, the list standing where the symbol would.
  const words = overList ? [watchlist!, ...all.slice(2)] : all;
  if (words.length < 2)
    return fail(
      overList
        ? `Tell me what to watch for on watchlist ${watchlist}, e.g. rsi below 30.`
        : words.length
          ? "Tell me what to watch for after the symbol."
          : "Which symbol, and what should I watch for?",
    );
  const symbol = overList ? "" : words[0]!;
  const w = words.slice(1).map((x) => x.toLowerCase());

  // Options at the end: once | bar | every [5m] | expires|for 2d
  let frequency: Frequency = "once";
  let cooldownSeconds = 0;
  let expiresInMs: number | undefined;
  let timeframe: Timeframe | undefined;
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
    } else if (prev === "on" && last !== undefined) {
      if (!isTimeframe(last)) return fail(`"${last}" is not a timeframe: use ${TIMEFRAMES.join(", ")}.`);
      timeframe = last;
      w.splice(-2);
    } else if ((prev === "expires" || prev === "for") && last !== undefined) {
      expiresInMs = parseDuration(last);
      if (expiresInMs === undefined) return fail(`"${last}" is not a duration: use e.g. 30m, 2h or 5d.`);
      w.splice(-2);
    } else break;
  }

  const parts = splitOnAnd(w);
  // A part of its own timeframe before the last ("rsi below 30 on 15m and price above ema 200
  // on 1d"): every part says its own, the trailing one is the last part's.
  const ownTimeframes = parts.length > 1 && parts.slice(0, -1).some(hasOwnTimeframe);
  if (ownTimeframes && timeframe) parts.at(-1)!.push("on", timeframe);
  const rule = parts.length === 1 ? parsePart(parts[0]!) : combine(parts, ownTimeframes);
  if (!rule.ok) return rule;
  const { kind } = rule.value;
  let params = rule.value.params;
  if (ownTimeframes) {
    const settled = smallestTimeframe(params);
    if (!settled.ok) return settled;
    ({ timeframe, params } = settled.value);
  }
  if (timeframe && timeframe !== "1m") {
    if (kind === "cross" || !isCandleRule(kind))
      return fail(`"on ${timeframe}" is for indicator alerts (rsi, macd, ema, bb, supertrend, vwap, atr): a price alert watches every tick.`);
    if (kind === "gap_up" || kind === "gap_down") return fail("A gap is measured at the session's open: it takes no timeframe.");
  }
  // A price level belongs to one symbol; a move in percent or an indicator means the same on each.
  if (watchlist !== undefined && (kind === "cross" || (!isCandleRule(kind) && kind !== "change_pct")))
    return fail(
      `A price level is one symbol's: on a whole watchlist use change PCT% or an indicator, e.g. /alert watchlist ${watchlist} rsi below 30.`,
      "/alert watchlist NAME change PCT% (or any indicator alert after NAME)",
    );
  return ok({
    symbol,
    ...(watchlist !== undefined ? { watchlist } : {}),
    frequency,
    cooldownSeconds,
    expiresInMs,
    kind,
    params: timeframe && timeframe !== "1m" ? { ...params, timeframe } : params,
  });
}

/** The closest of `known` to `word` (two edits off at most, one for a short word; not the word itself), for a "did you mean". */
function nearest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = word.length <= 4 ? 2 : 3;
  for (const k of known) {
    const d = editDistance(word, k);
    if (d > 0 && d < bestDistance && d < k.length) [best, bestDistance] = [k, d];
  }
  return best;
}

/** The lower-case words a form's usage line spells out (above, below, period...), and the options'. */
const wordsOfUsage = (usage: string) => usage.split(/[\s|[\]]+/).filter((w) => /^[a-z]{2,}$/.test(w));
const OPTION_WORDS = ["once", "bar", "every", "expires", "for", "on", "and"];

/**
 * One condition's words, by the form its first word picks. A rejection carries that form's
 * usage line, and a word a couple of letters off one the form knows gets a "did you mean".
 */
function parsePart(words: readonly string[]): RuleRequest {
  const [a, ...more] = words;
  const form = a === undefined ? undefined : FORM_BY_WORD.get(a);
  if (!form) {
    const near = nearest(a ?? "", ALERT_WORDS);
    return fail(`I don't know the alert type "${a ?? ""}".${near ? ` Did you mean "${near}"?` : ""}`);
  }
  const r = form.parse(a!, more);
  if (r.ok) return r;
  return { ok: false, error: r.error + (r.error.includes("Did you mean") ? "" : typoHint(more, form)), usage: `/alert SYMBOL ${form.usage}` };
}

/** ` Did you mean "below" instead of "belw"?` for the first word a couple of letters off one the form (or an option) knows; "" for none. */
function typoHint(words: readonly (string | undefined)[], form: AlertForm): string {
  const known = [...wordsOfUsage(form.usage), ...OPTION_WORDS];
  for (const w of words) {
    if (w === undefined || !/^[a-z]{3,}$/.test(w) || known.includes(w)) continue;
    const meant = nearest(w, known);
    if (meant) return ` Did you mean "${meant}" instead of "${w}"?`;
  }
  return "";
}

const splitOnAnd = (words: readonly string[]): string[][] => {
  const parts: string[][] = [[]];
  for (const word of words) {
    if (word === "and" || word === "&") parts.push([]);
    else parts.at(-1)!.push(word);
  }
  return parts;
};

const hasOwnTimeframe = (words: readonly string[]) => words.at(-2) === "on";

/** The usage line of an AND alert whose parts name their own bars. */
const AND_USAGE = `/alert SYMBOL CONDITION [on ${TIMEFRAMES.join("|")}] and CONDITION [on …] (up to ${MAX_CONDITIONS} conditions)`;

/** Conditions that describe the bar itself (its volume, its move, its range): read on the alert's own bars only. */
const BAR_ONLY: ReadonlySet<string> = new Set(["volume_spike", "atr_move", "high_52w", "low_52w"]);

/**
 * `rsi below 30 and price above ema 200`: every part an indicator condition, at most
 * MAX_CONDITIONS. With `ownTimeframes`, each part may end with its own `on TF` (none: one
 * minute), kept on the condition until smallestTimeframe() settles the alert's.
 */
function combine(parts: readonly string[][], ownTimeframes = false): RuleRequest {
  if (parts.length > MAX_CONDITIONS) return fail(`An alert takes at most ${MAX_CONDITIONS} conditions joined with "and" (got ${parts.length}).`);
  const conditions: Condition[] = [];
  for (const all of parts) {
    let words = all;
    let timeframe: Timeframe | undefined;
    if (ownTimeframes && hasOwnTimeframe(all)) {
      const tf = all.at(-1)!;
      if (!isTimeframe(tf)) return fail(`In "${all.join(" ")}": "${tf}" is not a timeframe: use ${TIMEFRAMES.join(", ")}.`, AND_USAGE);
      timeframe = tf;
      words = all.slice(0, -2);
    }
    if (!words.length) return fail('Put a condition on both sides of "and", e.g. rsi below 30 and price above ema 200.');
    const part = parsePart(words);
    if (!part.ok) return { ...part, error: `In "${all.join(" ")}": ${part.error}` };
    const { kind, params } = part.value;
    const withTimeframe = (p: RuleParams): RuleParams => (ownTimeframes ? { ...p, timeframe: timeframe ?? "1m" } : p);
    // `price above ema 200` is an AND alert of one part: its part joins this one.
    if (kind === "all_of") {
      for (const c of params.conditions ?? []) conditions.push({ ...c, params: withTimeframe(c.params) });
      continue;
    }
    if (kind === "cross" || !isCandleRule(kind) || kind === "gap_up" || kind === "gap_down")
      return fail(
        `"${words.join(" ")}" can't be part of an AND alert: join indicator conditions, e.g. rsi below 30 and price above ema 200 (a price level is price above ema N, not above N).`,
      );
    conditions.push({ kind, params: withTimeframe(params) });
  }
  return ok({ kind: "all_of", params: { conditions } });
}

/**
 * An AND alert whose parts have their own timeframes is evaluated at the close of the
 * shortest of them; a part on longer bars reads their last closed bar then. Only those parts
 * keep a timeframe of their own.
 */
function smallestTimeframe(params: RuleParams): ParseResult<{ timeframe: Timeframe; params: RuleParams }> {
  const conditions = params.conditions ?? [];
  const timeframe = conditions.map((c) => c.params.timeframe ?? "1m").sort(byLength)[0] ?? "1m";
  const barOnly = conditions.find((c) => BAR_ONLY.has(c.kind) && c.params.timeframe !== timeframe);
  if (barOnly)
    return fail(
      `"${describeCondition({ ...barOnly, params: { ...barOnly.params, timeframe: undefined } })}" is about the alert's own bar: put it on the shortest timeframe of the alert (${timeframe}), or leave its timeframe out.`,
      AND_USAGE,
    );
  return ok({
    timeframe,
    params: {
      ...params,
      conditions: conditions.map((c) => {
        const { timeframe: own, ...rest } = c.params;
        return own && own !== timeframe ? { ...c, params: { ...rest, timeframe: own } } : { ...c, params: rest };
      }),
    },
  });
}
