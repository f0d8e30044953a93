import type { Redis } from "ioredis";
import type { FeedState } from "../types.js";

/** A feed's state as the holder last published it, for every process to read. */
export interface PublishedFeed extends FeedState {
  /** The process holding the feed sockets (`host:pid:id`). */
  holder: string;
  /** Epoch ms of the publication. */
  updatedAt: number;
}

/**
 * How long a publication stands without a newer one: the holder publishes every second, so
 * a holder that died (or lost Redis) stops counting within this, and REST polling takes over.
 */
export const FEED_STATE_TTL_MS = 5_000;

/** Who handled the candles of a minute: the stream at the close, or the REST candle fetch. */
export type MinuteClaim = "stream" | "rest";

/**
 * The streaming feeds' state shared through Redis: what the holder publishes (each feed's
 * state, the instruments its market feed covers) and what the REST jobs read to decide what
 * is theirs (the instruments a live stream does not cover), plus the one claim per closed
 * minute that makes its candle rules run once, by the stream or by the REST fetch.
 */
export class FeedStatus {
  private readonly stateKey: string;
  private readonly coveredKey: string;
  private readonly minutePrefix: string;
  private lastCovered: readonly string[] | undefined;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.stateKey = `${prefix}:feed:state`;
    this.coveredKey = `${prefix}:feed:covered`;
    this.minutePrefix = `${prefix}:feed:minute:`;
  }

  /**
   * Publishes the feeds' states and, when it changed (by identity), the covered set. Both
   * expire unless published again within FEED_STATE_TTL_MS.
   */
  async publish(states: readonly FeedState[], holder: string, now: number, covered: readonly string[]): Promise<void> {
    const fields: string[] = [];
    for (const s of states) fields.push(s.name, JSON.stringify({ ...s, holder, updatedAt: now } satisfies PublishedFeed));
    const multi = this.redis.multi();
    if (fields.length) multi.hset(this.stateKey, ...fields).pexpire(this.stateKey, FEED_STATE_TTL_MS);
    if (covered !== this.lastCovered) {
      multi.del(this.coveredKey);
      for (let i = 0; i < covered.length; i += 1000) multi.sadd(this.coveredKey, ...covered.slice(i, i + 1000));
    }
    multi.pexpire(this.coveredKey, FEED_STATE_TTL_MS);
    await multi.exec();
    this.lastCovered = covered;
  }

  /** Forgets what this process published: on losing the lease or closing. */
  async withdraw(): Promise<void> {
    this.lastCovered = undefined;
    await this.redis.del(this.stateKey, this.coveredKey);
  }

  /** Every feed's published state that is still current. */
  async read(now: number): Promise<PublishedFeed[]> {
    const all = await this.redis.hgetall(this.stateKey);
    return Object.values(all)
      .map((v) => JSON.parse(v) as PublishedFeed)
      .filter((f) => now - f.updatedAt <= FEED_STATE_TTL_MS)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The instruments a live market feed delivers now, or undefined when no market feed is
   * live: published recently, connected, and heard from within `stallMs`.
   */
  async liveCoverage(now: number, stallMs: number): Promise<ReadonlySet<string> | undefined> {
    const feeds = await this.read(now);
    const market = feeds.find((f) => f.name !== "upstox-portfolio");
    if (!market || !isLive(market, now, stallMs)) return undefined;
    return new Set(await this.redis.smembers(this.coveredKey));
  }

  /**
   * Claims the candles of the minute starting at `minuteTs`: true when nobody had. The
   * stream's claim carries the instruments it closed, written in the same MULTI, so a reader
   * never sees the claim without them.
   */
  async claimMinute(minuteTs: number, by: MinuteClaim, covered: readonly string[] = []): Promise<boolean> {
    const key = this.minutePrefix + minuteTs;
    // One script: a MULTI would run the key writes even when the SET NX fails, and a late
    // claimant would replace the winner's instruments with its own.
    const won = await this.redis.eval(CLAIM_MINUTE, 2, key, `${key}:keys`, by, MINUTE_CLAIM_MS, ...(by === "stream" ? covered : []));
    return won === 1;
  }

  /** Who closed the minute, and for the stream, which instruments it closed. */
  async minuteClaim(minuteTs: number): Promise<{ by: MinuteClaim; keys: ReadonlySet<string> } | null> {
    const key = this.minutePrefix + minuteTs;
    const by = (await this.redis.get(key)) as MinuteClaim | null;
    if (!by) return null;
    return { by, keys: by === "stream" ? new Set(await this.redis.smembers(`${key}:keys`)) : new Set() };
  }
}

/** SET NX the claim; only when it was free, record the claimant's instruments with it. */
const CLAIM_MINUTE = `
if not redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then return 0 end
redis.call("DEL", KEYS[2])
for i = 3, #ARGV, 1000 do
  redis.call("SADD", KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call("PEXPIRE", KEYS[2], ARGV[2])
return 1`;

/** How long a minute's claim is kept: well past the REST fetch at second 5 and its retries. */
const MINUTE_CLAIM_MS = 15 * 60_000;

/** Whether a published feed is delivering: connected and heard from (a ping counts) within `stallMs`. */
export function isLive(f: PublishedFeed | FeedState, now: number, stallMs: number): boolean {
  return f.status === "connected" && f.lastMessageAt !== null && now - f.lastMessageAt <= stallMs;
}
