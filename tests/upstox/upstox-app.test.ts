import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningApp } from "../../src/app.js";
import { getJson, startTestApp, testConfig, upstoxEnv } from "../support/app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "../support/env.js";
import { runJob, takeOverScheduler } from "../support/queues.js";
import { startSmtpCapture, type SmtpCapture } from "../support/smtp.js";
import { waitUntil } from "../support/wait.js";
import { FakeUpstox } from "../fakes/upstox/index.js";

const RELIANCE = "NSE_EQ|INE002A01018";

/**
 * The app with an Upstox app configured, against the fake Upstox over real HTTP: the
 * instruments master loads into SQLite, quotes come from Upstox through a linked user's
 * encrypted token, and a refused token is reported to its user exactly once.
 */
describe("the bot wired to Upstox", () => {
  let fake: FakeUpstox;
  let smtp: SmtpCapture;
  let app: RunningApp;
  let dataDir: string;
  let prefix: string;
  let now: number;

  beforeEach(async () => {
    // Wednesday 2025-01-15 10:30 IST: the fake's market is open.
    now = Date.parse("2025-01-15T10:30:00+05:30");
    fake = await FakeUpstox.start({ now: () => now, clientId: "app-key", clientSecret: "app-secret", redirectUri: "http://127.0.0.1:8080/upstox/callback" });
    smtp = await startSmtpCapture();
    dataDir = tempDir();
    prefix = uniquePrefix();
    const config = testConfig({
      dataDir,
      prefix,
      env: {
        ...upstoxEnv(fake),
        INSTRUMENT_FILES: "complete",
        SMTP_URL: smtp.url,
      },
    });
    app = await startTestApp(config, { clock: () => now, delivery: { attempts: 2, backoffMs: 50 } });
    await takeOverScheduler(app.services.queues["poll-quotes"]);
  });

  afterEach(async () => {
    await app.stop();
    await smtp.close();
    await fake.close();
    await deletePrefix(prefix);
    removeDir(dataDir);
  });

  it("loads the instruments master on first start, so RELIANCE resolves to its key", async () => {
    const s = app.services;
    await waitUntil(() => s.instruments.findBySymbol("RELIANCE") !== undefined, { what: "the initial instruments load" }).catch(async (err: unknown) => {
      const failed = await s.queues["refresh-instruments"].getFailed();
      throw new Error(`${(err as Error).message}; failed jobs: ${failed.map((j) => j.failedReason).join("; ")}`);
    });
    expect(s.instruments.findBySymbol("RELIANCE")?.instrumentKey).toBe(RELIANCE);
    expect(s.instruments.searchByPrefix("RELI").map((i) => i.tradingSymbol)).toContain("RELIANCE");
    expect(fake.requestsTo("/market-quote/instruments/exchange/complete.json.gz")).toHaveLength(1);
  });

  it("polls quotes from Upstox with a linked user's token and fires the alert", async () => {
    const s = app.services;
    const user = s.users.create({ telegramId: 9001, email: "trader@example.com", emailVerified: true, channels: "email" });
    const token = fake.issueToken({ userId: "UPX9001" });
    s.upstox!.tokens.save(user.id, token, "UPX9001", new Date(now));
    s.watchlists.add(user.id, RELIANCE);
    s.rules.create({ userId: user.id, instrumentKey: RELIANCE, kind: "cross_up", params: { level: 1450 } });

    fake.setPrice(RELIANCE, 1440);
    await runJob(s.queues["poll-quotes"]);
    expect(fake.requestsTo("/v2/market-quote/quotes").at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
    fake.setPrice(RELIANCE, 1455.5);
    const { result } = await runJob<{ fired: number }>(s.queues["poll-quotes"]);
    expect(result.fired).toBe(1);
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.parsed.subject).toContain("RELIANCE crossed above ₹1,450.00");

    const metrics = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/uab_upstox_requests_total\{host="api",status="200"\} \d+/);
    const health = await getJson(`http://127.0.0.1:${app.httpPort}/healthz`);
    expect((health.body as { checks: { upstoxToken: { state: string; linkedUsers: number } } }).checks.upstoxToken).toMatchObject({
      state: "ok",
      linkedUsers: 1,
    });
  });

  it("tells the user once when Upstox refuses their token, and stops using it", async () => {
    const s = app.services;
    const user = s.users.create({ telegramId: 9002, email: "expired@example.com", emailVerified: true, channels: "email" });
    const token = fake.issueToken({ userId: "UPX9002" });
    s.upstox!.tokens.save(user.id, token, "UPX9002", new Date(now));
    s.watchlists.add(user.id, RELIANCE);
    fake.expireToken(token);

    await expect(runJob(s.queues["poll-quotes"])).rejects.toThrow(/No linked Upstox account has a valid token/);
    await expect(runJob(s.queues["poll-quotes"])).rejects.toThrow(/No linked Upstox account/);
    // The refused token was sent once; after that the store knows it is expired.
    expect(fake.requestsTo("/v2/market-quote/quotes")).toHaveLength(1);
    expect(s.upstox!.tokens.state(user.id).state).toBe("expired");

    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.envelopeTo).toContain("expired@example.com");
    // Refused hours before its 03:30 expiry (revoked, or a login elsewhere): Upstox's reason is told.
    expect(mail!.parsed.subject).toBe("Upstox refused your login");
    expect(mail!.parsed.text).toContain("Invalid token used to access API");
    expect(mail!.parsed.text).toContain("/login");
    const rows = s.db.prepare("SELECT status FROM notifications WHERE kind = 'token_expired'").all() as Array<{ status: string }>;
    expect(rows).toEqual([{ status: "sent" }]);
    const health = await getJson(`http://127.0.0.1:${app.httpPort}/healthz`);
    expect((health.body as { checks: { upstoxToken: { state: string } } }).checks.upstoxToken.state).toBe("some expired");
  });
});
