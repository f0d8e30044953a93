import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { User } from "../../src/db/repositories/users.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";

const ist = (s: string) => Date.parse(`${s}+05:30`);
/** Long mail headers are folded onto continuation lines (RFC 5322): join them back. */
const unfold = (raw: string) => raw.replace(/\r?\n[ \t]+/g, " ");

const holding = (symbol: string, key: string, quantity: number, avg: number, last: number, close: number) => ({
  isin: key.split("|")[1],
  company_name: `${symbol} LTD`,
  product: "D",
  quantity,
  trading_symbol: symbol,
  tradingsymbol: symbol,
  last_price: last,
  close_price: close,
  pnl: Math.round((last - avg) * quantity * 100) / 100,
  day_change: last - close,
  day_change_percentage: ((last - close) / close) * 100,
  instrument_token: key,
  average_price: avg,
  t1_quantity: 0,
  exchange: "NSE",
});

/**
 * Portfolio updates and the login reminder, over the fake Upstox and a real SMTP server:
 * the digest before open and after close, a holding moving past the user's threshold
 * (once a day), and the 08:30 reminder to users whose login died at 03:30.
 */
describe("portfolio digests, holding moves and login reminders", () => {
  let f: AppFixture;
  let now: number;
  let user: User;
  let token: string;

  beforeEach(async () => {
    now = ist("2025-01-15T08:45:00");
    f = await startAppFixture({
      clock: () => now,
      upstox: true,
      env: { PUBLIC_URL: "https://bot.example.com" },
      delivery: { attempts: 2, backoffMs: 50 },
    });
    ({ user, token } = f.linkTrader({ telegramId: 77, email: "investor@example.com", upstoxUserId: "UPX77" }));
    f.fake.setHoldings(
      [holding("RELIANCE", "NSE_EQ|INE002A01018", 10, 1300, 1372, 1417.2), holding("TCS", "NSE_EQ|INE467B01029", 2, 3300, 3452, 3440)],
      "UPX77",
    );
  });

  afterEach(() => f.close());

  it("sends the morning digest once, with holdings, day P&L and an unsubscribe link", async () => {
    const { result } = await runJob<{ sent: number }>(f.services.queues["portfolio-digest"], { when: "open" });
    expect(result.sent).toBe(1);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toMatch(/15 Jan 2025/);
    expect(mail!.parsed.text).toContain("RELIANCE");
    expect(mail!.parsed.text).toContain("TCS");
    expect(mail!.parsed.text).toMatch(/−₹452\.00/);
    const raw = unfold(mail!.raw.toString());
    expect(raw).toMatch(/^List-Unsubscribe: <https:\/\/bot\.example\.com\/unsubscribe\?u=\d+&t=[\w-]+>\r?$/m);
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    // Running the same digest again (a retried job) sends nothing new.
    await runJob(f.services.queues["portfolio-digest"], { when: "open" });
    const rows = f.services.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'portfolio_digest'").get() as { n: number };
    expect(rows.n).toBe(1);
  });

  it("alerts once when a holding moves past the user's threshold", async () => {
    f.services.users.update(user.id, { prefs: { holdingMovePct: 3 } });
    now = ist("2025-01-15T10:00:00");
    f.services.upstox!.tokens.save(user.id, token, "UPX77", new Date(now));
    expect((await runJob<{ alerts: number }>(f.services.queues["holding-moves"])).result).toEqual({ alerts: 1 });
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toMatch(/RELIANCE/);
    expect(mail!.parsed.text).toMatch(/down 3\.2%/);
    now += 5 * 60_000;
    expect((await runJob<{ alerts: number }>(f.services.queues["holding-moves"])).result).toEqual({ alerts: 1 });
    const rows = f.services.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'holding_move'").get() as { n: number };
    expect(rows.n).toBe(1);
  });

  it("reminds a user whose login expired, with a one-time login link, before the open", async () => {
    now = ist("2025-01-16T08:30:00"); // the token saved on the 15th died at 03:30 today
    expect(f.services.upstox!.tokens.state(user.id).state).toBe("expired");
    expect((await runJob<{ reminded: number }>(f.services.queues["token-reminder"])).result).toEqual({ reminded: 1 });
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.text).toMatch(/9:15/);
    const link = /https?:\/\/\S+state=\S+/.exec(mail!.parsed.text ?? "")![0];
    expect(new URL(link).searchParams.get("client_id")).toBe(f.fake.clientId);
    // The digest skips a user without a valid login rather than failing.
    expect((await runJob<{ sent: number; skipped: number }>(f.services.queues["portfolio-digest"], { when: "open" })).result).toEqual({
      sent: 0,
      skipped: 1,
    });
  });

  it("one-click unsubscribe stops the emails", async () => {
    await runJob(f.services.queues["portfolio-digest"], { when: "open" });
    const [mail] = await f.smtp.waitForMessages(1);
    const url = /^List-Unsubscribe: <([^>]+)>/m.exec(unfold(mail!.raw.toString()))![1]!;
    const local = url.replace("https://bot.example.com", f.baseUrl);
    const confirm = await fetch(local);
    expect(await confirm.text()).toContain('<form method="post"');
    expect(f.services.users.get(user.id)!.channels).toBe("email");
    const post = await fetch(local, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    expect(post.status).toBe(200);
    expect(f.services.users.get(user.id)!.channels).toBe("telegram");
    const forged = await fetch(local.replace(/t=[\w-]+/, "t=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), { method: "POST" });
    expect(forged.status).toBe(400);
  });
});
