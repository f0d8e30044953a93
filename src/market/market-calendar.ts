import type { Redis } from "ioredis";
import { isSessionOpen, nseCalendar, sessionOn, type ExchangeDay, type SpecialSession } from "./calendar.js";

/**
 * The NSE calendar every process agrees on: Upstox's holiday list, fetched once a day by
 * one process and cached in Redis, read by the others. The pure rules live in calendar.ts.
 */
export class MarketCalendar {
  private holidays = new Set<string>();
  private special = new Map<string, SpecialSession>();
  private syncedAt = -Infinity;
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly opts: { alwaysOpen: boolean; clock: () => number; maxAgeMs?: number },
  ) {
    this.key = `${prefix}:calendar:nse`;
  }

  isOpen(at: Date): boolean {
    return this.opts.alwaysOpen || isSessionOpen(at, this.holidays, this.special);
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
