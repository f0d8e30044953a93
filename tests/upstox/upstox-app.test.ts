import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getJson } from "../support/app.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { runJob } from "../support/queues.js";
import { waitUntil } from "../support/wait.js";

const RELIANCE = "NSE_EQ|INE002A01018";

/**
 * The app with an Upstox app configured, against the fake Upstox over real HTTP: the
 * instruments master loads into SQLite, quotes come from Upstox through a linked user's
 * encrypted token, and a refused token is reported to its user exactly once.
 */
describe("the bot wired to Upstox", () => {
  let f: AppFixture;
  let now: number;

  beforeEach(async () => {
    // Wednesday 2025-01-15 10:30 IST: the fake's market is open.
    now = Date.parse("2025-01-15T10:30:00+05:30");
    f = await startAppFixture({
      clock: () => now,
      upstox: { clientId: "app-key", clientSecret: "app-secret", redirectUri: "http://127.0.0.1:8080/upstox/callback" },
      env: { INSTRUMENT_FILES: "complete" },
      delivery: { attempts: 2, backoffMs: 50 },
      takeOver: ["poll-quotes"],
    });
  });

  afterEach(() => f.close());

  it("loads the instruments master on first start, so RELIANCE resolves to its key", async () => {
    const s = f.services;
    await waitUntil(() => s.instruments.findBySymbol("RELIANCE") !== undefined, { what: "the initial instruments load" }).catch(async (err: unknown) => {
      const failed = await s.queues["refresh-instruments"].getFailed();
      throw new Error(`${(err as Error).message}; failed jobs: ${failed.map((j) => j.failedReason).join("; ")}`);
    });
    expect(s.instruments.findBySymbol("RELIANCE")?.instrumentKey).toBe(RELIANCE);
    expect(s.instruments.searchByPrefix("RELI").map((i) => i.tradingSymbol)).toContain("RELIANCE");
    expect(f.fake.requestsTo("/market-quote/instruments/exchange/complete.json.gz")).toHaveLength(1);
  });

  it("polls quotes from Upstox with a linked user's token and fires the alert", async () => {
    const s = f.services;
    const { token } = f.linkTrader({
      telegramId: 9001,
      email: "trader@example.com",
      upstoxUserId: "UPX9001",
      watch: [RELIANCE],
      rules: [{ instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1450 } }],
    });

    f.fake.setPrice(RELIANCE, 1440);
    await runJob(s.queues["poll-quotes"]);
    expect(f.fake.requestsTo("/v2/market-quote/quotes").at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
    f.fake.setPrice(RELIANCE, 1455.5);
    const { result } = await runJob<{ fired: number }>(s.queues["poll-quotes"]);
    expect(result.fired).toBe(1);
    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toContain("RELIANCE crossed above ₹1,450.00");

    const metrics = await (await fetch(`${f.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/uab_upstox_requests_total\{host="api",status="200"\} \d+/);
    const health = await getJson(`${f.baseUrl}/healthz`);
    expect((health.body as { checks: { upstoxToken: { state: string; linkedUsers: number } } }).checks.upstoxToken).toMatchObject({
      state: "ok",
      linkedUsers: 1,
    });
  });

  it("tells the user once when Upstox refuses their token, and stops using it", async () => {
    const s = f.services;
    const { user, token } = f.linkTrader({ telegramId: 9002, email: "expired@example.com", upstoxUserId: "UPX9002", watch: [RELIANCE] });
    f.fake.expireToken(token);

    await expect(runJob(s.queues["poll-quotes"])).rejects.toThrow(/No linked Upstox account has a valid token/);
    await expect(runJob(s.queues["poll-quotes"])).rejects.toThrow(/No linked Upstox account/);
    // The refused token was sent once; after that the store knows it is expired.
    expect(f.fake.requestsTo("/v2/market-quote/quotes")).toHaveLength(1);
    expect(s.upstox!.tokens.state(user.id).state).toBe("expired");

    const [mail] = await f.smtp.waitForMessages(1);
    expect(mail!.envelopeTo).toContain("expired@example.com");
    // Refused hours before its 03:30 expiry (revoked, or a login elsewhere): Upstox's reason is told.
    expect(mail!.parsed.subject).toBe("Upstox refused your login");
    expect(mail!.parsed.text).toContain("Invalid token used to access API");
    expect(mail!.parsed.text).toContain("/login");
    const rows = s.db.prepare("SELECT status FROM notifications WHERE kind = 'token_expired'").all() as Array<{ status: string }>;
    expect(rows).toEqual([{ status: "sent" }]);
    const health = await getJson(`${f.baseUrl}/healthz`);
    expect((health.body as { checks: { upstoxToken: { state: string } } }).checks.upstoxToken.state).toBe("some expired");
  });
});
