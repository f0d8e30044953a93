import { describe, expect, it } from "vitest";
import { alertCommand } from "../../src/bot/alert-command.js";
import { parseAlert } from "../../src/bot/parse-alert.js";

describe("/alert watchlist NAME ...", () => {
  it("reads the rest as it would for a symbol, with the list in the symbol's place", () => {
    const r = parseAlert("watchlist Banks rsi below 30 and price above ema 200 on 15m every 10m");
    expect(r).toMatchObject({
      ok: true,
      value: { symbol: "", watchlist: "banks", kind: "all_of", frequency: "every", cooldownSeconds: 600, params: { timeframe: "15m" } },
    });
    expect(parseAlert("watchlist it change 3%")).toMatchObject({ ok: true, value: { watchlist: "it", kind: "change_pct", params: { pct: 3 } } });
  });

  it("says what is wrong with the list part", () => {
    expect(parseAlert("watchlist")).toEqual({ ok: false, error: "Which watchlist? e.g. /alert watchlist banks rsi below 30" });
    expect(parseAlert("watchlist banks")).toEqual({ ok: false, error: "Tell me what to watch for on watchlist banks, e.g. rsi below 30." });
    expect(parseAlert("watchlist 9lives rsi below 30")).toMatchObject({ ok: false, error: expect.stringContaining('"9lives" is not a watchlist name') });
    // A price level is one symbol's.
    for (const t of ["watchlist banks above 1500", "watchlist banks cross up 900", "watchlist banks cross 900"])
      expect(parseAlert(t)).toMatchObject({
        ok: false,
        error: expect.stringContaining("A price level is one symbol's"),
        usage: "/alert watchlist NAME change PCT% (or any indicator alert after NAME)",
      });
    // A typo in the condition gets the same help as on a symbol.
    expect(parseAlert("watchlist banks rsl below 30")).toMatchObject({ ok: false, error: expect.stringContaining('Did you mean "rsi"?') });
  });

  it("/alerts writes it back so that /alert reads the same rule", () => {
    for (const text of ["watchlist banks rsi below 30", "watchlist banks change 2.5% every 10m", "watchlist it supertrend up on 1h bar"]) {
      const r = parseAlert(text);
      if (!r.ok) throw new Error(r.error);
      const back = alertCommand(r.value as Parameters<typeof alertCommand>[0], `watchlist ${r.value.watchlist}`);
      expect(back).toBe(text);
      expect(parseAlert(back)).toEqual(r);
    }
  });
});

describe("a typo anywhere in a rule", () => {
  it("names the part, suggests the word meant, and carries that form's usage line", () => {
    expect(parseAlert("INFY rsi belw 30")).toEqual({
      ok: false,
      error: 'After "rsi" say above or below, e.g. rsi below 30. Did you mean "below" instead of "belw"?',
      usage: "/alert INFY rsi above|below LEVEL [period N]".replace("INFY", "SYMBOL"),
    });
    const inAnd = parseAlert("INFY rsi below 30 and price abov ema 200 on 15m");
    expect(inAnd).toMatchObject({ ok: false, usage: "/alert SYMBOL price above|below ema|sma N" });
    if (!inAnd.ok)
      expect(inAnd.error).toBe(
        'In "price abov ema 200": After "price" say above or below and a line, e.g. price above ema 200. Did you mean "above" instead of "abov"?',
      );
    const option = parseAlert("INFY macd up evrey 5m");
    expect(option).toMatchObject({ ok: false, usage: "/alert SYMBOL macd up|down" });
    if (!option.ok) expect(option.error).toContain('Did you mean "every" instead of "evrey"?');
    // An unknown first word: every form is shown (no usage of its own).
    const unknown = parseAlert("INFY rsl below 30");
    expect(unknown.ok || unknown.usage).toBe(undefined);
  });
});
