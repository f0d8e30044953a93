import { istInstant, istParts } from "./calendar.js";
import type { InstrumentInfo, Quote, QuoteSource } from "./types.js";

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

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Rounds to the tick and to paise, so a price is 1427.85, never 1427.8500000000001. */
const roundToTick = (price: number, tick = 0.05) => Number((Math.round(price / tick) * tick).toFixed(2));

interface State {
  info: SimulatedSymbol;
  key: string;
  price: number;
  open: number;
  high: number;
  low: number;
  volume: number;
  lastTradeAt: number;
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

export class MarketSimulator implements QuoteSource {
  readonly name = "simulator";
  private rand: () => number = Math.random;
  private readonly states = new Map<string, State>();
  private readonly now: () => number;
  private readonly seed: number;
  private readonly stepMs: number;
  private readonly volatility: number;
  private clock = 0;
  private day = "";

  constructor(opts: SimulatorOptions) {
    this.seed = opts.seed;
    this.now = opts.now ?? Date.now;
    this.stepMs = opts.stepMs ?? 1000;
    this.volatility = opts.volatility ?? 0.0006;
    this.advance();
  }

  /**
   * Each IST day's walk starts at that day's midnight from the day's seed, so every process
   * (a `--role=worker` started later, say) sees the same price at the same moment.
   */
  private startDay(day: string): void {
    this.day = day;
    this.clock = istInstant(day, 0).getTime();
    this.rand = seededRandom(daySeed(this.seed, day));
    this.states.clear();
    for (const info of SIMULATED_SYMBOLS) {
      // The session opens a little away from the previous close, as real sessions do.
      const open = roundToTick(info.prevClose * (1 + gaussian(this.rand) * 0.004));
      this.states.set(`NSE_EQ|${info.isin}`, {
        info,
        key: `NSE_EQ|${info.isin}`,
        price: open,
        open,
        high: open,
        low: open,
        volume: 0,
        lastTradeAt: this.clock,
      });
    }
  }

  /** Moves every symbol forward to the simulated clock's current time. */
  advance(): void {
    const target = this.now();
    const day = istParts(new Date(target)).date;
    if (day !== this.day) this.startDay(day);
    while (this.clock + this.stepMs <= target) {
      this.clock += this.stepMs;
      for (const s of this.states.values()) this.step(s);
    }
  }

  private step(s: State): void {
    // A gentle pull back towards the previous close keeps a week-long demo realistic.
    const pull = ((s.info.prevClose - s.price) / s.info.prevClose) * 0.002;
    const next = roundToTick(s.price * (1 + pull + gaussian(this.rand) * this.volatility));
    s.price = Math.max(0.05, next);
    s.high = Math.max(s.high, s.price);
    s.low = Math.min(s.low, s.price);
    s.volume += Math.round(s.info.volumePerStep * (0.5 + this.rand()));
    s.lastTradeAt = this.clock;
  }

  async getQuotes(instrumentKeys: readonly string[]): Promise<Map<string, Quote>> {
    this.advance();
    const out = new Map<string, Quote>();
    for (const key of instrumentKeys) {
      const s = this.states.get(key);
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
}
