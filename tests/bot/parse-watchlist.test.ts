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
      expect(parseAlert(t)).toMatchObject({ ok: false, error: expect.stringContaining("A price level is one symbol's") });
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
