import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger, type Logger } from "../../src/log/logger.js";
import { Lease, LeaseKeeper } from "../../src/redis/lease.js";
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from "../support/env.js";
import { sleep, waitUntil } from "../support/wait.js";

type Line = Record<string, unknown> & { msg: string };

function capturingLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = createLogger({ level: "info", format: "json", destination: { write: (l: string) => void lines.push(JSON.parse(l) as Line) } });
  return { log, lines };
}

/** A keeper on its own connection (as another process would have), recording what it was told and when. */
function keeper(connections: Redis[], key: string, owner: string, opts: { ttlMs: number; renewMs: number; retryMs: number; slowAcquiredMs?: number }) {
  const redis = new Redis(TEST_REDIS_URL);
  redis.on("error", () => {});
  connections.push(redis);
  const events: Array<{ what: string; at: number }> = [];
  const { log, lines } = capturingLog();
  const lease = new Lease(redis, key, { owner, ttlMs: opts.ttlMs });
  const k = new LeaseKeeper({
    lease,
    retryMs: opts.retryMs,
    renewMs: opts.renewMs,
    log,
    onAcquired: async () => {
      events.push({ what: "acquired", at: Date.now() });
      if (opts.slowAcquiredMs) await sleep(opts.slowAcquiredMs);
      events.push({ what: "acquired done", at: Date.now() });
    },
    onLost: (reason) => void events.push({ what: `lost: ${reason}`, at: Date.now() }),
  });
  return { keeper: k, lease, redis, events, lines, whats: () => events.map((e) => e.what) };
}

describe("Lease", () => {
  let prefix: string;
  let redis: Redis;

  beforeEach(() => {
    prefix = uniquePrefix();
    redis = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });

  it("has one owner at a time, extends for its owner, and is freed only by its owner", async () => {
    const key = `${prefix}:lease`;
    const a = new Lease(redis, key, { owner: "a", ttlMs: 5000 });
    const b = new Lease(redis, key, { owner: "b", ttlMs: 5000 });

    expect(await a.holder()).toBeNull();
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await a.holder()).toBe("a");

    await redis.pexpire(key, 1000);
    expect(await a.tryAcquire()).toBe(true); // already ours: extended
    expect(await redis.pttl(key)).toBeGreaterThan(4000);

    await redis.pexpire(key, 1000);
    expect(await a.renew()).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(4000);
    expect(await b.renew()).toBe(false);
    expect(await redis.pttl(key)).toBeGreaterThan(4000);

    await b.release();
    expect(await a.holder()).toBe("a");
    await a.release();
    expect(await a.holder()).toBeNull();
    expect(await a.renew()).toBe(false); // gone, and renewing does not bring it back
    expect(await b.tryAcquire()).toBe(true);
    expect(await b.holder()).toBe("b");
  });

  it("expires by itself when nobody renews it", async () => {
    const key = `${prefix}:lease`;
    const a = new Lease(redis, key, { owner: "a", ttlMs: 100 });
    const b = new Lease(redis, key, { owner: "b", ttlMs: 100 });
    expect(await a.tryAcquire()).toBe(true);
    await waitUntil(() => b.tryAcquire(), { timeoutMs: 2000, intervalMs: 20, what: "b to take the expired lease" });
    expect(await a.renew()).toBe(false);
  });
});

describe("LeaseKeeper", () => {
  let prefix: string;
  let key: string;
  let connections: Redis[];
  let keepers: LeaseKeeper[];

  beforeEach(() => {
    prefix = uniquePrefix();
    key = `${prefix}:stream-holder`;
    connections = [];
    keepers = [];
  });
  afterEach(async () => {
    await Promise.all(keepers.map((k) => k.close()));
    await deletePrefix(prefix);
    for (const c of connections) c.disconnect();
  });

  const make = (owner: string, opts: { ttlMs: number; renewMs: number; retryMs: number; slowAcquiredMs?: number }) => {
    const k = keeper(connections, key, owner, opts);
    keepers.push(k.keeper);
    return k;
  };

  it("lets exactly one of two keepers hold the lease, and keeps it held", async () => {
    const opts = { ttlMs: 2000, renewMs: 100, retryMs: 50 };
    const a = make("a", opts);
    const b = make("b", opts);
    a.keeper.start();
    b.keeper.start();
    await waitUntil(() => a.keeper.held || b.keeper.held, { timeoutMs: 3000, what: "one keeper to hold" });
    const [winner, loser] = a.keeper.held ? [a, b] : [b, a];
    // Longer than a ttl: the holder's renewals keep it, the other's retries keep failing.
    for (let i = 0; i < 10; i++) {
      await sleep(250);
      expect(winner.keeper.held).toBe(true);
      expect(loser.keeper.held).toBe(false);
    }
    expect(await winner.lease.holder()).toBe(winner.lease.owner);
    expect(winner.whats()).toEqual(["acquired", "acquired done"]);
    expect(loser.events).toEqual([]);
  });

  it("hands over within ttl + retry when the holder's connection dies without releasing", async () => {
    const opts = { ttlMs: 1500, renewMs: 150, retryMs: 100 };
    const a = make("a", opts);
    a.keeper.start();
    await waitUntil(() => a.keeper.held, { timeoutMs: 3000, what: "a to hold" });
    const b = make("b", opts);
    b.keeper.start();
    await sleep(300);
    expect(b.keeper.held).toBe(false);

    const cutAt = Date.now();
    a.redis.disconnect();
    // Renewals now fail, but nobody else can have the lease within a ttl of the last renewal.
    await sleep(250);
    expect(a.keeper.held).toBe(true);
    expect(b.keeper.held).toBe(false);

    await waitUntil(() => b.keeper.held, { timeoutMs: 6000, intervalMs: 10, what: "b to take over" });
    const tookAt = Date.now();
    // Not before the lease a renewed at most renewMs before the cut had run out, and soon after.
    expect(tookAt - cutAt).toBeGreaterThanOrEqual(opts.ttlMs - opts.renewMs - 50);
    expect(tookAt - cutAt).toBeLessThan(opts.ttlMs + opts.retryMs + 1000);
    expect(a.keeper.held).toBe(false);
    expect(a.whats()).toEqual(["acquired", "acquired done", "lost: redis unreachable"]);
    // a stopped believing it held the lease no later than b started to (within timer slack).
    const lostAt = a.events[2]!.at;
    const acquiredAt = b.events[0]!.at;
    expect(lostAt).toBeLessThanOrEqual(acquiredAt + 50);
    expect(await b.lease.holder()).toBe("b");
    expect(a.lines.some((l) => l.msg === "could not renew the lease")).toBe(true);
  });

  it("releases on close, so the other keeper takes over at once rather than after the ttl", async () => {
    const opts = { ttlMs: 20_000, renewMs: 1000, retryMs: 50 };
    const a = make("a", opts);
    a.keeper.start();
    await waitUntil(() => a.keeper.held, { timeoutMs: 3000, what: "a to hold" });
    const b = make("b", opts);
    b.keeper.start();
    await sleep(150);
    expect(b.keeper.held).toBe(false);

    const closing = a.keeper.close();
    expect(a.keeper.close()).toBe(closing); // memoized
    await closing;
    expect(a.keeper.held).toBe(false);
    expect(a.whats()).toEqual(["acquired", "acquired done", "lost: closing"]);
    // Far sooner than the 20 s ttl: the key was deleted, not left to expire.
    await waitUntil(() => b.keeper.held, { timeoutMs: 3000, intervalMs: 10, what: "b to take over" });
    expect(await b.lease.holder()).toBe("b");

    await a.keeper.close(); // idempotent: no second onLost
    expect(a.whats()).toEqual(["acquired", "acquired done", "lost: closing"]);
  });

  it("loses the lease when a renew finds it taken, then waits for it to be free again", async () => {
    const opts = { ttlMs: 5000, renewMs: 100, retryMs: 50 };
    const a = make("a", opts);
    a.keeper.start();
    await waitUntil(() => a.keeper.held, { timeoutMs: 3000, what: "a to hold" });

    // As if a's lease had expired during a pause and another process had taken it.
    const other = new Redis(TEST_REDIS_URL);
    connections.push(other);
    await other.set(key, "intruder", "PX", 5000);
    await waitUntil(() => !a.keeper.held, { timeoutMs: 3000, intervalMs: 10, what: "a to notice" });
    expect(a.whats()).toEqual(["acquired", "acquired done", "lost: taken"]);
    expect(await a.lease.holder()).toBe("intruder");
    await sleep(200);
    expect(a.keeper.held).toBe(false);
    expect(await a.lease.holder()).toBe("intruder"); // a never overwrote it

    await other.del(key);
    await waitUntil(() => a.keeper.held, { timeoutMs: 3000, intervalMs: 10, what: "a to take it back" });
    expect(a.whats()).toEqual(["acquired", "acquired done", "lost: taken", "acquired", "acquired done"]);
  });

  it("runs onLost only after a slow onAcquired has finished, and logs callback errors instead of throwing", async () => {
    const opts = { ttlMs: 5000, renewMs: 50, retryMs: 50, slowAcquiredMs: 400 };
    const a = make("a", opts);
    a.keeper.start();
    await waitUntil(() => a.events.length > 0, { timeoutMs: 3000, what: "onAcquired to start" });
    const other = new Redis(TEST_REDIS_URL);
    connections.push(other);
    await other.set(key, "intruder", "PX", 5000);
    // The loss is seen while onAcquired is still running; onLost waits for it.
    await waitUntil(() => !a.keeper.held, { timeoutMs: 3000, intervalMs: 10, what: "a to notice" });
    expect(a.whats()).toEqual(["acquired"]);
    await waitUntil(() => a.events.length === 3, { timeoutMs: 3000, what: "onLost" });
    expect(a.whats()).toEqual(["acquired", "acquired done", "lost: taken"]);

    const { log, lines } = capturingLog();
    const b = new LeaseKeeper({
      lease: new Lease(connections[0]!, `${prefix}:other`, { owner: "b", ttlMs: 5000 }),
      retryMs: 50,
      renewMs: 100,
      log,
      onAcquired: () => {
        throw new Error("boom in onAcquired");
      },
      onLost: async () => {
        throw new Error("boom in onLost");
      },
    });
    keepers.push(b);
    b.start();
    await waitUntil(() => lines.some((l) => l.msg === "lease onAcquired failed"), { timeoutMs: 3000, what: "the logged onAcquired error" });
    expect(b.held).toBe(true); // a failing callback does not give the lease up
    await b.close();
    expect(lines.some((l) => l.msg === "lease onLost failed")).toBe(true);
    expect(await connections[0]!.get(`${prefix}:other`)).toBeNull();
  });

  it("refuses a renew interval that would let the lease expire between renewals", () => {
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    connections.push(redis);
    const lease = new Lease(redis, `${prefix}:x`, { owner: "a", ttlMs: 1000 });
    expect(() => new LeaseKeeper({ lease, retryMs: 100, renewMs: 1000, log: capturingLog().log, onAcquired: () => {}, onLost: () => {} })).toThrow(
      /below the lease ttl/,
    );
  });
});
