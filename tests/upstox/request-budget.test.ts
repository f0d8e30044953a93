import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { RateLimiter, type Window } from "../../src/redis/rate-limit.js";
import { UpstoxClient } from "../../src/upstox/client.js";
import { UPSTOX_LIMITS, type LimitCategory } from "../../src/upstox/limits.js";
import { FakeUpstox } from "../fakes/upstox/index.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { sleep } from "../support/wait.js";

/**
 * The request budget over real Redis: background work (history) stops at its share of each
 * window while live calls (quote polls) keep the rest; a 429 pauses a token's category for
 * every process; waits end at once on shutdown.
 */

type Limits = Record<LimitCategory, readonly Window[]>;
const limits = (standard: readonly Window[]): Limits => ({ standard, order: [{ ms: 1000, limit: 10 }] });
const RELIANCE = "NSE_EQ|INE002A01018";
const log = createLogger({ level: "silent", format: "json" });

describe("request budget over real Redis", () => {
  let prefix: string;
  let a: Redis;
  let b: Redis;

  beforeEach(() => {
    prefix = uniquePrefix();
    a = new Redis(TEST_REDIS_URL);
    b = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await deletePrefix(prefix);
    a.disconnect();
    b.disconnect();
  });

  it("reserves most of every documented window for live calls", () => {
    for (const w of UPSTOX_LIMITS.standard) {
      expect(w.background).toBeGreaterThan(0);
      // At most half of the second, under half of the minute and of the half hour.
      expect(w.background! / w.limit).toBeLessThanOrEqual(w.ms === 1000 ? 0.5 : 0.45);
    }
  });

  it("stops background calls at the background count while live calls still get the rest of the window", async () => {
    const limiter = new RateLimiter({ redis: a, prefix, limits: limits([{ ms: 2000, limit: 10, background: 4 }]) });
    const bg: number[] = [];
    for (let i = 0; i < 6; i++) bg.push(await limiter.tryAcquire("u", "standard", "background"));
    expect(bg.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(bg[4]).toBeGreaterThan(0);
    expect(bg[5]).toBeGreaterThan(0);
    // The refused background attempts took nothing: live still has 10 - 4 slots.
    const live: number[] = [];
    for (let i = 0; i < 7; i++) live.push(await limiter.tryAcquire("u", "standard", "live"));
    expect(live.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(live[6]).toBeGreaterThan(0);
  });

  it("leaves live calls their own count plus a headroom, and takes what they do not need", async () => {
    // Headroom: 10 % of the limit, at least 1.
    const la = new RateLimiter({ redis: a, prefix, limits: limits([{ ms: 2000, limit: 10, background: 6 }]) });
    const lb = new RateLimiter({ redis: b, prefix, limits: limits([{ ms: 2000, limit: 10, background: 6 }]) });
    for (let i = 0; i < 7; i++) expect(await la.tryAcquire("u", "standard", "live")).toBe(0);
    // 10 - 1 - 7 = 2 for background (from another process too), below its share of 6.
    expect(await lb.tryAcquire("u", "standard", "background")).toBe(0);
    expect(await lb.tryAcquire("u", "standard", "background")).toBe(0);
    expect(await lb.tryAcquire("u", "standard", "background")).toBeGreaterThan(0);
    // The headroom is live's.
    expect(await la.tryAcquire("u", "standard", "live")).toBe(0);
    expect(await la.tryAcquire("u", "standard", "live")).toBeGreaterThan(0);
  });

  it("applies the smallest background share of several windows", async () => {
    const limiter = new RateLimiter({
      redis: a,
      prefix,
      limits: limits([
        { ms: 1000, limit: 10, background: 8 },
        { ms: 10_000, limit: 20, background: 5 },
      ]),
    });
    for (let i = 0; i < 5; i++) expect(await limiter.tryAcquire("u", "standard", "background")).toBe(0);
    const wait = await limiter.tryAcquire("u", "standard", "background");
    // Held back by the 10 s window (its oldest entry leaves in ~10.5 s), not the free 1 s one.
    expect(wait).toBeGreaterThan(9_000);
    expect(wait).toBeLessThanOrEqual(10_501);
    for (let i = 0; i < 5; i++) expect(await limiter.tryAcquire("u", "standard", "live")).toBe(0);
  });

  it("tells background callers to wait exactly until the entry that blocks them leaves the window", async () => {
    // Window 1000 ms + the 50 ms safety margin; limit 10, headroom 1.
    const limiter = new RateLimiter({ redis: a, prefix, limits: limits([{ ms: 1000, limit: 10, background: 8 }]) });
    const granted: number[] = [];
    const takeBackground = async () => {
      const t0 = Date.now();
      expect(await limiter.tryAcquire("u", "standard", "background")).toBe(0);
      granted.push((t0 + Date.now()) / 2);
    };
    for (let i = 0; i < 3; i++) {
      await takeBackground();
      await sleep(150);
    }
    for (let i = 0; i < 4; i++) expect(await limiter.tryAcquire("u", "standard", "live")).toBe(0);
    // Room for background: 10 - 1 - 4 live = 5; it holds 3.
    await takeBackground();
    expect(await limiter.tryAcquire("u", "standard", "live")).toBe(0);
    expect(await limiter.tryAcquire("u", "standard", "live")).toBe(0);
    // Now 6 live leave background 3 and it holds 4: it may go on once 2 of its calls have left,
    // i.e. when its second one (granted[1]) leaves, not its oldest (150 ms too early) nor when
    // the full window clears.
    const asked = Date.now();
    const wait = await limiter.tryAcquire("u", "standard", "background");
    const expected = granted[1]! + 1050 - asked;
    expect(Math.abs(wait - expected)).toBeLessThanOrEqual(30);
    // Not too early: shortly before, still refused; at the time it said, granted.
    await sleep(Math.max(0, wait - 80));
    expect(await limiter.tryAcquire("u", "standard", "background")).toBeGreaterThan(0);
    await sleep(100);
    expect(await limiter.tryAcquire("u", "standard", "background")).toBe(0);
  });

  it("live calls at a steady pace within the limit never wait behind background work, which still gets what they leave", async () => {
    // Upstox's minute and half hour scaled down 300 times in length (200 ms and 6 s; limits
    // x0.6), and live calls at 68 % of the long limit: more than limit - share, as with
    // 1,200 instruments polled every 5 s (~44 calls a minute, ~1,320 a half hour, against
    // 2000 - 900). A background burst early in a fresh long window must leave the live calls
    // of its whole length their slots, and once the window is full of live calls background
    // work must still get the rest.
    const limiter = new RateLimiter({
      redis: a,
      prefix,
      safetyFraction: 0.01,
      minSafetyMs: 1,
      livePaceFromMs: 200,
      limits: limits([
        { ms: 200, limit: 300, background: 135 },
        { ms: 6000, limit: 1200, background: 540 },
      ]),
    });
    const t0 = Date.now();
    let stop = false;
    const bg: number[] = [];
    const flood = async () => {
      while (!stop) {
        const w = await limiter.tryAcquire("u", "standard", "background");
        if (w === 0) bg.push(Date.now() - t0);
        else await sleep(Math.min(w, 10));
      }
    };
    const floods = [flood(), flood(), flood()];
    const refused: number[] = [];
    // 3 live calls every 22 ms: ~136/s, ~818 per long window.
    for (let i = 0; i < 13_000 / 22; i++) {
      await sleep(Math.max(0, t0 + i * 22 - Date.now()));
      const waits = await Promise.all([0, 1, 2].map(() => limiter.tryAcquire("u", "standard", "live")));
      if (waits.some((w) => w > 0)) refused.push(Date.now() - t0);
    }
    stop = true;
    await Promise.all(floods);
    expect(refused).toEqual([]);
    // Room in a long window: 1200 - 120 headroom - ~820 live = ~260, plus what it took before
    // the live pace showed (the first short window, at most its share of 135): never the
    // long window's whole share of 540.
    expect(maxInWindow(bg, 6060)).toBeLessThanOrEqual(420);
    // Not starved once the long window is full of live calls.
    expect(bg.filter((t) => t > 7000).length).toBeGreaterThan(100);
  }, 30_000);

  it("a pause with a given length blocks both priorities in every process until it runs out", async () => {
    const la = new RateLimiter({ redis: a, prefix, limits: UPSTOX_LIMITS });
    const lb = new RateLimiter({ redis: b, prefix, limits: UPSTOX_LIMITS });
    expect(await la.pause("7", "standard", 600)).toBe(600);
    const seen = await lb.pausedFor("7", "standard");
    expect(seen).toBeGreaterThan(500);
    expect(seen).toBeLessThanOrEqual(600);
    expect(await lb.tryAcquire("7", "standard", "live")).toBeGreaterThan(500);
    expect(await lb.tryAcquire("7", "standard", "background")).toBeGreaterThan(500);
    // Other tokens and the order category are not held back.
    expect(await lb.tryAcquire("8", "standard", "live")).toBe(0);
    expect(await lb.tryAcquire("7", "order", "live")).toBe(0);

    const t0 = Date.now();
    const waited = await Promise.all(
      (["live", "background"] as const).map((priority, i) => (i ? la : lb).acquire("7", "standard", { priority }).then(() => Date.now() - t0)),
    );
    for (const ms of waited) {
      expect(ms).toBeGreaterThanOrEqual(seen - 120);
      expect(ms).toBeLessThan(seen + 300);
    }
    expect(await la.pausedFor("7", "standard")).toBe(0);
  });

  it("a pause without a length backs off exponentially with jitter on repeated 429s", async () => {
    const la = new RateLimiter({ redis: a, prefix, limits: UPSTOX_LIMITS });
    const lb = new RateLimiter({ redis: b, prefix, limits: UPSTOX_LIMITS });
    const backoff = { baseMs: 100, maxMs: 1000 };
    const pauses: number[] = [];
    // Strikes from two processes count together: each 429 here comes after the last pause ran out.
    for (let strike = 1; strike <= 5; strike++) {
      pauses.push(await (strike % 2 ? la : lb).pause("7", "standard", undefined, backoff));
      if (strike < 5) await sleep(pauses.at(-1)! + 5);
    }
    const ranges = [
      [50, 100],
      [100, 200],
      [200, 400],
      [400, 800],
      [500, 1000], // capped at maxMs, still jittered
    ];
    pauses.forEach((p, i) => {
      expect(p).toBeGreaterThanOrEqual(ranges[i]![0]!);
      expect(p).toBeLessThanOrEqual(ranges[i]![1]!);
    });
    expect(await lb.pausedFor("7", "standard")).toBeGreaterThan(0);

    // 429s answered together (parallel batches, other processes) while a pause is in force are
    // one strike: the pause does not jump to the maximum.
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? la : lb).pause("burst", "standard", undefined, backoff)));
    for (const p of burst) expect(p).toBeLessThanOrEqual(100);
    await sleep(Math.max(...burst) + 5);
    // The next 429 after it ran out is the second strike.
    const second = await la.pause("burst", "standard", undefined, backoff);
    expect(second).toBeGreaterThanOrEqual(100);
    expect(second).toBeLessThanOrEqual(200);

    // Jitter: first strikes of many tokens do not all pause alike (no thundering herd).
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => la.pause(`j${i}`, "standard", undefined, backoff)));
    for (const p of first) {
      expect(p).toBeGreaterThanOrEqual(50);
      expect(p).toBeLessThanOrEqual(100);
    }
    expect(new Set(first).size).toBeGreaterThan(5);
  });

  it("never shortens a longer pause already in force", async () => {
    const la = new RateLimiter({ redis: a, prefix, limits: UPSTOX_LIMITS });
    const lb = new RateLimiter({ redis: b, prefix, limits: UPSTOX_LIMITS });
    expect(await la.pause("7", "standard", 3000)).toBe(3000);
    // A later 429 without Retry-After (first strikes are short), and one with a shorter Retry-After.
    expect(await lb.pause("7", "standard", undefined, { baseMs: 100, maxMs: 1000 })).toBeGreaterThan(2900);
    expect(await lb.pause("7", "standard", 500)).toBeGreaterThan(2900);
    expect(await la.pausedFor("7", "standard")).toBeGreaterThan(2900);
    // A longer one does extend it.
    expect(await lb.pause("7", "standard", 5000)).toBe(5000);
    expect(await la.pausedFor("7", "standard")).toBeGreaterThan(4900);
  });

  it("an aborted signal ends acquire's wait at once with the signal's reason", async () => {
    const limiter = new RateLimiter({ redis: a, prefix, limits: limits([{ ms: 10_000, limit: 1, background: 1 }]) });
    await limiter.acquire("u", "standard");
    const reason = new Error("the bot is shutting down");
    for (const priority of ["live", "background"] as const) {
      const ctl = new AbortController();
      const t0 = Date.now();
      const waiting = limiter.acquire("u", "standard", { priority, signal: ctl.signal });
      setTimeout(() => ctl.abort(reason), 50);
      await expect(waiting).rejects.toBe(reason);
      expect(Date.now() - t0).toBeLessThan(300);
    }
    // Waiting out a pause ends the same way.
    await limiter.pause("p", "standard", 10_000);
    const ctl = new AbortController();
    const t0 = Date.now();
    const paused = limiter.acquire("p", "standard", { signal: ctl.signal });
    setTimeout(() => ctl.abort(reason), 50);
    await expect(paused).rejects.toBe(reason);
    expect(Date.now() - t0).toBeLessThan(300);
    // Stopping ends waits, not work that can go at once: a free slot is still granted (a
    // running job may finish), the next caller who would have to wait is refused at once.
    const gone = AbortSignal.abort(reason);
    await expect(limiter.acquire("fresh", "standard", { signal: gone })).resolves.toBeUndefined();
    const t1 = Date.now();
    await expect(limiter.acquire("fresh", "standard", { signal: gone })).rejects.toBe(reason);
    expect(Date.now() - t1).toBeLessThan(100);
  });
});

interface Throttle {
  at: number;
  retryAfterMs: number | undefined;
  pausedMs: number;
}

describe("the request budget at the transport, across processes", () => {
  let fake: FakeUpstox;
  let prefix: string;
  let connections: Redis[];
  let clients: UpstoxClient[];
  let throttles: Throttle[];

  beforeAll(async () => {
    fake = await FakeUpstox.start({});
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    prefix = uniquePrefix();
    connections = [];
    clients = [];
    throttles = [];
    fake.clearRequests();
    fake.resetRateLimits();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const c of connections) c.disconnect();
    await deletePrefix(prefix);
  });

  /** One "process": its own Redis connection and limiter on the shared prefix, its own client. */
  const processWith = () => {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    const limiter = new RateLimiter({ redis, prefix, limits: UPSTOX_LIMITS });
    const client = new UpstoxClient({
      apiBase: fake.apiBase,
      hftBase: fake.hftBase,
      assetsBase: fake.apiBase,
      log,
      limiter,
      transport: { backoffMs: 20, timeoutMs: 5000, onThrottled: (t) => void throttles.push({ at: Date.now(), ...t }) },
    });
    clients.push(client);
    return { client, limiter };
  };

  it("a read pauses the token's category in Redis, so another process waits too, and retries after the pause", async () => {
    const one = processWith();
    const two = processWith();
    const session = { userId: 7, accessToken: fake.issueToken({ userId: "UPX7" }) };
    fake.failNext({ status: 429, retryAfter: null, pathPrefix: "/v2/market-quote/quotes" });

    const t0 = Date.now();
    const first = one.client.getFullQuotes(session, [RELIANCE]);
    // As soon as the 429 is in, the pause is visible to the other process.
    await expect.poll(() => throttles.length, { interval: 5, timeout: 2000 }).toBe(1);
    const [throttle] = throttles;
    expect(throttle!.retryAfterMs).toBeUndefined();
    // No Retry-After: the first strike's backoff, 1 s with jitter (0.5-1 s).
    expect(throttle!.pausedMs).toBeGreaterThanOrEqual(500);
    expect(throttle!.pausedMs).toBeLessThanOrEqual(1000);
    const pausedFor = await two.limiter.pausedFor("7", "standard");
    expect(pausedFor).toBeGreaterThan(0);
    const pauseEnds = throttle!.at + throttle!.pausedMs;

    const second = two.client.getFullQuotes(session, [RELIANCE]).then((q) => ({ q, at: Date.now() }));
    const [q1, q2] = await Promise.all([first.then((q) => ({ q, at: Date.now() })), second]);
    expect(q1.q.get(RELIANCE)?.lastPrice).toBeGreaterThan(0);
    expect(q2.q.get(RELIANCE)?.lastPrice).toBeGreaterThan(0);

    const calls = fake.requestsTo("/v2/market-quote/quotes");
    expect(calls.map((c) => c.status)).toEqual([429, 200, 200]);
    // Neither process sent anything while the pause was in force.
    for (const c of calls.slice(1)) expect(c.at).toBeGreaterThanOrEqual(pauseEnds - 30);
    expect(Math.min(q1.at, q2.at) - t0).toBeGreaterThanOrEqual(throttle!.pausedMs - 30);
  });

  it("repeated 429s without Retry-After back off further each time, never hammered", async () => {
    const one = processWith();
    const two = processWith();
    const session = { userId: 9, accessToken: fake.issueToken({ userId: "UPX9" }) };
    fake.failNext({ status: 429, retryAfter: null, count: 2, pathPrefix: "/v2/market-quote/quotes" });

    // The first 429 pauses the token; a second process calling meanwhile waits it out too.
    const q1 = one.client.getFullQuotes(session, [RELIANCE]);
    await expect.poll(() => throttles.length, { interval: 5, timeout: 2000 }).toBe(1);
    const q2 = two.client.getFullQuotes(session, [RELIANCE]);
    const [r1, r2] = await Promise.all([q1, q2]);
    expect(r1.size + r2.size).toBe(2);
    const calls = fake.requestsTo("/v2/market-quote/quotes");
    expect(calls.filter((c) => c.status === 429)).toHaveLength(2);
    expect(calls.filter((c) => c.status === 200)).toHaveLength(2);
    expect(throttles.map((t) => t.retryAfterMs)).toEqual([undefined, undefined]);
    // The first strike waits 0.5-1 s; the 429 after it ran out is a second strike: 1-2 s.
    expect(throttles[0]!.pausedMs).toBeGreaterThanOrEqual(500);
    expect(throttles[0]!.pausedMs).toBeLessThanOrEqual(1000);
    expect(throttles[1]!.pausedMs).toBeGreaterThanOrEqual(1000);
    expect(throttles[1]!.pausedMs).toBeLessThanOrEqual(2000);
    // Nothing went out while a pause was in force: the first pause held back both processes'
    // calls (the second process started during it), and the retry of the call refused by the
    // second 429 waited that pause out. (A call already on the wire when a 429 came back cannot
    // be held: after the first pause both calls went together, and only one was refused.)
    const [first, second] = throttles as [Throttle, Throttle];
    const afterFirst = calls.filter((c) => c.at > first.at);
    expect(afterFirst).toHaveLength(3);
    for (const c of afterFirst) expect(c.at).toBeGreaterThanOrEqual(first.at + first.pausedMs - 30);
    expect(calls.at(-1)!.at).toBeGreaterThanOrEqual(second.at + second.pausedMs - 30);
  });

  it("a 429 with Retry-After pauses exactly that long", async () => {
    const one = processWith();
    const two = processWith();
    const session = { userId: 11, accessToken: fake.issueToken({ userId: "UPX11" }) };
    fake.failNext({ status: 429, retryAfter: 2, pathPrefix: "/v2/market-quote/quotes" });
    const first = one.client.getFullQuotes(session, [RELIANCE]);
    await expect.poll(() => throttles.length, { interval: 5, timeout: 2000 }).toBe(1);
    expect(throttles[0]).toMatchObject({ retryAfterMs: 2000, pausedMs: 2000 });
    expect(await two.limiter.pausedFor("11", "standard")).toBeGreaterThan(1800);
    await Promise.all([first, two.client.getFullQuotes(session, [RELIANCE])]);
    const [refused, ...rest] = fake.requestsTo("/v2/market-quote/quotes");
    for (const c of rest) expect(c.at - refused!.at).toBeGreaterThanOrEqual(1970);
  }, 10_000);

  it("a history call waits out a long window instead of failing, live calls pass meanwhile, and the shutdown ends the wait", async () => {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    const stopping = new AbortController();
    const limiter = new RateLimiter({ redis, prefix, limits: limits([{ ms: 120_000, limit: 100, background: 1 }]) });
    const client = new UpstoxClient({
      apiBase: fake.apiBase,
      hftBase: fake.hftBase,
      assetsBase: fake.apiBase,
      log,
      limiter,
      transport: { backoffMs: 20, timeoutMs: 5000, signals: { stopping: stopping.signal, cutOff: new AbortController().signal } },
    });
    clients.push(client);
    const session = { userId: 13, accessToken: fake.issueToken({ userId: "UPX13" }) };
    await client.getIntradayCandles(session, RELIANCE, "minutes", 1);
    // The next history call is due in two minutes: it waits (a live call would give up after one).
    let settled = false;
    const waiting = client.getIntradayCandles(session, RELIANCE, "minutes", 1).finally(() => (settled = true));
    waiting.catch(() => {});
    await sleep(300);
    expect(settled).toBe(false);
    expect((await client.getFullQuotes(session, [RELIANCE])).size).toBe(1);
    const reason = new Error("shutting down");
    stopping.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(fake.requestsTo("/v3/historical-candle/intraday/")).toHaveLength(1);
  });
});

/** The most timestamps inside any window of `ms`. */
function maxInWindow(times: readonly number[], ms: number): number {
  const t = [...times].sort((x, y) => x - y);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
