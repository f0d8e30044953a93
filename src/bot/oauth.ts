import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * One-time `state` values for the Upstox login link: the callback proves which chat user
 * started the login, and a state works once, for ten minutes (or the `ttlSeconds` it was
 * created with: the morning reminder's link lasts three hours).
 */
export class OAuthStates {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = 600,
  ) {}

  async create(userId: number, ttlSeconds = this.ttlSeconds): Promise<string> {
    const state = randomBytes(24).toString("base64url");
    await this.redis.set(`${this.prefix}:oauth:${state}`, String(userId), "EX", ttlSeconds);
    return state;
  }

  /** The user the state was made for, consuming it; undefined if unknown, used or expired. */
  async consume(state: string): Promise<number | undefined> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(state)) return undefined;
    const v = await this.redis.getdel(`${this.prefix}:oauth:${state}`);
    return v === null ? undefined : Number(v);
  }
}
