import type { Redis } from "ioredis";
import type { Quote } from "./types.js";

/**
 * Market-poll state shared by every process through Redis: when the last poll succeeded,
 * whether an admin paused polling, and the latest quote of each instrument.
 */
export class PollState {
  private readonly lastPollKey: string;
  private readonly pausedKey: string;
  private readonly quotesKey: string;
  private readonly indicatorsKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.lastPollKey = `${prefix}:state:last-poll`;
    this.pausedKey = `${prefix}:state:polling-paused`;
    this.quotesKey = `${prefix}:quotes`;
    this.indicatorsKey = `${prefix}:indicators`;
  }

  async recordPoll(at: number, quotes: ReadonlyMap<string, Quote>): Promise<void> {
    const multi = this.redis.multi().set(this.lastPollKey, String(at));
    if (quotes.size) {
      const fields: string[] = [];
      for (const [key, q] of quotes) fields.push(key, JSON.stringify(q));
      multi.hset(this.quotesKey, ...fields);
    }
    await multi.exec();
  }

  /** The latest quotes of instruments the stream delivers, without counting as a poll. */
  async recordQuotes(quotes: ReadonlyMap<string, Quote>): Promise<void> {
    if (!quotes.size) return;
    const fields: string[] = [];
    for (const [key, q] of quotes) fields.push(key, JSON.stringify(q));
    await this.redis.hset(this.quotesKey, ...fields);
  }

  async lastPollAt(): Promise<number | null> {
    const v = await this.redis.get(this.lastPollKey);
    return v === null ? null : Number(v);
  }

  async latestQuotes(keys: readonly string[]): Promise<Map<string, Quote>> {
    const out = new Map<string, Quote>();
    if (!keys.length) return out;
    const values = await this.redis.hmget(this.quotesKey, ...keys);
    values.forEach((v, i) => v && out.set(keys[i]!, JSON.parse(v) as Quote));
    return out;
  }

  /** Latest indicator values per instrument (for /quote in any process), with the candle they are at. */
  async recordIndicators(values: ReadonlyMap<string, { ts: number; values: Record<string, unknown> }>): Promise<void> {
    if (!values.size) return;
    const fields: string[] = [];
    for (const [key, v] of values) fields.push(key, JSON.stringify(v));
    await this.redis.hset(this.indicatorsKey, ...fields);
  }

  async latestIndicators(key: string): Promise<{ ts: number; values: Record<string, unknown> } | undefined> {
    const v = await this.redis.hget(this.indicatorsKey, key);
    return v ? (JSON.parse(v) as { ts: number; values: Record<string, unknown> }) : undefined;
  }

  async isPaused(): Promise<boolean> {
    return (await this.redis.exists(this.pausedKey)) === 1;
  }

  async setPaused(paused: boolean): Promise<void> {
    if (paused) await this.redis.set(this.pausedKey, String(Date.now()));
    else await this.redis.del(this.pausedKey);
  }
}
