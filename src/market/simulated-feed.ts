import { SIMULATED_INSTRUMENTS, type MarketSimulator } from "./simulator.js";
import type { FeedHandlers, FeedState, MarketFeed, Tick } from "./types.js";

const KNOWN_KEYS: ReadonlySet<string> = new Set(SIMULATED_INSTRUMENTS.map((i) => i.instrumentKey));

export interface SimulatedMarketFeedOptions {
  simulator: MarketSimulator;
  /** How often the simulator is looked at (ms): each price move is ticked within this. */
  everyMs?: number;
  /** The bot's clock, epoch ms (the simulator's, in the demo). */
  now?: () => number;
}

interface LastSeen {
  price: number;
  volume: number;
  /** Start of the simulator's last closed bar this instrument's ticks carried. */
  barTs: number | undefined;
}

/**
 * The built-in simulator as a streaming feed, so a demo runs the same real-time path as an
 * Upstox account: the simulator is looked at every `everyMs`, and each instrument whose price
 * or volume moved since is ticked. An instrument's first tick is a snapshot of its last trade
 * (quantity 0), as Upstox sends one after a subscription.
 *
 * Like Upstox's full mode, a tick carries `volumeToday`, the day's open, high and low, and,
 * on the first move of a new minute, the simulator's own bar of the minute just closed, so the
 * bars built from ticks equal the simulator's candles. Keys the simulator does not know do
 * not exist: they count as over the limit and stay with the REST poll.
 */
export class SimulatedMarketFeed implements MarketFeed {
  readonly name = "simulator";
  private readonly simulator: MarketSimulator;
  private readonly everyMs: number;
  private readonly now: () => number;

  private handlers: FeedHandlers | undefined;
  private status: FeedState["status"] = "stopped";
  private since: number;
  private lastMessageAt: number | null = null;
  private lastError: string | undefined;
  private wanted: ReadonlySet<string> = new Set();
  /** Replaced, never changed, when it changes: callers may compare it by identity. */
  private coveredKeys: ReadonlySet<string> = new Set();
  private readonly lastSeen = new Map<string, LastSeen>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: SimulatedMarketFeedOptions) {
    this.simulator = opts.simulator;
    this.everyMs = opts.everyMs ?? 300;
    if (!(this.everyMs > 0)) throw new Error(`SimulatedMarketFeed everyMs must be positive (got ${this.everyMs})`);
    this.now = opts.now ?? Date.now;
    this.since = this.now();
  }

  start(handlers: FeedHandlers): void {
    if (this.handlers || this.closing) return;
    this.handlers = handlers;
    this.setStatus("connected");
    this.cover();
    this.changed();
    // The simulator's market is open whenever the bot's calendar says so.
    this.guard(() => handlers.onSegmentStatus?.({ NSE_EQ: "NORMAL_OPEN" }, this.now()));
    this.timer = setInterval(() => this.poll(), this.everyMs);
    this.poll();
  }

  setInstruments(instrumentKeys: readonly string[]): void {
    this.wanted = new Set(instrumentKeys);
    if (this.status !== "connected") return;
    const before = this.coveredKeys;
    this.cover();
    if (!sameKeys(before, this.coveredKeys)) this.changed();
  }

  /** The simulator's ticks carry each closed minute's own bar. */
  exactBars(): boolean {
    return true;
  }

  covered(): ReadonlySet<string> {
    return this.coveredKeys;
  }

  state(): FeedState {
    let unknown = 0;
    for (const key of this.wanted) if (!KNOWN_KEYS.has(key)) unknown++;
    return {
      name: this.name,
      status: this.status,
      subscribed: this.coveredKeys.size,
      overLimit: unknown,
      lastMessageAt: this.lastMessageAt,
      since: this.since,
      reconnectsToday: 0,
      decodeErrors: 0,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const wasStarted = this.status === "connected";
    this.setStatus("stopped");
    this.coveredKeys = new Set();
    this.lastSeen.clear();
    await this.polling;
    if (wasStarted) this.changed();
  }

  /** Covers the wanted keys the simulator knows; an instrument covered anew starts with a snapshot. */
  private cover(): void {
    const covered = new Set<string>();
    for (const key of this.wanted) if (KNOWN_KEYS.has(key)) covered.add(key);
    if (!sameKeys(covered, this.coveredKeys)) this.coveredKeys = covered;
    for (const key of this.lastSeen.keys()) if (!covered.has(key)) this.lastSeen.delete(key);
  }

  private poll(): void {
    // A poll still running (a slow consumer) is simply not doubled.
    if (this.polling || this.status !== "connected") return;
    this.polling = this.tick()
      .catch((err: unknown) => void (this.lastError = err instanceof Error ? err.message : String(err)))
      .finally(() => (this.polling = undefined));
  }

  private async tick(): Promise<void> {
    const keys = [...this.coveredKeys];
    const quotes = await this.simulator.getQuotes(keys);
    const closedBars = await this.simulator.getLastClosedCandles(keys);
    if (this.status !== "connected") return;
    const now = this.now();
    const receivedAt = performance.now();
    this.lastMessageAt = now;
    const ticks: Tick[] = [];
    for (const key of keys) {
      const q = quotes.get(key);
      // Unsubscribed while the simulator was being asked: no tick for it.
      if (!q || !this.coveredKeys.has(key)) continue;
      const seen = this.lastSeen.get(key);
      if (seen && q.lastPrice === seen.price && q.volume === seen.volume) continue;
      const bar = closedBars.get(key);
      const newBar = bar && bar.ts !== seen?.barTs ? bar : undefined;
      // After midnight the day's volume starts again from zero.
      const traded = seen ? (q.volume >= seen.volume ? q.volume - seen.volume : q.volume) : 0;
      ticks.push({
        instrumentKey: key,
        lastPrice: q.lastPrice,
        lastTradeAt: q.lastTradeAt || now,
        lastQuantity: traded,
        prevClose: q.prevClose,
        volumeToday: q.volume,
        day: { open: q.open, high: q.high, low: q.low },
        ...(newBar ? { minuteBars: [newBar] } : {}),
        receivedAt,
      });
      this.lastSeen.set(key, { price: q.lastPrice, volume: q.volume, barTs: bar?.ts ?? seen?.barTs });
    }
    const handlers = this.handlers;
    if (ticks.length > 0 && handlers) this.guard(() => handlers.onTicks(ticks));
  }

  private setStatus(status: FeedState["status"]): void {
    if (status === this.status) return;
    this.status = status;
    this.since = this.now();
  }

  private changed(): void {
    const handlers = this.handlers;
    if (handlers?.onStateChange) this.guard(() => handlers.onStateChange!(this.state()));
  }

  /** A consumer's error must not stop the ticks: it is kept as the feed's last error. */
  private guard(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const key of a) if (!b.has(key)) return false;
  return true;
}
