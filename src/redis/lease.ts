import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";

// KEYS: the lease key. ARGV: owner, ttl ms. Takes a free lease, or extends one already ours: 1.
// One script, so "free" and "ours" are decided in the same instant as the write.
const ACQUIRE = `
local h = redis.call('GET', KEYS[1])
if not h then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if h == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

// KEYS: the lease key. ARGV: owner, ttl ms. Extends only a lease that is still ours.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

// KEYS: the lease key. ARGV: owner. Never deletes a lease someone else has taken since.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

type LeaseRedis = Redis & {
  uabLeaseAcquire(key: string, owner: string, ttlMs: number): Promise<number>;
  uabLeaseRenew(key: string, owner: string, ttlMs: number): Promise<number>;
  uabLeaseRelease(key: string, owner: string): Promise<number>;
};

/**
 * A lease on one Redis key: at most one owner across processes, for `ttlMs` after its last
 * acquire or renew. A process that dies simply stops renewing, and the lease frees itself.
 */
export class Lease {
  private readonly redis: LeaseRedis;
  readonly owner: string;
  readonly ttlMs: number;

  constructor(
    redis: Redis,
    readonly key: string,
    opts: { owner: string; ttlMs: number },
  ) {
    if (!(opts.ttlMs >= 1)) throw new Error(`Lease ttlMs must be at least 1 ms (got ${opts.ttlMs})`);
    redis.defineCommand("uabLeaseAcquire", { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand("uabLeaseRenew", { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand("uabLeaseRelease", { numberOfKeys: 1, lua: RELEASE });
    this.redis = redis as LeaseRedis;
    this.owner = opts.owner;
    this.ttlMs = Math.round(opts.ttlMs);
  }

  /** True when the lease is ours now: taken while free, or already ours (then extended). */
  async tryAcquire(): Promise<boolean> {
    return (await this.redis.uabLeaseAcquire(this.key, this.owner, this.ttlMs)) === 1;
  }

  /** Extends the lease for another ttl; false when it is no longer ours (expired, or taken). */
  async renew(): Promise<boolean> {
    return (await this.redis.uabLeaseRenew(this.key, this.owner, this.ttlMs)) === 1;
  }

  /** Frees the lease if it is still ours. */
  async release(): Promise<void> {
    await this.redis.uabLeaseRelease(this.key, this.owner);
  }

  /** The current owner, null when free. */
  async holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}

export interface LeaseKeeperOptions {
  lease: Lease;
  /** How often to try while another process holds the lease (or Redis does not answer). */
  retryMs: number;
  /** How often to renew while held: well under the lease's ttl, so one late renew does not lose it. */
  renewMs: number;
  onAcquired(): void | Promise<void>;
  /** "taken" (someone else holds it now), "redis unreachable" (renewals failed for a whole ttl), or "closing" (close() was called). */
  onLost(reason: string): void | Promise<void>;
  log: Logger;
  /** The clock the ttl is measured on (ms; only differences matter). */
  now?: () => number;
}

/**
 * Keeps trying to hold a lease, and keeps renewing it once held, telling the caller when it
 * starts and stops being the holder.
 *
 * While Redis does not answer, the lease is assumed still ours until a ttl has passed since
 * the last successful renew (that far, no other process can have taken it); after that it is
 * lost, since the key may have expired and been taken. The watchdog that decides this runs
 * on its own timer, so a renew that hangs (a client queueing commands while it reconnects)
 * cannot keep the lease "held" past its ttl.
 *
 * onAcquired and onLost run one after the other, never overlapping and never inside each
 * other, in the order the lease was won and lost; the renewals go on while they run. Their
 * errors are logged. Do not await close() from inside them: close() waits for them.
 */
export class LeaseKeeper {
  private readonly lease: Lease;
  private readonly retryMs: number;
  private readonly renewMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly onAcquired: () => void | Promise<void>;
  private readonly onLost: (reason: string) => void | Promise<void>;

  private isHeld = false;
  /** Whether this keeper ever won the lease: then closing releases it (the release checks the owner). */
  private everHeld = false;
  /** A try that was on its way when close() began, and won. */
  private wonWhileClosing = false;
  private started = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  /** `now()` when the last successful acquire or renew was sent: the lease lasts at least a ttl from then. */
  private confirmedAt = 0;
  private stepTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stepping: Promise<void> | undefined;
  /** onAcquired/onLost calls, chained so they never overlap. */
  private callbacks: Promise<void> = Promise.resolve();
  /** Whether the last Redis call failed: failures are logged once per outage, not per retry. */
  private failing = false;

  constructor(o: LeaseKeeperOptions) {
    if (!(o.retryMs > 0) || !(o.renewMs > 0)) throw new Error(`LeaseKeeper retryMs and renewMs must be positive (got ${o.retryMs}, ${o.renewMs})`);
    if (o.renewMs >= o.lease.ttlMs) {
      throw new Error(`LeaseKeeper renewMs (${o.renewMs}) must be below the lease ttl (${o.lease.ttlMs}), or the lease expires between renewals`);
    }
    this.lease = o.lease;
    this.retryMs = o.retryMs;
    this.renewMs = o.renewMs;
    this.log = o.log;
    this.now = o.now ?? (() => performance.now());
    this.onAcquired = () => o.onAcquired();
    this.onLost = (reason) => o.onLost(reason);
  }

  get held(): boolean {
    return this.isHeld;
  }

  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops trying and renewing; if held, calls onLost("closing") and then frees the lease, so another process takes over at once. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.stepTimer);
    this.stepTimer = undefined;
    // Redis may be down, and a client may queue commands until it is back: after a ttl the
    // lease has expired by itself, so that is as long as closing waits for Redis.
    const deadline = this.now() + this.lease.ttlMs;
    // A step in flight may still win the lease: wait for it, so that win is released too.
    if (this.stepping) await within(this.stepping, this.lease.ttlMs);
    if (this.isHeld) this.lose("closing");
    await this.callbacks;
    if (this.everHeld || this.wonWhileClosing || this.stepping) {
      try {
        await within(this.lease.release(), deadline - this.now());
      } catch (err) {
        this.log.warn({ err, key: this.lease.key }, "could not release the lease (it expires by itself)");
      }
    }
  }

  private schedule(ms: number): void {
    if (this.closing) return;
    this.stepTimer = setTimeout(() => {
      this.stepTimer = undefined;
      this.stepping = this.step().finally(() => (this.stepping = undefined));
    }, ms);
  }

  private async step(): Promise<void> {
    if (this.isHeld) await this.renew();
    else await this.acquire();
  }

  private async acquire(): Promise<void> {
    const sentAt = this.now();
    let won: boolean;
    try {
      won = await this.lease.tryAcquire();
      this.recovered();
    } catch (err) {
      if (this.closing) return;
      this.failed(err, "could not try to take the lease");
      this.schedule(this.retryMs);
      return;
    }
    if (this.closing) {
      this.wonWhileClosing ||= won;
      return;
    }
    if (!won) {
      this.schedule(this.retryMs);
      return;
    }
    this.isHeld = true;
    this.everHeld = true;
    this.confirmed(sentAt);
    this.log.info({ key: this.lease.key, owner: this.lease.owner }, "lease acquired");
    this.notify(() => this.onAcquired(), "onAcquired");
    this.schedule(this.renewMs);
  }

  private async renew(): Promise<void> {
    const sentAt = this.now();
    let ours: boolean;
    try {
      ours = await this.lease.renew();
      this.recovered();
    } catch (err) {
      if (this.closing) return;
      // Still ours until the watchdog says a ttl has passed since the last renew that worked.
      this.failed(err, "could not renew the lease");
      this.schedule(this.isHeld ? this.renewMs : this.retryMs);
      return;
    }
    if (this.closing) return;
    // The watchdog may have given the lease up while this renew was on its way.
    if (!this.isHeld) {
      this.schedule(this.retryMs);
      return;
    }
    if (ours) {
      this.confirmed(sentAt);
      this.schedule(this.renewMs);
    } else {
      this.lose("taken");
      this.schedule(this.retryMs);
    }
  }

  private confirmed(sentAt: number): void {
    this.confirmedAt = sentAt;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.expire(), Math.max(0, sentAt + this.lease.ttlMs - this.now()));
  }

  private expire(): void {
    this.watchdog = undefined;
    if (!this.isHeld) return;
    // A timer may fire a fraction early on this clock: wait for the rest of the ttl.
    if (this.now() - this.confirmedAt < this.lease.ttlMs) {
      this.confirmed(this.confirmedAt);
      return;
    }
    this.lose("redis unreachable");
  }

  private lose(reason: string): void {
    this.isHeld = false;
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    if (reason === "closing") this.log.info({ key: this.lease.key, owner: this.lease.owner }, "lease given up: closing");
    else this.log.warn({ key: this.lease.key, owner: this.lease.owner, reason }, "lease lost");
    this.notify(() => this.onLost(reason), "onLost");
  }

  private notify(callback: () => void | Promise<void>, what: string): void {
    this.callbacks = this.callbacks.then(callback).catch((err: unknown) => this.log.error({ err, key: this.lease.key }, `lease ${what} failed`));
  }

  private failed(err: unknown, what: string): void {
    if (!this.failing) this.log.warn({ err, key: this.lease.key }, what);
    this.failing = true;
  }

  private recovered(): void {
    if (this.failing) this.log.info({ key: this.lease.key }, "Redis answers the lease again");
    this.failing = false;
  }
}

/** Waits for `work`, or for `ms` to pass, whichever is first; `work`'s rejection is thrown. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))));
  try {
    await Promise.race([work, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
