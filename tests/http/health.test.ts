import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getJson } from "../support/app.js";
import { TEST_REDIS_URL } from "../support/env.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { takeOverScheduler } from "../support/queues.js";
import { waitUntil } from "../support/wait.js";

interface Health {
  status: "ok" | "unhealthy";
  checks: {
    processes?: Array<{ role: string; pid: number }>;
    redis: { ok: boolean; latencyMs?: number };
    sqlite: { ok: boolean };
    marketPoll: { ok: boolean; state: string; lastPollAt: string | null; ageSeconds: number | null };
    upstoxToken: { state: string; linkedUsers: number; expired: number };
  };
}

const POLL_INTERVAL = 3600;
/** Three missed polls plus 30 s of slack, as the health check counts. */
const STALE_AFTER_MS = (POLL_INTERVAL * 3 + 30) * 1000;

/** /healthz and /metrics over real HTTP, against the real app on real Redis and SQLite. */
describe("/healthz and /metrics", () => {
  let f: AppFixture;
  let now: number;
  let base: string;

  beforeEach(async () => {
    // A fixed clock the test moves by hand; the market always counts as open.
    now = Date.UTC(2025, 0, 6, 5, 0, 0);
    f = await startAppFixture({ clock: () => now, smtp: false, env: { SIMULATOR_ALWAYS_OPEN: "true", POLL_INTERVAL: String(POLL_INTERVAL) } });
    base = f.baseUrl;
  });

  afterEach(() => f.close());

  /** No poll may run behind the test's back: drop the scheduler and whatever it queued. */
  const stopScheduledPolling = () => takeOverScheduler(f.services.queues["poll-quotes"]);

  it("answers 200 with every check", async () => {
    const res = await getJson(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = res.body as Health;
    expect(body.status).toBe("ok");
    expect(body.checks.redis.ok).toBe(true);
    expect(typeof body.checks.redis.latencyMs).toBe("number");
    expect(body.checks.sqlite).toEqual({ ok: true });
    // This process's heartbeat: /healthz lists the live processes with their roles.
    expect(body.checks.processes).toEqual([expect.objectContaining({ role: "all", pid: process.pid })]);
    expect(body.checks.marketPoll.ok).toBe(true);
    expect(["waiting for first poll", "polling"]).toContain(body.checks.marketPoll.state);
    expect(body.checks.upstoxToken).toEqual({ state: "simulator", linkedUsers: 0, expired: 0 });
  });

  it("/metrics exposes polls, queue depth and poll age in the Prometheus format", async () => {
    // The scheduler's first poll runs at once; wait for it so every series has a value.
    await waitUntil(() => f.services.pollState.lastPollAt(), { what: "the first scheduled poll" });
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain("# TYPE uab_polls_total counter");
    expect(text).toMatch(/^uab_polls_total\{outcome="empty"\} [1-9]\d*$/m);
    expect(text).toContain("# TYPE uab_queue_depth gauge");
    for (const queue of ["poll-quotes", "notify", "sweep-outbox", "backup"])
      expect(text).toMatch(new RegExp(`^uab_queue_depth\\{queue="${queue}",state="waiting"\\} \\d+$`, "m"));
    expect(text).toContain("# TYPE uab_last_poll_age_seconds gauge");
    expect(text).toMatch(/^uab_last_poll_age_seconds 0$/m);
    expect(text).toMatch(/^uab_process_cpu_user_seconds_total /m);
  });

  it("answers 503 when the market is open and the last poll is older than 3 intervals + 30 s", async () => {
    await stopScheduledPolling();

    await f.services.pollState.recordPoll(now - STALE_AFTER_MS - 1000, new Map());
    const stale = await getJson(`${base}/healthz`);
    expect(stale.status).toBe(503);
    const body = stale.body as Health;
    expect(body.status).toBe("unhealthy");
    expect(body.checks.marketPoll).toMatchObject({ ok: false, state: "stale", ageSeconds: STALE_AFTER_MS / 1000 + 1 });
    expect(body.checks.redis.ok).toBe(true);
    expect(body.checks.sqlite.ok).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^uab_last_poll_age_seconds ${STALE_AFTER_MS / 1000 + 1}$`, "m"));

    // Exactly at the limit still counts as polling.
    await f.services.pollState.recordPoll(now - STALE_AFTER_MS, new Map());
    expect((await getJson(`${base}/healthz`)).status).toBe(200);

    // A fresh poll makes it healthy; time moving on past the limit makes it stale again.
    await f.services.pollState.recordPoll(now, new Map());
    const fresh = await getJson(`${base}/healthz`);
    expect(fresh.status).toBe(200);
    expect((fresh.body as Health).checks.marketPoll).toMatchObject({ ok: true, state: "polling", ageSeconds: 0 });
    now += STALE_AFTER_MS + 5000;
    expect((await getJson(`${base}/healthz`)).status).toBe(503);
  });

  it("a stale poll is fine while an admin has paused polling", async () => {
    await stopScheduledPolling();
    await f.services.pollState.recordPoll(now - STALE_AFTER_MS * 2, new Map());
    expect((await getJson(`${base}/healthz`)).status).toBe(503);

    await f.services.pollState.setPaused(true);
    const paused = await getJson(`${base}/healthz`);
    expect(paused.status).toBe(200);
    expect((paused.body as Health).checks.marketPoll).toMatchObject({ ok: true, state: "paused" });

    await f.services.pollState.setPaused(false);
    expect((await getJson(`${base}/healthz`)).status).toBe(503);
  });

  it("never having polled turns unhealthy once the start is longer ago than the stale limit", async () => {
    await stopScheduledPolling();
    // Forget any poll the scheduler made, as if none ever happened.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await redis.del(`${f.prefix}:state:last-poll`);
    } finally {
      redis.disconnect();
    }
    const waiting = await getJson(`${base}/healthz`);
    expect(waiting.status).toBe(200);
    expect((waiting.body as Health).checks.marketPoll.state).toBe("waiting for first poll");

    now += STALE_AFTER_MS + 1000;
    const late = await getJson(`${base}/healthz`);
    expect(late.status).toBe(503);
    expect((late.body as Health).checks.marketPoll).toMatchObject({ ok: false, state: "waiting for first poll" });
  });

  it("an unknown path is a 404 in JSON", async () => {
    const res = await getJson(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: "not found" });
  });
});
