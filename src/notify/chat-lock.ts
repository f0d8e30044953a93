import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * One worker at a time per chat, across processes: the holder sends everything pending for
 * that chat as one message, so Telegram's one-message-a-second-per-chat limit is respected
 * and a burst of alerts arrives together instead of trickling.
 */
export class ChatLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 15_000,
  ) {
    redis.defineCommand("uabReleaseLock", { numberOfKeys: 1, lua: RELEASE });
  }

  async acquire(chatId: number): Promise<(() => Promise<void>) | undefined> {
    const key = `${this.prefix}:chatlock:${chatId}`;
    const token = randomUUID();
    const ok = await this.redis.set(key, token, "PX", this.ttlMs, "NX");
    if (ok !== "OK") return undefined;
    const redis = this.redis as Redis & { uabReleaseLock(key: string, token: string): Promise<number> };
    return async () => void (await redis.uabReleaseLock(key, token));
  }
}
