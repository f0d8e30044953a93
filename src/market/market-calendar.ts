import type { Redis } from "ioredis";
import { istParts, isSessionOpen, nseCalendar, sessionOn, type ExchangeDay, type SpecialSession } from "./calendar.js";

/**
 * The NSE calendar every process agrees on: Upstox's holiday list, fetched once a day by
 * one process and cached in Redis, read by the others. The pure rules live in calendar.ts.
 */
export class MarketCalendar {
  private holidays = new Set<string>();
  private special = new Map<string, SpecialSession>();
  private syncedAt = -Infinity;
  private feedSays: FeedSegmentStatus | undefined;
  private readonly key: string;
  private readonly feedKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly opts: { alwaysOpen: boolean; clock: () => number; maxAgeMs?: number },
  ) {
    this.key = `${prefix}:calendar:nse`;
    this.feedKey = `${prefix}:calendar:nse-feed-status`;
  }

  /**
   * Whether NSE trades at `at`. The exchange's own word from the market feed (NSE_EQ's
   * segment status) wins over the calendar for the rest of its IST day, from the moment it
   * was said: a session the holiday list does not know, or a close the calendar does not.
   */
  isOpen(at: Date): boolean {
    if (this.opts.alwaysOpen) return true;
    const said = this.feedSays;
    if (said && at.getTime() >= said.at && istDay(at.getTime()) === istDay(said.at)) return said.open;
    return this.scheduledOpen(at);
  }

  /** What the calendar alone says (holidays and special sessions, not the feed). */
  scheduledOpen(at: Date): boolean {
    return this.opts.alwaysOpen || isSessionOpen(at, this.holidays, this.special);
  }

  /**
   * Records NSE_EQ's status from the market feed for every process (Redis) and this one. Only
   * a disagreement is kept (an agreeing word leaves the calendar in charge, so a feed that
   * later goes quiet cannot hold a stale "open" past the scheduled close). Returns whether it
   * disagreed, for the caller to log.
   */
  async applyFeedStatus(status: string, at: number): Promise<{ open: boolean; disagrees: boolean }> {
    const open = status === "NORMAL_OPEN";
    const disagrees = open !== this.scheduledOpen(new Date(at));
    this.feedSays = disagrees ? { status, open, at } : undefined;
    if (disagrees) await this.redis.set(this.feedKey, JSON.stringify(this.feedSays), "PX", 86_400_000);
    else await this.redis.del(this.feedKey);
    return { open, disagrees };
  }

  /** Today's session (IST day of `at`), special sessions included; undefined on a closed day. */
  session(at: Date): { start: number; end: number } | undefined {
    if (this.opts.alwaysOpen) {
      const day = at.getTime() - ((at.getTime() + 19_800_000) % 86_400_000);
      return { start: day, end: day + 86_400_000 };
    }
    return sessionOn(at, this.holidays, this.special);
  }

  /** Whether NSE trades at all on the IST day of `at`: a normal trading day or a special session. */
  tradesOn(at: Date): boolean {
    return this.session(at) !== undefined;
  }

  /** Reloads the cached list from Redis when this process's copy is older than maxAge (10 min). */
  async sync(force = false): Promise<void> {
    const now = this.opts.clock();
    // The feed's word is one small key, read every time: it changes at the open and the close.
    const said = await this.redis.get(this.feedKey);
    this.feedSays = said ? (JSON.parse(said) as FeedSegmentStatus) : undefined;
    if (!force && now - this.syncedAt < (this.opts.maxAgeMs ?? 600_000)) return;
    const raw = await this.redis.get(this.key);
    this.syncedAt = now;
    if (raw) this.apply(JSON.parse(raw) as ExchangeDay[]);
  }

  /** Stores a freshly fetched holiday list for every process. */
  async store(days: readonly ExchangeDay[]): Promise<{ holidays: number; specialSessions: number }> {
    await this.redis.set(this.key, JSON.stringify(days));
    this.apply(days);
    this.syncedAt = this.opts.clock();
    return { holidays: this.holidays.size, specialSessions: this.special.size };
  }

  /** NSE holidays known (dates in IST). */
  holidaySet(): ReadonlySet<string> {
    return this.holidays;
  }

  /** How many holidays and special sessions are known (0 before the first fetch). */
  known(): { holidays: number; specialSessions: number } {
    return { holidays: this.holidays.size, specialSessions: this.special.size };
  }

  private apply(days: readonly ExchangeDay[]): void {
    const { holidays, special } = nseCalendar(days);
    this.holidays = holidays;
    this.special = special;
  }
}

/** NSE_EQ's status as the market feed last said it (`NORMAL_OPEN` is the only open one). */
interface FeedSegmentStatus {
  status: string;
  open: boolean;
  at: number;
}

const istDay = (ms: number) => istParts(new Date(ms)).date;
