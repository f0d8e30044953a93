import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RateLimiter, RateLimitWaitTooLongError } from "../../src/redis/rate-limit.js";
import { UPSTOX_LIMITS } from "../../src/upstox/limits.js";
import { deletePrefix, TEST_REDIS_URL } from "../support/env.js";

describe("RateLimiter over real Redis", () => {
  let prefix: string;
  let a: Redis;
  let b: Redis;

  beforeEach(() => {
    prefix = `t-${randomUUID()}`;
    a = new Redis(TEST_REDIS_URL);
    b = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await deletePrefix(prefix);
    a.disconnect();
    b.disconnect();
  });

  it("has Upstox's documented limits", () => {
    expect(UPSTOX_LIMITS.standard.map((w) => [w.ms, w.limit])).toEqual([
      [1000, 50],
      [60_000, 500],
      [1_800_000, 2000],
    ]);
    expect(UPSTOX_LIMITS.order[0]).toEqual({ ms: 1000, limit: 10 });
  });

  it("grants up to the limit and then says how long to wait", async () => {
    const limiter = new RateLimiter({ redis: a, prefix, limits: { standard: [{ ms: 1000, limit: 5 }], order: [{ ms: 1000, limit: 1 }] } });
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) waits.push(await limiter.tryAcquire("user-1", "standard"));
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(waits[5]).toBeGreaterThan(0);
    expect(waits[5]).toBeLessThanOrEqual(1051); // window + the 50 ms safety margin
    // Another user and another category have their own budgets.
    expect(await limiter.tryAcquire("user-2", "standard")).toBe(0);
    expect(await limiter.tryAcquire("user-1", "order")).toBe(0);
    expect(await limiter.tryAcquire("user-1", "order")).toBeGreaterThan(0);
  });

  it("is shared by separate connections (processes), never exceeding the window", async () => {
    const limits = { standard: [{ ms: 300, limit: 4 }], order: [{ ms: 300, limit: 1 }] };
    const la = new RateLimiter({ redis: a, prefix, limits });
    const lb = new RateLimiter({ redis: b, prefix, limits });
    const grants: number[] = [];
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? la : lb).acquire("u", "standard").then(() => grants.push(Date.now()))));
    expect(grants).toHaveLength(12);
    grants.sort((x, y) => x - y);
    // In any 300 ms span (minus clock slack) at most 4 grants.
    for (let i = 4; i < grants.length; i++) expect(grants[i]! - grants[i - 4]!).toBeGreaterThanOrEqual(280);
  });

  it("gives up with a clear error when the wait would be too long", async () => {
    const limiter = new RateLimiter({ redis: a, prefix, limits: { standard: [{ ms: 60_000, limit: 1 }], order: [{ ms: 1000, limit: 1 }] } });
    await limiter.acquire("u", "standard");
    await expect(limiter.acquire("u", "standard", { maxWaitMs: 100 })).rejects.toBeInstanceOf(RateLimitWaitTooLongError);
  });
});
