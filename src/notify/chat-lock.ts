import type { Redis } from "ioredis";

// KEYS: the chat's holder key, its "more work arrived" flag. ARGV: holder, ttl ms.
// Takes the chat when it is free (or already this holder's, re-arming the expiry): 1.
// Otherwise raises the flag, so the holder looks again before it lets go: 0.
const CLAIM = `
local h = redis.call('GET', KEYS[1])
if not h or h == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 0
`;

// KEYS: holder key, flag. ARGV: holder, 1 to let go only when no work arrived meanwhile.
// Returns 1 when let go (or not held), 0 when the flag was up (now cleared: look again).
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 1 end
if ARGV[2] == '1' and redis.call('DEL', KEYS[2]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

type LockRedis = Redis & {
  uabChatClaim(k: string, f: string, holder: string, ttl: number): Promise<number>;
  uabChatRelease(k: string, f: string, holder: string, ifDone: number): Promise<number>;
};

/**
 * One sender per chat at a time, across processes. The holder (a notify job, by its job id)
 * sends the chat's pending rows oldest first, grouped as far as one message holds, one
 * message per chat slot, until none is left; so a burst into one chat arrives in order,
 * each row once, at the chat's one message a second. A job that finds the chat held raises
 * a flag instead of waiting in turn: the holder looks again before it lets go, so a row that
 * arrived after its last look is not left behind.
 *
 * The hold expires by itself (`ttlMs` after the holder's last claim) if its process dies.
 */
export class ChatLocks {
  private readonly redis: LockRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    readonly ttlMs = 15_000,
  ) {
    redis.defineCommand("uabChatClaim", { numberOfKeys: 2, lua: CLAIM });
    redis.defineCommand("uabChatRelease", { numberOfKeys: 2, lua: RELEASE });
    this.redis = redis as LockRedis;
  }

  private keys(chatId: number): [string, string] {
    return [`${this.prefix}:chatlock:${chatId}`, `${this.prefix}:chatlock:${chatId}:more`];
  }

  /**
   * Takes the chat for `holder`, or keeps it for `holder` (for `ttlMs`, or longer when the
   * holder will be away a while, e.g. delayed until its next chat slot). False: another holds it.
   */
  async claim(chatId: number, holder: string, holdMs = this.ttlMs): Promise<boolean> {
    const [key, flag] = this.keys(chatId);
    return (await this.redis.uabChatClaim(key, flag, holder, Math.max(1, Math.round(holdMs)))) === 1;
  }

  /** Lets go unless work arrived since the holder's last look: false means look again (and call this again). */
  async releaseIfDone(chatId: number, holder: string): Promise<boolean> {
    const [key, flag] = this.keys(chatId);
    return (await this.redis.uabChatRelease(key, flag, holder, 1)) === 1;
  }

  /** Lets go whatever is pending (a failed or refused send: the rows' own jobs carry on). */
  async release(chatId: number, holder: string): Promise<void> {
    const [key, flag] = this.keys(chatId);
    await this.redis.uabChatRelease(key, flag, holder, 0);
  }

  async holds(chatId: number, holder: string): Promise<boolean> {
    return (await this.redis.get(this.keys(chatId)[0])) === holder;
  }
}
