/**
 * Telegram's flood limits, as the Bot FAQ states them ("avoid more than one message per
 * second in a chat; short bursts may go over", "no more than 30 messages per second"
 * overall, "no more than 20 messages per minute to the same group"). The exact server
 * algorithm is not published; this is the model the fake enforces, driven by its `now()`:
 *
 * - per chat: a token bucket holding `chatBurst` tokens (default 3), refilled at
 *   `chatPerSecond` (default 1) a second. A send takes one token.
 * - groups and supergroups (chat id < 0) also: at most `groupPerMinute` (default 20) sends in
 *   any sliding 60 s window.
 * - across all chats: at most `globalPerSecond` (default 30) sends in any sliding 1 s window.
 *
 * Only sends count (sendMessage, sendDocument, sendPhoto); a refused send takes nothing.
 * `retry_after` is the whole number of seconds (at least 1) until every limit that refused
 * the send would let it through.
 */

export interface FloodLimitOptions {
  chatBurst?: number;
  chatPerSecond?: number;
  globalPerSecond?: number;
  groupPerMinute?: number;
}

export const DEFAULT_FLOOD_LIMITS: Required<FloodLimitOptions> = {
  chatBurst: 3,
  chatPerSecond: 1,
  globalPerSecond: 30,
  groupPerMinute: 20,
};

export type FloodResult = { ok: true } | { ok: false; retryAfter: number; limit: "chat" | "group" | "global" };

interface Bucket {
  tokens: number;
  at: number;
}

export class FloodLimiter {
  readonly limits: Required<FloodLimitOptions>;
  private readonly buckets = new Map<number, Bucket>();
  private readonly groupLogs = new Map<number, number[]>();
  private globalLog: number[] = [];

  constructor(opts: FloodLimitOptions = {}) {
    this.limits = { ...DEFAULT_FLOOD_LIMITS, ...opts };
  }

  /** Takes a slot for a send into `chatId` at `now`, or says how long to wait. */
  take(chatId: number, now: number): FloodResult {
    const { chatBurst, chatPerSecond, globalPerSecond, groupPerMinute } = this.limits;
    let waitMs = 0;
    let limit: "chat" | "group" | "global" = "chat";
    const refuse = (ms: number, which: typeof limit) => {
      if (ms > waitMs) {
        waitMs = ms;
        limit = which;
      }
    };

    const b = this.buckets.get(chatId) ?? { tokens: chatBurst, at: now };
    const elapsed = Math.max(0, now - b.at);
    const tokens = Math.min(chatBurst, b.tokens + (elapsed / 1000) * chatPerSecond);
    if (tokens < 1) refuse(((1 - tokens) / chatPerSecond) * 1000, "chat");

    const group = chatId < 0 ? (this.groupLogs.get(chatId) ?? []).filter((t) => t > now - 60_000 && t <= now) : [];
    if (chatId < 0 && group.length >= groupPerMinute) refuse(group[group.length - groupPerMinute]! + 60_000 - now, "group");

    this.globalLog = this.globalLog.filter((t) => t > now - 1000 && t <= now);
    if (this.globalLog.length >= globalPerSecond) refuse(this.globalLog[this.globalLog.length - globalPerSecond]! + 1000 - now, "global");

    if (waitMs > 0) {
      this.buckets.set(chatId, { tokens, at: Math.max(now, b.at) });
      return { ok: false, retryAfter: Math.max(1, Math.ceil(waitMs / 1000)), limit };
    }
    this.buckets.set(chatId, { tokens: tokens - 1, at: Math.max(now, b.at) });
    if (chatId < 0) {
      group.push(now);
      this.groupLogs.set(chatId, group);
    }
    this.globalLog.push(now);
    return { ok: true };
  }

  reset(): void {
    this.buckets.clear();
    this.groupLogs.clear();
    this.globalLog = [];
  }
}
