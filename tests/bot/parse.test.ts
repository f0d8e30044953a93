import { describe, expect, it } from "vitest";
import { alertCommand } from "../../src/bot/alert-command.js";
import { COMMANDS, usageOf, usageParts } from "../../src/bot/commands.js";
import { ALERT_FORMS, parseAlert, parseDuration, parsePrice } from "../../src/bot/parse-alert.js";
import { CANDLE_RULE_KINDS, isCandleRule, PRICE_RULE_KINDS } from "../../src/signals/rules.js";
import { editDistance } from "../../src/bot/symbols.js";
import { splitMessage } from "../../src/format/telegram.js";

describe("parseAlert", () => {
  const ok = (text: string) => {
    const r = parseAlert(text);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };

  it.each([
    ["RELIANCE above 1500", { kind: "price_above", params: { level: 1500 } }],
    ["reliance below 1,450.50", { kind: "price_below", params: { level: 1450.5 } }],
    ["TCS cross 3500", { kind: "cross", params: { level: 3500 } }],
    ["TCS cross up 3500", { kind: "cross_up", params: { level: 3500 } }],
    ["TCS crosses below ₹3500", { kind: "cross_down", params: { level: 3500 } }],
    ["INFY change 3%", { kind: "change_pct", params: { pct: 3 } }],
    ["INFY rsi below 30", { kind: "rsi_below", params: { level: 30, period: 14 } }],
    ["INFY rsi above 70 period 9", { kind: "rsi_above", params: { level: 70, period: 9 } }],
    ["SBIN macd up", { kind: "macd_cross_up", params: {} }],
    ["SBIN ema 9 21 down", { kind: "ma_cross_down", params: { ma: "ema", fast: 9, slow: 21 } }],
    ["SBIN sma 50 200 up", { kind: "ma_cross_up", params: { ma: "sma", fast: 50, slow: 200 } }],
    ["SBIN bb up", { kind: "bb_break_up", params: { period: 20, stdDev: 2 } }],
    ["SBIN volume 3x", { kind: "volume_spike", params: { multiple: 3, period: 20 } }],
    ["SBIN bb in", { kind: "bb_enter", params: { period: 20, stdDev: 2 } }],
    ["INFY supertrend up", { kind: "supertrend_up", params: { period: 10, multiplier: 3 } }],
    ["INFY st down 7 2.5", { kind: "supertrend_down", params: { period: 7, multiplier: 2.5 } }],
    ["INFY vwap up", { kind: "vwap_cross_up", params: {} }],
    ["INFY atr 2x", { kind: "atr_move", params: { multiple: 2, period: 14 } }],
    ["INFY atr 1.5 period 20", { kind: "atr_move", params: { multiple: 1.5, period: 20 } }],
    ["INFY gap up 2%", { kind: "gap_up", params: { pct: 2 } }],
    ["INFY gap down 1.5", { kind: "gap_down", params: { pct: 1.5 } }],
  ])("%s", (text, expected) => {
    expect(ok(text)).toMatchObject({ ...expected, frequency: "once" });
  });

  it("reads AND alerts: up to 5 indicator conditions, each part's mistake named with its words", () => {
    const r = ok("INFY rsi below 30 and price above ema 200 on 15m every 1h");
    expect(r).toMatchObject({
      kind: "all_of",
      frequency: "every",
      cooldownSeconds: 3600,
      params: {
        timeframe: "15m",
        conditions: [
          { kind: "rsi_below", params: { level: 30, period: 14 } },
          { kind: "price_vs", params: { side: "above", ref: "ema", period: 200 } },
        ],
      },
    });
    expect(alertCommand({ ...r, kind: "all_of" }, "INFY")).toBe("INFY rsi below 30 and price above ema 200 on 15m every 1h");
    expect(ok("INFY supertrend up and vwap up and macd up").params.conditions).toHaveLength(3);
    expect(ok("INFY price below vwap").params.conditions).toEqual([{ kind: "price_vs", params: { side: "below", ref: "vwap" } }]);
    expect(parseAlert("INFY rsi below 30 and pricee above ema 200")).toEqual({
      ok: false,
      error: 'In "pricee above ema 200": I don\'t know the alert type "pricee". Did you mean "price"?',
    });
    expect(parseAlert("INFY rsi below 30 and above 1500")).toMatchObject({ ok: false, error: expect.stringContaining("can't be part of an AND alert") });
    expect(parseAlert("INFY rsi below 30 and")).toMatchObject({ ok: false, error: expect.stringContaining('both sides of "and"') });
    expect(parseAlert("INFY macd up and macd down and vwap up and vwap down and bb up and bb down")).toMatchObject({
      ok: false,
      error: expect.stringContaining("at most 5"),
    });
  });

  it("reads a timeframe for indicator alerts, and refuses one where it means nothing", () => {
    expect(ok("INFY rsi below 30 on 15m")).toMatchObject({ kind: "rsi_below", params: { level: 30, period: 14, timeframe: "15m" } });
    expect(ok("INFY ema 9 21 up on 1h every 2h")).toMatchObject({ params: { timeframe: "1h" }, frequency: "every", cooldownSeconds: 7200 });
    expect(ok("INFY supertrend up on 1d")).toMatchObject({ params: { timeframe: "1d" } });
    expect(ok("INFY rsi below 30 on 1m").params).not.toHaveProperty("timeframe");
    expect(parseAlert("INFY rsi below 30 on 15min")).toEqual({ ok: false, error: '"15min" is not a timeframe: use 1m, 5m, 15m, 30m, 1h, 1d.' });
    expect(parseAlert("INFY above 1500 on 15m")).toMatchObject({ ok: false, error: expect.stringContaining("a price alert watches every tick") });
    expect(parseAlert("INFY gap up 2% on 15m")).toMatchObject({ ok: false, error: expect.stringContaining("takes no timeframe") });
  });

  it.each([
    ["INFY supertrnd up", 'I don\'t know the alert type "supertrnd". Did you mean "supertrend"?'],
    ["INFY supertrend sideways", 'After "supertrend" say up or down (its trend flipping), e.g. supertrend up.'],
    ["INFY supertrend up 10", 'Give the ATR period and the multiplier, e.g. supertrend up 10 3 (got "10").'],
    ["INFY vwap", 'After "vwap" say up or down (the price crossing above or below VWAP).'],
    ["INFY atr 50x", '"50x" is not a multiple of ATR between 0.5 and 20, e.g. atr 2x.'],
    ["INFY gap up", '"" is not a percent between 0.1 and 50, e.g. gap up 2%.'],
    ["INFY bb out", 'After "bb" say up or down (a close above the upper or below the lower band), or in (a close back inside it).'],
  ])("%s is refused with what is wrong", (text, error) => {
    const r = parseAlert(text);
    expect(r.ok ? "accepted" : r.error).toBe(error);
  });

  it("reads 52-week alerts ('52w high', '52-week low'), alone, in an AND alert, and back from /alerts", () => {
    expect(ok("INFY 52w high")).toMatchObject({ kind: "high_52w", params: {}, frequency: "once" });
    expect(ok("INFY 52-week low every")).toMatchObject({ kind: "low_52w", frequency: "every" });
    expect(ok("INFY 52WK High")).toMatchObject({ kind: "high_52w" });
    expect(ok("INFY rsi above 70 and 52w high")).toMatchObject({
      kind: "all_of",
      params: { conditions: [{ kind: "rsi_above" }, { kind: "high_52w", params: {} }] },
    });
    expect(alertCommand({ kind: "low_52w", params: {}, frequency: "once_per_bar", cooldownSeconds: 0 }, "INFY")).toBe("INFY 52w low bar");
  });

  it.each([
    ["INFY 52w", 'After "52w" say high or low (a new 52-week high or low), e.g. 52w high.'],
    ["INFY 52w top", 'After "52w" say high or low (a new 52-week high or low), e.g. 52w high.'],
    ["INFY 52w high 2%", 'I didn\'t understand "2%" after 52w high.'],
    ["INFY 52x high", 'I don\'t know the alert type "52x". Did you mean "52w"?'],
    ["INFY 52-weak high", 'I don\'t know the alert type "52-weak". Did you mean "52-week"?'],
  ])("%s is refused with what is wrong", (text, error) => {
    const r = parseAlert(text);
    expect(r.ok ? "accepted" : r.error).toBe(error);
  });

  it("reads frequency and expiry options at the end", () => {
    expect(ok("RELIANCE above 1500 every")).toMatchObject({ frequency: "every", cooldownSeconds: 300 });
    expect(ok("RELIANCE above 1500 every 15m")).toMatchObject({ frequency: "every", cooldownSeconds: 900 });
    expect(ok("RELIANCE rsi below 30 bar")).toMatchObject({ frequency: "once_per_bar" });
    expect(ok("RELIANCE above 1500 expires 2d every 1h")).toMatchObject({ frequency: "every", cooldownSeconds: 3600, expiresInMs: 2 * 86_400_000 });
  });

  it.each([
    ["", /Which symbol/],
    ["RELIANCE", /what to watch/],
    ["RELIANCE above", /not a price/],
    ["RELIANCE above abc", /not a price/],
    ["RELIANCE above -5", /not a price/],
    ["RELIANCE above 1500 please", /didn't understand "please"/],
    ["RELIANCE change 300%", /percent between/],
    ["RELIANCE rsi 30", /above or below/],
    ["RELIANCE rsi below 130", /RSI level/],
    ["RELIANCE ema 21 9 up", /must be shorter/],
    ["RELIANCE ema 9 21", /up or down/],
    ["RELIANCE macd sideways", /up or down/],
    ["RELIANCE volume 1x", /multiple/],
    ["RELIANCE moon 5", /don't know the alert type "moon"/],
    ["RELIANCE above 1500 expires soon", /not a duration/],
  ])("rejects %j with a reason", (text, reason) => {
    const r = parseAlert(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(reason);
  });

  it("parses prices and durations strictly", () => {
    expect(parsePrice("1,234.5")).toBe(1234.5);
    expect(parsePrice("1.234")).toBeUndefined();
    expect(parsePrice("0")).toBeUndefined();
    expect(parsePrice("99999999")).toBeUndefined();
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("0m")).toBeUndefined();
    expect(parseDuration("1y")).toBeUndefined();
  });
});

/**
 * Every concrete text a usage pattern stands for: `a|b` is a choice, `[...]` is optional, and
 * CAPS words are placeholders filled with a sample value (an unknown placeholder fails the test).
 */
const SAMPLE: Record<string, string> = {
  SYMBOL: "RELIANCE",
  PRICE: "1500",
  PCT: "3",
  LEVEL: "30",
  N: "3",
  FAST: "9",
  SLOW: "21",
  DURATION: "15m",
  PERIOD: "10",
  MULTIPLIER: "3",
  K: "2",
};
function expandUsage(pattern: string): string[] {
  const fill = (word: string) =>
    word.replace(/[A-Z]+/g, (name) => {
      if (!(name in SAMPLE)) throw new Error(`no sample for placeholder ${name} in "${pattern}"`);
      return SAMPLE[name]!;
    });
  let out = [""];
  const join = (heads: string[], tails: string[]) => heads.flatMap((h) => tails.map((t) => [h, t].filter(Boolean).join(" ")));
  for (let rest = pattern.trim(); rest; rest = rest.trimStart()) {
    if (rest.startsWith("[")) {
      const end = rest.indexOf("]");
      expect(end, `unclosed [ in "${pattern}"`).toBeGreaterThan(0);
      out = join(out, ["", ...expandUsage(rest.slice(1, end))]);
      rest = rest.slice(end + 1);
    } else {
      const word = /^\S+/.exec(rest)![0];
      out = join(out, word.split("|").map(fill));
      rest = rest.slice(word.length);
    }
  }
  return out;
}

describe("/alert usage line", () => {
  const { forms, note } = usageParts("alert");
  const options = /^\(options at the end: ([^)]*)\)/.exec(note ?? "")?.[1]?.split(" | ");
  const texts = forms.flatMap((f) => {
    expect(f).toMatch(/^\/alert SYMBOL /);
    return expandUsage(f.replace(/^\/alert /, ""));
  });

  it("is the line /alert answers a mistake with, built from the parser's own table", () => {
    expect(forms).toEqual(ALERT_FORMS.map((f) => `/alert SYMBOL ${f.usage}`));
    expect(options?.length).toBeGreaterThan(0);
    expect(texts.length).toBeGreaterThan(ALERT_FORMS.length);
  });

  it("every form it shows parses, to a kind its table entry declares", () => {
    for (const [i, f] of forms.entries()) {
      for (const text of expandUsage(f.replace(/^\/alert /, ""))) {
        const r = parseAlert(text);
        expect(r.ok ? r.value.kind : r.error, text).toSatisfy((k: string) => ALERT_FORMS[i]!.kinds.includes(k as never));
      }
    }
  });

  it("every form it shows comes back from alertCommand (what /alerts shows) and parses to the same rule", () => {
    for (const form of ALERT_FORMS)
      for (const line of expandUsage(`SYMBOL ${form.usage}`))
        for (const option of ["", "bar", "every", "every 15m", "every 2h", "on 15m", "on 1h every 2h"]) {
          const first = parseAlert(`${line} ${option}`);
          if (!first.ok && option.startsWith("on ") && !form.kinds.some((k) => k !== "cross" && isCandleRule(k) && !k.startsWith("gap_"))) continue;
          if (!first.ok) throw new Error(`${line} ${option}: ${first.error}`);
          const r = first.value;
          const kind = r.kind === "cross" ? "cross_up" : r.kind;
          const shown = alertCommand({ ...r, kind }, r.symbol);
          const again = parseAlert(shown);
          if (!again.ok) throw new Error(`${shown}: ${again.error}`);
          expect({ ...again.value, expiresInMs: undefined }, shown).toEqual({ ...r, kind, expiresInMs: undefined });
        }
    expect(alertCommand({ kind: "rsi_below", params: { level: 30, period: 14 }, frequency: "every", cooldownSeconds: 900 }, "INFY")).toBe(
      "INFY rsi below 30 every 15m",
    );
    expect(alertCommand({ kind: "price_above", params: { level: 1450.5 }, frequency: "once", cooldownSeconds: 0 }, "RELIANCE")).toBe("RELIANCE above 1450.5");
  });

  it("every kind the parser can produce appears in it", () => {
    const shown = new Set(texts.map((t) => parseAlert(t)).flatMap((r) => (r.ok ? [r.value.kind] : [])));
    const accepted = new Set(ALERT_FORMS.flatMap((f) => f.kinds));
    expect([...shown].sort()).toEqual([...accepted].sort());
    expect([...accepted].sort()).toEqual(["cross", ...PRICE_RULE_KINDS, ...CANDLE_RULE_KINDS].sort());
  });

  it("every option it shows parses after every form, and together they reach every frequency and an expiry", () => {
    const seen = new Set<string>();
    for (const option of options!) {
      for (const o of expandUsage(option)) {
        for (const t of texts) {
          const r = parseAlert(`${t} ${o}`);
          if (!r.ok) throw new Error(`"${t} ${o}": ${r.error}`);
          seen.add(r.value.frequency);
          if (r.value.expiresInMs !== undefined) seen.add("expires");
        }
      }
    }
    expect([...seen].sort()).toEqual(["every", "expires", "once", "once_per_bar"]);
  });

  it("the other words a form accepts (aliases) give the same kinds as the word shown", () => {
    for (const f of ALERT_FORMS) {
      const shownWord = f.words[0]!;
      expect(f.usage.split(" ")[0]!.split("|")[0]).toBe(shownWord);
      for (const alias of f.words.slice(1)) {
        if (f.usage.split(" ")[0]!.split("|").includes(alias)) continue; // shown as a choice already
        for (const t of expandUsage(f.usage).map((x) => `RELIANCE ${x.replace(shownWord, alias)}`)) {
          const r = parseAlert(t);
          expect(r.ok && f.kinds.includes(r.value.kind), t).toBe(true);
        }
      }
    }
  });
});

describe("commands table", () => {
  it("has a usage line for every command and refuses unknown ones", () => {
    for (const c of COMMANDS) expect(usageOf(c.command)).toMatch(new RegExp(`^/${c.command}`));
    expect(() => usageOf("nope")).toThrow();
    expect(new Set(COMMANDS.map((c) => c.command)).size).toBe(COMMANDS.length);
    for (const c of COMMANDS) expect(c.description.length).toBeLessThanOrEqual(256);
  });
});

describe("splitMessage", () => {
  it("keeps short messages whole and splits long ones at line breaks under 4096", () => {
    expect(splitMessage("hello")).toEqual(["hello"]);
    const lines = Array.from({ length: 400 }, (_, i) => `<b>line ${i}</b> ${"x".repeat(20)}`);
    const parts = splitMessage(lines.join("\n"));
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(4096);
    expect(parts.join("\n")).toBe(lines.join("\n"));
  });

  it("cuts a single huge line without breaking an HTML entity", () => {
    const line = "a&amp;b ".repeat(1200);
    const parts = splitMessage(line, 100);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(100);
      expect(p).not.toMatch(/&[a-z]*$/);
    }
  });
});

describe("editDistance", () => {
  it("ranks typos", () => {
    expect(editDistance("RELIANCE", "RELIANCE")).toBe(0);
    expect(editDistance("RELAINCE", "RELIANCE")).toBe(2);
    expect(editDistance("RELIANC", "RELIANCE")).toBe(1);
  });
});
