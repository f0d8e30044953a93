import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { formatRupees } from "../../format/money.js";
import { parseOrderWebhook } from "../../orders/webhook.js";
import { recordOrderSnapshot } from "../../orders/track.js";
import { recordGttSnapshot } from "../../orders/gtt-track.js";
import { Lease, LeaseKeeper } from "../../redis/lease.js";
import type { Services } from "../../services.js";
import { closeMinute } from "../../signals/candle-close.js";
import { evaluateQuotes } from "../../signals/engine.js";
import type { UpstoxSession } from "../../upstox/token-store.js";
import { MinuteBars } from "../minute-bars.js";
import { TickCoalescer } from "../tick-coalescer.js";
import type { FeedState, MarketCandle, MarketFeed, Quote, Tick } from "../types.js";
import { isLive } from "./feed-status.js";

const MINUTE = 60_000;
/** A burst of ticks of one instrument costs one evaluation per this window (the first at once). */
export const COALESCE_MS = 250;
/** Ticks of a minute may arrive this long after it closed (the feed's clock, the network). */
export const CLOSE_GRACE_MS = 1_500;
/** Watchlist and rule changes reach the subscription within this. */
const SYNC_EVERY_MS = 500;
/** State and latest quotes go to Redis this often (other processes' /quote, /healthz, the poll). */
const PUBLISH_EVERY_MS = 1_000;
/** Latest quotes go to Redis in writes of this many. */
const QUOTES_PER_WRITE = 250;
/** Linked users (and their tokens) are looked at again this often: a trader who just linked gets order updates within it. */
const USERS_EVERY_MS = 5_000;

/** The portfolio stream as the holder drives it: one socket per linked user. */
export interface PortfolioFeed {
  setUsers(users: ReadonlyArray<{ userId: number; session: () => UpstoxSession | undefined }>): void;
  state(): FeedState;
  close(): Promise<void>;
}

/** What the holder reports of each evaluated batch (the bench and tests measure with it). */
export interface StreamObserver {
  /** Per tick of the batch, ms from its frame's arrival to the batch's evaluation committed; and the alerts it fired. */
  onEvaluated?(latenciesMs: readonly number[], fired: number): void;
}

/** How the holder opens its feeds; the composition root decides which (Upstox or the simulator). */
export interface FeedFactories {
  market?: (opts: { watchdogActive: () => boolean }) => MarketFeed;
  portfolio?: (onUpdate: (userId: number, update: Record<string, unknown>) => void) => PortfolioFeed;
}

export type StreamDeps = Pick<
  Services,
  | "config"
  | "log"
  | "clock"
  | "db"
  | "redis"
  | "ruleBook"
  | "rules"
  | "users"
  | "notifier"
  | "watchlists"
  | "instruments"
  | "pollState"
  | "feedStatus"
  | "calendar"
  | "metrics"
  | "candles"
  | "indicators"
  | "timeframes"
  | "orders"
  | "gtts"
  | "upstox"
>;

/**
 * The real-time path. Every process runs one; the one holding the lease in Redis opens the
 * feed sockets (Upstox's market and portfolio feeds, or the simulator's ticks), so there is
 * never more than one subscription, and another process takes over within seconds when the
 * holder dies.
 *
 * While holding: ticks go to the same engine as polls (evaluateQuotes), coalesced per
 * instrument; one-minute bars are built from them and closed a moment after each minute
 * (closeMinute: stored, indicators, candle rules) for the instruments the feed covered the
 * whole minute, claimed in Redis so the REST candle fetch does only the rest; the feeds'
 * state and the covered instruments are published every second, which is how the REST poll
 * knows what to leave to the stream and when to take over; portfolio updates become order
 * confirmations through the same tracking as the postback and the order-book poll.
 */
export class MarketStream {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly keeper: LeaseKeeper;
  private held: HeldFeeds | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly s: StreamDeps,
    factories: FeedFactories,
    observer: StreamObserver = {},
  ) {
    const lease = new Lease(s.redis, `${s.config.redis.prefix}:feed:lease`, { owner: this.owner, ttlMs: 10_000 });
    this.keeper = new LeaseKeeper({
      lease,
      retryMs: 2_000,
      renewMs: 3_000,
      log: s.log,
      onAcquired: () => {
        s.log.info({ holder: this.owner }, "this process holds the market feeds");
        this.held = new HeldFeeds(s, factories, this.owner, observer);
        this.held.open();
      },
      onLost: async (reason) => {
        const held = this.held;
        this.held = undefined;
        if (!held) return;
        if (reason !== "closing")
          s.log.warn({ reason }, "the market feeds' lease was lost: closing the feeds here (REST polling covers until a holder is back)");
        await held.close();
      },
    });
  }

  start(): void {
    this.keeper.start();
  }

  /** Whether this process holds the feeds now. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** This process's feeds' states (none when another process holds them). */
  states(): FeedState[] {
    return this.held?.states() ?? [];
  }

  /** Closes the feeds and releases the lease; memoized. */
  close(): Promise<void> {
    return (this.closing ??= this.keeper.close().then(() => this.held?.close()));
  }
}

/** The feeds while this process holds the lease. */
class HeldFeeds {
  private readonly market: MarketFeed | undefined;
  private readonly portfolio: PortfolioFeed | undefined;
  private readonly bars = new MinuteBars();
  private readonly coalescer: TickCoalescer;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastClosedMinute: number | undefined;
  private closingMinutes = false;
  /** Latest quote per instrument, built from ticks (a tick carries no symbol or day range in ltpc mode). */
  private readonly quotes = new Map<string, Quote>();
  private readonly dirty = new Map<string, Quote>();
  private readonly symbols = new Map<string, string>();
  /** The last REST poll's prices, measured from on an instrument's first tick after a handover. */
  private handover = new Map<string, number>();
  private wanted: readonly string[] = [];
  private bookIndex: unknown;
  private watchedKeys: readonly string[] | undefined;
  private coveredSet: ReadonlySet<string> = new Set();
  private coveredList: readonly string[] = [];
  /** When each covered instrument became covered on the current connection: a minute counts only if it was covered throughout. */
  private readonly coveredSince = new Map<string, number>();
  private marketOpen = false;
  /** Counts drops: work started for one connection is not applied to the next. */
  private connection = 0;
  private paused = false;
  private lastCounts = new Map<string, { reconnects: number; decodeErrors: number }>();
  private closed = false;
  private publishing = false;

  constructor(
    private readonly s: StreamDeps,
    factories: FeedFactories,
    private readonly owner: string,
    private readonly observer: StreamObserver,
  ) {
    this.coalescer = new TickCoalescer({
      windowMs: COALESCE_MS,
      flush: (ticks) => this.evaluate(ticks),
      onError: (err) => this.fail("evaluating ticks", err),
    });
    this.market = factories.market?.({ watchdogActive: () => this.marketOpen });
    this.portfolio = factories.portfolio?.((userId, update) => this.onPortfolioUpdate(userId, update));
  }

  open(): void {
    this.marketOpen = this.s.calendar.isOpen(new Date(this.s.clock()));
    this.market?.start({
      onTicks: (ticks) => this.onTicks(ticks),
      onSegmentStatus: (status, at) => void this.onSegmentStatus(status, at).catch((err: unknown) => this.fail("segment status", err)),
      onStateChange: (state) => this.onFeedState(state),
    });
    void this.sync().catch((err: unknown) => this.fail("subscription sync", err));
    this.timers.push(setInterval(() => void this.sync().catch((err: unknown) => this.fail("subscription sync", err)), SYNC_EVERY_MS));
    this.timers.push(setInterval(() => void this.publish().catch((err: unknown) => this.fail("publishing feed state", err)), PUBLISH_EVERY_MS));
    if (this.portfolio) {
      this.syncUsers();
      this.timers.push(setInterval(() => this.syncUsers(), USERS_EVERY_MS));
    }
  }

  states(): FeedState[] {
    return [this.market?.state(), this.portfolio?.state()].filter((x): x is FeedState => x !== undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.coalescer.close();
    await Promise.all([this.market?.close(), this.portfolio?.close()]);
    for (const f of this.states()) this.s.metrics.feedConnected.set({ feed: f.name }, 0);
    await this.s.feedStatus.withdraw().catch(() => {});
  }

  // --- ticks -----------------------------------------------------------------

  private onTicks(ticks: readonly Tick[]): void {
    if (this.closed || !ticks.length) return;
    const now = this.s.clock();
    for (const t of ticks) this.bars.onTick(t, now);
    this.s.metrics.feedTicks.inc({ feed: this.market!.name }, ticks.length);
    this.coalescer.push(ticks);
  }

  /**
   * One coalesced batch through the price rules, exactly as a poll's quotes: the same engine,
   * the same rule state in SQLite, so which source saw a crossing first does not matter.
   */
  private evaluate(ticks: ReadonlyMap<string, Tick>): void {
    if (this.closed) return;
    const quotes = new Map<string, Quote>();
    for (const [key, t] of ticks) {
      const q = this.toQuote(key, t);
      quotes.set(key, q);
      this.dirty.set(key, q);
    }
    if (this.paused || !this.marketOpen) return;
    let previous: ReadonlyMap<string, number> = EMPTY;
    if (this.handover.size) {
      const from = new Map<string, number>();
      for (const key of ticks.keys()) {
        const p = this.handover.get(key);
        if (p === undefined) continue;
        from.set(key, p);
        this.handover.delete(key);
      }
      previous = from;
    }
    const s = this.s;
    const result = evaluateQuotes(quotes, previous, {
      db: s.db,
      book: s.ruleBook,
      rules: s.rules,
      users: s.users,
      notifier: s.notifier,
      now: s.clock(),
      staleAfterMs: 2 * s.config.pollIntervalSeconds * 1000,
    });
    const done = performance.now();
    const latencies: number[] | undefined = this.observer.onEvaluated ? [] : undefined;
    for (const t of ticks.values()) {
      latencies?.push(done - t.receivedAt);
      s.metrics.tickToOutbox.observe((done - t.receivedAt) / 1000);
    }
    if (latencies) this.observer.onEvaluated!(latencies, result.fired.length);
    for (const f of result.fired) {
      s.metrics.alerts.inc({ kind: f.kind });
      s.log.info(
        { ruleId: f.ruleId, userId: f.userId, signalId: f.signalId, autoPaused: f.autoPaused || undefined, source: "stream" },
        `🔔 signal: ${f.symbol} ${f.kind.replace(/_/g, " ")} at ${formatRupees(f.price)}`,
      );
    }
    if (result.notificationIds.length)
      s.notifier.queue(result.notificationIds).catch((err: unknown) => this.fail("queuing alerts (the sweeper retries them)", err));
  }

  private toQuote(key: string, t: Tick): Quote {
    const last = this.quotes.get(key);
    let symbol = this.symbols.get(key);
    if (symbol === undefined) {
      symbol = last?.symbol ?? this.s.instruments.get(key)?.tradingSymbol ?? key;
      this.symbols.set(key, symbol);
    }
    const sameDay = last !== undefined && istDay(last.lastTradeAt) === istDay(t.lastTradeAt);
    const q: Quote = {
      instrumentKey: key,
      symbol,
      lastPrice: t.lastPrice,
      open: t.day?.open ?? (sameDay ? last.open : t.lastPrice),
      high: t.day?.high ?? (sameDay ? Math.max(last.high, t.lastPrice) : t.lastPrice),
      low: t.day?.low ?? (sameDay ? Math.min(last.low, t.lastPrice) : t.lastPrice),
      prevClose: t.prevClose || last?.prevClose || 0,
      volume: t.volumeToday ?? (sameDay ? last.volume + t.lastQuantity : t.lastQuantity),
      lastTradeAt: t.lastTradeAt,
    };
    this.quotes.set(key, q);
    return q;
  }

  // --- subscription, state ---------------------------------------------------

  /** Follows watchlist and rule changes (cheap: see wantedKeys), the pause and the calendar; closes due minutes. */
  private async sync(): Promise<void> {
    if (this.closed) return;
    const s = this.s;
    const keys = this.wantedKeys();
    if (keys !== this.wanted) {
      this.wanted = keys;
      this.market?.setInstruments(keys);
      const inUse = new Set(keys);
      this.bars.forget(inUse);
      this.coalescer.forget(inUse);
      for (const k of this.quotes.keys()) if (!inUse.has(k)) this.quotes.delete(k);
      for (const k of this.symbols.keys()) if (!inUse.has(k)) this.symbols.delete(k);
    }
    await s.calendar.sync();
    const now = s.clock();
    this.marketOpen = s.calendar.isOpen(new Date(now));
    this.paused = await s.pollState.isPaused();
    this.trackCoverage(now);
    await this.closeDueMinutes().catch((err: unknown) => this.fail("closing the minute's bars", err));
  }

  /**
   * What to subscribe: the instruments the rule book alerts on and those active users watch.
   * The same as instrumentKeysInUse(), without its query over every rule each time the rules
   * version moves (every `once` rule that fires moves it; at 50,000 rules the query takes tens
   * of ms): the book is in memory and keeps its index across its own firings. The same array
   * comes back while the set is unchanged.
   */
  private wantedKeys(): readonly string[] {
    const { ruleBook, watchlists } = this.s;
    ruleBook.refresh();
    const index = ruleBook.index;
    const reloaded = index !== this.bookIndex;
    const watched = watchlists.watchedKeys(reloaded);
    if (!reloaded && watched === this.watchedKeys) return this.wanted;
    this.bookIndex = index;
    this.watchedKeys = watched;
    const keys = new Set(watched);
    for (const k of index.instrumentKeys()) if (index.forInstrument(k).length) keys.add(k);
    if (keys.size === this.wanted.length && this.wanted.every((k) => keys.has(k))) return this.wanted;
    return [...keys];
  }

  private trackCoverage(now: number): void {
    const covered = this.market?.covered() ?? new Set<string>();
    if (covered !== this.coveredSet || covered.size !== this.coveredList.length) {
      this.coveredSet = covered;
      this.coveredList = [...covered];
    }
    for (const k of this.coveredSince.keys()) if (!covered.has(k)) this.coveredSince.delete(k);
    const fresh: string[] = [];
    for (const k of covered)
      if (!this.coveredSince.has(k)) {
        this.coveredSince.set(k, now);
        fresh.push(k);
      }
    // Newly covered instruments: their first tick is measured from the last REST price (an
    // answer that comes back after a drop, or after the first tick, is not used).
    if (fresh.length) {
      const generation = this.connection;
      void this.s.pollState
        .latestQuotes(fresh)
        .then((qs) => {
          if (generation !== this.connection) return;
          for (const [k, q] of qs) if (!this.quotes.has(k)) this.handover.set(k, q.lastPrice);
        })
        .catch(() => {});
    }
  }

  private onFeedState(state: FeedState): void {
    if (state.status !== "connected") {
      // A drop ends every instrument's unbroken coverage: the minutes it spans are REST's.
      this.coveredSince.clear();
      this.handover.clear();
      this.connection++;
    }
    void this.publish().catch((err: unknown) => this.fail("publishing feed state", err));
  }

  private async publish(): Promise<void> {
    if (this.closed || this.publishing) return;
    this.publishing = true;
    try {
      const s = this.s;
      const now = s.clock();
      this.trackCoverage(now);
      const states = this.states();
      for (const f of states) {
        s.metrics.feedConnected.set({ feed: f.name }, f.status === "connected" ? 1 : 0);
        const before = this.lastCounts.get(f.name);
        if (before && f.reconnectsToday > before.reconnects) s.metrics.feedReconnects.inc({ feed: f.name }, f.reconnectsToday - before.reconnects);
        if (before && f.decodeErrors > before.decodeErrors) s.metrics.feedDecodeErrors.inc({ feed: f.name }, f.decodeErrors - before.decodeErrors);
        this.lastCounts.set(f.name, { reconnects: f.reconnectsToday, decodeErrors: f.decodeErrors });
      }
      const market = this.market?.state();
      const live = market !== undefined && isLive(market, now, s.config.marketData.stallSeconds * 1000);
      await s.feedStatus.publish(states, this.owner, now, live ? this.coveredList : []);
      // A few hundred at a time, each write awaited: serializing 2,000 quotes at once held
      // the event loop ~8 ms, and frames read in that turn waited behind it.
      const changed = [...this.dirty];
      this.dirty.clear();
      for (let i = 0; i < changed.length; i += QUOTES_PER_WRITE) await s.pollState.recordQuotes(new Map(changed.slice(i, i + QUOTES_PER_WRITE)));
    } finally {
      this.publishing = false;
    }
  }

  private async onSegmentStatus(status: Readonly<Record<string, string>>, at: number): Promise<void> {
    const nse = status.NSE_EQ;
    // The simulator's market is the calendar's; only the exchange's own word can overrule it.
    if (!nse || this.market?.name === "simulator") return;
    const { open, disagrees } = await this.s.calendar.applyFeedStatus(nse, at);
    this.marketOpen = this.s.calendar.isOpen(new Date(this.s.clock()));
    if (disagrees)
      this.s.log.warn(
        { segment: "NSE_EQ", status: nse },
        `Upstox says NSE_EQ is ${nse} while the calendar says ${open ? "closed" : "open"}: going by Upstox for the rest of the day`,
      );
  }

  // --- minute close ----------------------------------------------------------

  /**
   * Closes every minute that ended at least CLOSE_GRACE_MS ago and is not closed yet. Looked
   * at twice a second (with the subscription), not on a timer set for the boundary: a clock
   * that jumps (a VM resumed, a test's clock) cannot leave a minute unclosed.
   */
  private async closeDueMinutes(): Promise<void> {
    if (this.closingMinutes) return;
    this.closingMinutes = true;
    try {
      const due = Math.floor((this.s.clock() - CLOSE_GRACE_MS) / MINUTE) * MINUTE - MINUTE;
      if (this.lastClosedMinute === undefined) this.lastClosedMinute = due;
      while (this.lastClosedMinute < due && !this.closed) {
        this.lastClosedMinute += MINUTE;
        await this.closeMinute(this.lastClosedMinute);
      }
    } finally {
      this.closingMinutes = false;
    }
  }

  /**
   * The minute that just closed, for the instruments covered all of it: its bars stored and
   * run through the candle rules, once, claimed against the REST candle fetch.
   */
  private async closeMinute(minute: number): Promise<void> {
    const s = this.s;
    const now = s.clock();
    const bars = this.bars.take(minute);
    if (this.closed || this.paused || !s.calendar.isOpen(new Date(minute))) return;
    const market = this.market?.state();
    // Connected since before the minute began and heard from within the stall limit: a socket
    // that is up but silent (not yet caught by the watchdog) must not claim bars it never got.
    if (!market || market.since > minute || !isLive(market, now, s.config.marketData.stallSeconds * 1000)) return;
    const whole: string[] = [];
    for (const [k, since] of this.coveredSince) if (since <= minute && this.market!.exactBars(k)) whole.push(k);
    if (!whole.length) return;
    if (!(await s.feedStatus.claimMinute(minute, "stream", whole))) return;
    const candles = new Map<string, MarketCandle>();
    for (const k of whole) {
      const bar = bars.get(k);
      if (bar) candles.set(k, bar);
    }
    await closeMinute(s, candles, now);
  }

  // --- portfolio ---------------------------------------------------------------

  private syncUsers(): void {
    const upstox = this.s.upstox;
    if (!upstox || !this.portfolio || this.closed) return;
    this.portfolio.setUsers(upstox.tokens.linkedUserIds().map((userId) => ({ userId, session: () => upstox.tokens.session(userId) })));
  }

  /** An order update is tracked like the postback's: each transition told once, whichever source says it first. */
  private onPortfolioUpdate(userId: number, update: Record<string, unknown>): void {
    const s = this.s;
    const type = typeof update.update_type === "string" ? update.update_type : "order";
    s.metrics.portfolioUpdates.inc({ type });
    const parsed = parseOrderWebhook(update);
    if (parsed.kind === "ignored") return void s.log.debug({ userId, type }, "portfolio update not tracked");
    if (parsed.kind === "invalid") return void s.log.warn({ userId, type, issues: parsed.error.issues }, "portfolio stream sent an update we cannot read");
    try {
      const now = s.clock();
      const ids =
        parsed.kind === "gtt"
          ? recordGttSnapshot({ db: s.db, gtts: s.gtts, notifier: s.notifier, users: s.users, now }, userId, parsed.snapshot)
          : recordOrderSnapshot({ db: s.db, orders: s.orders, notifier: s.notifier, users: s.users, now }, userId, parsed.snapshot);
      if (ids.length) s.notifier.queue(ids).catch((err: unknown) => this.fail("queuing order confirmations (the sweeper retries them)", err));
    } catch (err) {
      this.fail(`recording ${parsed.kind === "gtt" ? "a GTT" : "an order"} update`, err);
    }
  }

  private fail(what: string, err: unknown): void {
    this.s.metrics.errors.inc({ where: "stream" });
    this.s.log.error({ err }, `market stream: ${what} failed`);
  }
}

const EMPTY: ReadonlyMap<string, number> = new Map();
/** IST is UTC+05:30: the IST day number of an instant. */
const istDay = (ms: number) => Math.floor((ms + 19_800_000) / 86_400_000);
