import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatLocks } from "../../src/notify/chat-lock.js";
import { RateLimiter } from "../../src/redis/rate-limit.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { sleep } from "../support/wait.js";

type Category = "global" | "chat";

// Two connections standing for two processes, on a prefix of each test's own.
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

/**
 * The two pieces under Telegram delivery, over real Redis with two connections standing for
 * two processes: paced slots (RateLimiter.reservePaced) and the chat's holder (ChatLocks).
 */
describe("paced slots shared through Redis", () => {
  // 5 in 200 ms with a 20 ms margin: one slot every 44 ms.
  const limits = { global: [{ ms: 200, limit: 5 }], chat: [{ ms: 400, limit: 1 }] };
  const limiter = (redis: Redis) => new RateLimiter<Category>({ redis, prefix, limits, safetyFraction: 0, minSafetyMs: 20 });

  it("gives callers in two processes distinct slots, evenly spaced: never more than the limit in any window", async () => {
    const [la, lb] = [limiter(a), limiter(b)];
    // Everyone asks at once; each goes at its slot's time.
    const slots = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const slot = await (i % 2 ? la : lb).reservePaced([{ subject: "all", category: "global" }]);
        if (!slot.taken) throw new Error("a claim without a most-wait is always taken");
        return slot.at;
      }),
    );
    slots.sort((x, y) => x - y);
    // Slot times on the Redis clock: exact, whatever the replies' travel took.
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(44 - 0.01);
    for (let i = 5; i < slots.length; i++) expect(slots[i]! - slots[i - 5]!).toBeGreaterThanOrEqual(200 - 0.01);
  });

  it("takes a send's global and chat slot together; a chat further off than its most-wait takes nothing", async () => {
    const l = limiter(a);
    const first = await l.reservePaced([
      { subject: "all", category: "global" },
      { subject: "42", category: "chat", maxWaitMs: 50 },
    ]);
    expect(first).toMatchObject({ taken: true, inMs: 0 });
    // Chat 42's next slot is 420 ms away: refused, and the global schedule is left as it was.
    const again = await l.reservePaced([
      { subject: "all", category: "global" },
      { subject: "42", category: "chat", maxWaitMs: 50 },
    ]);
    expect(again.taken).toBe(false);
    if (!again.taken) expect(again.freeInMs).toBeGreaterThan(300);
    const other = await l.reservePaced([
      { subject: "all", category: "global" },
      { subject: "43", category: "chat", maxWaitMs: 50 },
    ]);
    expect(other.taken).toBe(true);
    if (other.taken) expect(other.inMs).toBeLessThanOrEqual(44);
    // Without a most-wait the caller is given the chat's next slot, and the global one at that moment.
    const waited = await l.reservePaced([
      { subject: "all", category: "global" },
      { subject: "42", category: "chat" },
    ]);
    expect(waited.taken).toBe(true);
    if (waited.taken) expect(waited.inMs).toBeGreaterThan(300);
  });

  it("holds every caller while a pause (after a 429) is in force", async () => {
    const l = limiter(a);
    await limiter(b).pause("all", "global", 300);
    const slot = await l.reservePaced([{ subject: "all", category: "global" }]);
    expect(slot.taken).toBe(true);
    if (slot.taken) expect(slot.inMs).toBeGreaterThan(200);
  });
});

describe("one holder per chat", () => {
  it("a second claimant is refused and raises the flag: the holder looks again before it lets go", async () => {
    const [la, lb] = [new ChatLocks(a, prefix), new ChatLocks(b, prefix)];
    expect(await la.claim(7, "n-1")).toBe(true);
    // The holder keeps it across its turns; others are refused while it does.
    expect(await la.claim(7, "n-1")).toBe(true);
    expect(await lb.claim(7, "n-2")).toBe(false);
    expect(await lb.holds(7, "n-1")).toBe(true);
    // Another chat is free.
    expect(await lb.claim(8, "n-2")).toBe(true);
    // Work arrived since the holder's last look: it must look again, once.
    expect(await la.releaseIfDone(7, "n-1")).toBe(false);
    expect(await la.releaseIfDone(7, "n-1")).toBe(true);
    expect(await lb.holds(7, "n-1")).toBe(false);
    expect(await lb.claim(7, "n-2")).toBe(true);
    // Only the holder lets go.
    await la.release(7, "n-1");
    expect(await la.holds(7, "n-2")).toBe(true);
    await lb.release(7, "n-2");
    expect(await la.claim(7, "n-1")).toBe(true);
  });

  it("a hold expires by itself when its holder is gone", async () => {
    const [la, lb] = [new ChatLocks(a, prefix), new ChatLocks(b, prefix)];
    expect(await la.claim(9, "n-1", 100)).toBe(true);
    expect(await lb.claim(9, "n-2")).toBe(false);
    await sleep(150);
    expect(await lb.claim(9, "n-2")).toBe(true);
  });
});
