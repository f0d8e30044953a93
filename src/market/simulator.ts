import { istInstant, istParts } from "./calendar.js";
import type { CandleSource, HistoryOptions, InstrumentInfo, MarketCandle, Quote, QuoteSource } from "./types.js";

/**
 * A deterministic market for running the bot without an Upstox account: a handful of
 * real NSE symbols moving as seeded random walks. The same seed and the same clock give
 * the same prices, so demos and tests are repeatable.
 */

interface SimulatedSymbol {
  symbol: string;
  isin: string;
  name: string;
  /** Previous close, in rupees, of the order the stock actually trades at. */
  prevClose: number;
  /** Volume traded per simulated second, on average. */
  volumePerStep: number;
}

export const SIMULATED_SYMBOLS: readonly SimulatedSymbol[] = [
  { symbol: "RELIANCE", isin: "INE002A01018", name: "RELIANCE INDUSTRIES LTD", prevClose: 1418.6, volumePerStep: 900 },
  { symbol: "TCS", isin: "INE467B01029", name: "TATA CONSULTANCY SERV LT", prevClose: 3452.3, volumePerStep: 220 },
  { symbol: "INFY", isin: "INE009A01021", name: "INFOSYS LIMITED", prevClose: 1587.45, volumePerStep: 600 },
  { symbol: "HDFCBANK", isin: "INE040A01034", name: "HDFC BANK LTD", prevClose: 1724.1, volumePerStep: 850 },
  { symbol: "ICICIBANK", isin: "INE090A01021", name: "ICICI BANK LTD.", prevClose: 1251.8, volumePerStep: 700 },
  { symbol: "SBIN", isin: "INE062A01020", name: "STATE BANK OF INDIA", prevClose: 818.35, volumePerStep: 1200 },
];

export const SIMULATED_INSTRUMENTS: readonly InstrumentInfo[] = SIMULATED_SYMBOLS.map((s) => ({
  instrumentKey: `NSE_EQ|${s.isin}`,
  tradingSymbol: s.symbol,
  name: s.name,
  exchange: "NSE",
  segment: "NSE_EQ",
  instrumentType: "EQ",
  isin: s.isin,
  lotSize: 1,
  tickSize: 0.05,
}));

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Box-Muller. Always takes exactly two draws (history replays count on it: see STEP_DRAWS). */
function gaussian(rand: () => number): number {
  const u = Math.max(rand(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * Rounds to the tick and to paise, so a price is 1427.85, never 1427.8500000000001. Whole
 * paise divided by 100 is the double nearest the decimal price, the same number
 * `Number(x.toFixed(2))` gives, at a fraction of the cost (the walk rounds every step).
 */
const roundToTick = (price: number, tick = 0.05) => (Math.round(price / tick) * Math.round(tick * 100)) / 100;

interface State {
  info: SimulatedSymbol;
  key: string;
  price: number;
  open: number;
  high: number;
  low: number;
  volume: number;
  lastTradeAt: number;
  /** The one-minute bar still being built (the minute of the latest step), if any. */
  bar: MarketCandle | null;
  /** The most recently closed one-minute bar. Never mutated once closed. */
  lastClosed: MarketCandle | null;
}

export interface SimulatorOptions {
  seed: number;
  /** The simulated clock; one step is taken per `stepMs` of it. */
  now?: () => number;
  stepMs?: number;
  /** Standard deviation of one step's return (0.0005 = 0.05 %). */
  volatility?: number;
}

/** FNV-1a over the seed and the day, so each IST day has its own reproducible walk. */
function daySeed(seed: number, day: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < day.length; i++) h = Math.imul(h ^ day.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The longest span `getCandleHistory` replays in one call. */
export const MAX_CANDLE_HISTORY_MS = 10 * DAY_MS;

/** The start (epoch ms) of the IST day `day` (YYYY-MM-DD). IST has no DST, so every day is 24 h. */
const dayStartOf = (day: string) => istInstant(day, 0).getTime();
const shiftDay = (day: string, days: number) => istParts(new Date(dayStartOf(day) + days * DAY_MS)).date;
/** IST is UTC+05:30, so IST minutes are epoch minutes and IST midnight is a minute boundary. */
const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/**
 * Random draws one symbol takes from the day's shared stream: two (one gaussian) for the
 * session's opening price, three (a gaussian and the volume draw) per step. A walker that
 * follows only some symbols burns exactly these for the others, so the stream stays aligned.
 */
const OPEN_DRAWS = 2;
const STEP_DRAWS = 3;

/**
 * One deterministic walk through IST days: the live market, or a throw-away replay for
 * candle history. Both run this same code, so a replayed candle equals the live one.
 */
class Walker {
  day = "";
  private dayEnd = 0;
  private clock = 0;
  private rand: () => number = Math.random;
  /** In SIMULATED_SYMBOLS order (the order draws are taken); null for symbols not followed. */
  private slots: (State | null)[] = [];
  readonly states = new Map<string, State>();

  constructor(
    private readonly seed: number,
    private readonly stepMs: number,
    private readonly volatility: number,
    /** Follow only this instrument key (the others' draws are burnt); all when undefined. */
    private readonly only?: string,
    /** Called with every bar as it closes. */
    private readonly onClose?: (key: string, bar: MarketCandle) => void,
  ) {}

  /**
   * Each IST day's walk starts at that day's midnight from the day's seed, so every process
   * (a `--role=worker` started later, say) sees the same price at the same moment. The
   * opening price is the first trade of the day's 00:00 bar.
   */
  startDay(day: string): void {
    this.day = day;
    this.clock = dayStartOf(day);
    this.dayEnd = this.clock + DAY_MS;
    this.rand = seededRandom(daySeed(this.seed, day));
    this.states.clear();
    this.slots = [];
    for (const info of SIMULATED_SYMBOLS) {
      const key = `NSE_EQ|${info.isin}`;
      if (this.only !== undefined && key !== this.only) {
        for (let i = 0; i < OPEN_DRAWS; i++) this.rand();
        this.slots.push(null);
        continue;
      }
      // The session opens a little away from the previous close, as real sessions do.
      const open = roundToTick(info.prevClose * (1 + gaussian(this.rand) * 0.004));
      const s: State = {
        info,
        key,
        price: open,
        open,
        high: open,
        low: open,
        volume: 0,
        lastTradeAt: this.clock,
        bar: { ts: minuteOf(this.clock), open, high: open, low: open, close: open, volume: 0 },
        lastClosed: null,
      };
      this.states.set(key, s);
      this.slots.push(s);
    }
  }

  /**
   * Steps up to `target` without leaving the current day (a step at or past the next
   * midnight belongs to the next day's walk), then closes every bar whose minute has ended
   * by `target`.
   */
  runTo(target: number): void {
    while (this.clock + this.stepMs <= target && this.clock + this.stepMs < this.dayEnd) {
      this.clock += this.stepMs;
      for (const s of this.slots) {
        if (s) this.step(s);
        else for (let i = 0; i < STEP_DRAWS; i++) this.rand();
      }
    }
    for (const s of this.slots) if (s?.bar && s.bar.ts + MINUTE_MS <= target) this.closeBar(s);
  }

  private step(s: State): void {
    // A gentle pull back towards the previous close keeps a week-long demo realistic.
    const pull = ((s.info.prevClose - s.price) / s.info.prevClose) * 0.002;
    const next = roundToTick(s.price * (1 + pull + gaussian(this.rand) * this.volatility));
    s.price = Math.max(0.05, next);
    s.high = Math.max(s.high, s.price);
    s.low = Math.min(s.low, s.price);
    const traded = Math.round(s.info.volumePerStep * (0.5 + this.rand()));
    s.volume += traded;
    s.lastTradeAt = this.clock;

    // The step at `clock` is a trade in the minute containing `clock`.
    const minute = minuteOf(this.clock);
    if (s.bar && s.bar.ts !== minute) this.closeBar(s);
    if (!s.bar) {
      s.bar = { ts: minute, open: s.price, high: s.price, low: s.price, close: s.price, volume: traded };
    } else {
      const bar = s.bar;
      if (s.price > bar.high) bar.high = s.price;
      if (s.price < bar.low) bar.low = s.price;
      bar.close = s.price;
      bar.volume += traded;
    }
  }

  private closeBar(s: State): void {
    const bar = s.bar;
    if (!bar) return;
    s.lastClosed = bar;
    s.bar = null;
    this.onClose?.(s.key, bar);
  }
}

/**
 * The simulated market, as a quote source and as a one-minute candle source.
 *
 * Candles: each step at instant `t` is a trade in the wall-clock minute containing `t` (the
 * day's opening price is the first trade of its 00:00 bar), so a bar holds exactly the prices
 * `getQuotes` reports during that minute. A bar closes once the clock reaches the end of its
 * minute. The simulator trades around the clock, every minute of every day; with `stepMs`
 * above a minute some minutes hold no trade and have no bar.
 */
export class MarketSimulator implements QuoteSource, CandleSource {
  readonly name = "simulator";
  private readonly now: () => number;
  private readonly seed: number;
  private readonly stepMs: number;
  private readonly volatility: number;
  private readonly live: Walker;
  /** The previous IST day, while it is needed for the last closed bar but was never walked. */
  private unwalkedPrevDay: string | null = null;

  constructor(opts: SimulatorOptions) {
    this.seed = opts.seed;
    this.now = opts.now ?? Date.now;
    this.stepMs = opts.stepMs ?? 1000;
    this.volatility = opts.volatility ?? 0.0006;
    this.live = new Walker(this.seed, this.stepMs, this.volatility);
    this.advance();
  }

  /** Moves every symbol forward to the simulated clock's current time. */
  advance(): void {
    const target = this.now();
    const day = istParts(new Date(target)).date;
    if (day !== this.live.day) this.changeDay(day, target);
    this.live.runTo(target);
  }

  /**
   * Starts the live walk on `day`. In the day's first minute no bar of the day has closed yet,
   * so the last closed bar is the previous day's 23:59 bar: the live walk finishes the previous
   * day when it was walking it; otherwise (the simulator started, or the clock jumped, into a
   * day's first minute) `getLastClosedCandles` replays that day on demand. This keeps the last
   * closed candle a function of the clock alone, however often the simulator is polled.
   */
  private changeDay(day: string, target: number): void {
    const start = dayStartOf(day);
    const prevDay = shiftDay(day, -1);
    let carried: Map<string, MarketCandle | null> | undefined;
    this.unwalkedPrevDay = null;
    if (target < start + MINUTE_MS) {
      if (this.live.day === prevDay) {
        this.live.runTo(start);
        carried = new Map([...this.live.states].map(([key, s]) => [key, s.lastClosed]));
      } else {
        this.unwalkedPrevDay = prevDay;
      }
    }
    this.live.startDay(day);
    if (carried) for (const s of this.live.states.values()) s.lastClosed = carried.get(s.key) ?? null;
  }

  /** Fills in the previous day's 23:59 bars when the live walk never walked that day (see changeDay). */
  private fillFromUnwalkedPrevDay(): void {
    const prevDay = this.unwalkedPrevDay;
    if (prevDay === null) return;
    this.unwalkedPrevDay = null;
    const states = [...this.live.states.values()];
    // Once the day's 00:00 bar has closed, the previous day no longer matters.
    if (states.every((s) => s.lastClosed)) return;
    const prev = new Walker(this.seed, this.stepMs, this.volatility);
    prev.startDay(prevDay);
    prev.runTo(dayStartOf(this.live.day));
    for (const s of states) s.lastClosed ??= prev.states.get(s.key)?.lastClosed ?? null;
  }

  async getQuotes(instrumentKeys: readonly string[]): Promise<Map<string, Quote>> {
    this.advance();
    const out = new Map<string, Quote>();
    for (const key of instrumentKeys) {
      const s = this.live.states.get(key);
      // Unknown keys are simply absent, as in Upstox's quote map.
      if (!s) continue;
      out.set(key, {
        instrumentKey: key,
        symbol: s.info.symbol,
        lastPrice: Number(s.price.toFixed(2)),
        open: s.open,
        high: Number(s.high.toFixed(2)),
        low: Number(s.low.toFixed(2)),
        prevClose: s.info.prevClose,
        volume: s.volume,
        lastTradeAt: s.lastTradeAt,
      });
    }
    return out;
  }

  /**
   * The most recently closed one-minute bar of each known key: normally the minute before the
   * current one; in the first minute of an IST day, the previous day's 23:59 bar. Unknown keys
   * are absent.
   */
  async getLastClosedCandles(instrumentKeys: readonly string[]): Promise<Map<string, MarketCandle>> {
    this.advance();
    this.fillFromUnwalkedPrevDay();
    const out = new Map<string, MarketCandle>();
    for (const key of instrumentKeys) {
      const bar = this.live.states.get(key)?.lastClosed;
      if (bar) out.set(key, { ...bar });
    }
    return out;
  }

  /**
   * Closed one-minute candles of `instrumentKey` with `fromMs <= ts < toMs`, oldest first,
   * replayed from each IST day's midnight by a separate walker (the live walk is untouched),
   * so they equal what `getLastClosedCandles` gave as each minute closed. `toMs` is clamped
   * to the current minute (bars not yet closed are left out); the clamped span may be at most
   * MAX_CANDLE_HISTORY_MS (10 days), else this throws. Unknown keys give an empty array.
   *
   * A replay costs CPU for every day walked (about 20 ms a day, on the event loop), so with
   * `atLeast` the days are walked newest first and the walk stops once it holds that many
   * candles, as a source that pays per call stops early.
   */
  async getCandleHistory(instrumentKey: string, fromMs: number, toMs: number, opts: HistoryOptions = {}): Promise<MarketCandle[]> {
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
      throw new Error(`getCandleHistory: fromMs and toMs must be finite epoch ms (got ${fromMs}, ${toMs})`);
    }
    if (!SIMULATED_SYMBOLS.some((s) => `NSE_EQ|${s.isin}` === instrumentKey)) return [];
    const end = Math.min(toMs, minuteOf(this.now()));
    if (end <= fromMs) return [];
    if (end - fromMs > MAX_CANDLE_HISTORY_MS) {
      const days = (end - fromMs) / DAY_MS;
      throw new Error(
        `getCandleHistory: the simulator replays at most ${MAX_CANDLE_HISTORY_MS / DAY_MS} days of candles per call; ` +
          `asked for ${days.toFixed(2)} days (${new Date(fromMs).toISOString()} to ${new Date(end).toISOString()})`,
      );
    }
    let dayBars: MarketCandle[] = [];
    const walker = new Walker(this.seed, this.stepMs, this.volatility, instrumentKey, (_key, bar) => {
      if (bar.ts >= fromMs && bar.ts < end) dayBars.push(bar);
    });
    // Walk far enough to close the bar of the minute containing `end - 1`.
    const until = minuteOf(end - 1) + MINUTE_MS;
    const days: string[] = [];
    for (let day = istParts(new Date(fromMs)).date; dayStartOf(day) < end; day = shiftDay(day, 1)) days.push(day);
    // Each day's walk starts afresh from the day's seed, so the days can be walked in any order.
    const newestFirst: MarketCandle[][] = [];
    let held = 0;
    for (let i = days.length - 1; i >= 0 && !(opts.atLeast !== undefined && held >= opts.atLeast); i--) {
      dayBars = [];
      walker.startDay(days[i]!);
      walker.runTo(Math.min(until, dayStartOf(days[i]!) + DAY_MS));
      newestFirst.push(dayBars);
      held += dayBars.length;
    }
    return newestFirst.reverse().flat();
  }
}
