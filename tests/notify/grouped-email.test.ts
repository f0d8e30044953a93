import { describe, expect, it } from "vitest";
import { groupedAlertEmail, watchlistRuleOf } from "../../src/notify/grouped-email.js";
import { renderNotification } from "../../src/notify/render.js";

const alert = (symbol: string, pct: number) =>
  renderNotification(
    "price_alert",
    {
      symbol,
      ruleKind: "change_pct",
      price: 1000 * (1 + pct / 100),
      changePct: pct,
      dayChangePct: pct,
      firedAt: Date.parse("2025-01-15T10:30:00+05:30"),
      watchlist: "banks",
      parentRuleId: 7,
    },
    { unsubscribeUrl: "http://127.0.0.1/u/abc" },
  ).email;

describe("one email for a watchlist rule's symbols that fired together", () => {
  it("has every alert, the footer and unsubscribe link once, and a subject naming the list", () => {
    const symbols = ["HDFCBANK", "ICICIBANK", "SBIN", "AXISBANK", "KOTAKBANK", "YESBANK"];
    const email = groupedAlertEmail(
      "banks",
      symbols,
      symbols.map((s, i) => alert(s, 2 + i / 10)),
    );
    expect(email.subject).toBe("Watchlist banks: 6 alerts (HDFCBANK, ICICIBANK, SBIN, AXISBANK and 2 more)");
    for (const s of symbols) {
      expect(email.text).toContain(`${s} moved`);
      expect(email.html).toContain(`<b>${s}</b>`);
    }
    expect(email.text.match(/You get this because/g)).toHaveLength(1);
    expect(email.text.match(/Unsubscribe: http:\/\/127\.0\.0\.1\/u\/abc/g)).toHaveLength(1);
    expect(email.html.match(/Unsubscribe from these emails/g)).toHaveLength(1);
    // Balanced: one <div> per alert, each closed.
    expect(email.html.match(/<div/g)).toHaveLength(6);
    expect(email.html.match(/<\/div>/g)).toHaveLength(6);
    expect(email.html.endsWith("</div>")).toBe(true);
  });

  it("knows a watchlist rule's row from any other", () => {
    expect(watchlistRuleOf({ payload: { parentRuleId: 7 } })).toBe(7);
    expect(watchlistRuleOf({ payload: { ruleId: 7 } })).toBeUndefined();
  });
});
