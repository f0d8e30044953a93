import { gzipSync } from "node:zlib";
import { fixture } from "./fixtures.js";

/** A record of the instruments master file (complete.json.gz). */
export interface InstrumentRecord {
  instrument_key: string;
  trading_symbol: string;
  segment: string;
  exchange: string;
  name?: string;
  instrument_type?: string;
  lot_size?: number;
  tick_size?: number;
  [field: string]: unknown;
}

export interface Instrument {
  key: string;
  segment: string;
  symbol: string;
  /** Key of the quote map: "NSE_EQ:RELIANCE". */
  quoteKey: string;
  record: InstrumentRecord;
  /** Exchange as orders/positions show it: NSE, BSE, NFO, BFO, MCX, CDS, BCD. */
  orderExchange: string;
  /** Exchange whose session times apply (calendar). */
  sessionExchange: string;
  isIndex: boolean;
  lotSize: number;
  /** Tick in rupees (the master file has it in paise). */
  tick: number;
  /** Deterministic reference price used by the candle generator. */
  basePrice: number;
}

export interface PriceState {
  last: number;
  prevClose: number;
  open: number;
  high: number;
  low: number;
  volume: number;
  ltq: number;
  /** Epoch ms of the last setPrice(); null until then (quotes then use "now"). */
  lastTradeTime: number | null;
  /** The prices set within the minute of the last setPrice() (an exchange's I1 bar holds every trade of it). */
  minute?: { ts: number; open: number; high: number; low: number };
}

/** FNV-1a, 32 bit. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Deterministic number in [0, 1) for a string. */
export const unit = (s: string) => hash32(s) / 4294967296;

export function roundTo(x: number, tick: number): number {
  if (tick <= 0) return Number(x.toFixed(2));
  return Number((Math.round(x / tick) * tick).toFixed(2));
}

const SEGMENT_EXCHANGE: Record<string, string> = {
  NSE_EQ: "NSE",
  NSE_INDEX: "NSE",
  NSE_FO: "NFO",
  NSE_COM: "MCX",
  BSE_EQ: "BSE",
  BSE_INDEX: "BSE",
  BSE_FO: "BFO",
  MCX_FO: "MCX",
  MCX_INDEX: "MCX",
  NCD_FO: "CDS",
  BCD_FO: "BCD",
};

/** The well-known large caps, with plausible prices (the first six are the ones tests lean on). */
const EQUITIES: ReadonlyArray<readonly [symbol: string, isin: string, name: string, price: number, token: string]> = [
  ["RELIANCE", "INE002A01018", "RELIANCE INDUSTRIES LTD", 1418, "2885"],
  ["TCS", "INE467B01029", "TATA CONSULTANCY SERV LT", 3452, "11536"],
  ["INFY", "INE009A01021", "INFOSYS LIMITED", 1587, "1594"],
  ["HDFCBANK", "INE040A01034", "HDFC BANK LTD", 1724, "1333"],
  ["ICICIBANK", "INE090A01021", "ICICI BANK LTD.", 1251, "4963"],
  ["SBIN", "INE062A01020", "STATE BANK OF INDIA", 818, "3045"],
  ["NHPC", "INE848E01016", "NHPC LTD", 52.05, "17400"],
  ["YESBANK", "INE528G01035", "YES BANK LIMITED", 17.05, "11915"],
  ["RELINFRA", "INE036A01016", "RELIANCE INFRASTRUCTU LTD", 174.85, "553"],
  ["ITC", "INE154A01025", "ITC LTD", 431.5, "1660"],
  ["LT", "INE018A01030", "LARSEN & TOUBRO LTD.", 3560, "11483"],
  ["BHARTIARTL", "INE397D01024", "BHARTI AIRTEL LIMITED", 1650, "10604"],
  ["KOTAKBANK", "INE237A01028", "KOTAK MAHINDRA BANK LTD", 1780, "1922"],
  ["AXISBANK", "INE238A01034", "AXIS BANK LIMITED", 1080, "5900"],
  ["HINDUNILVR", "INE030A01027", "HINDUSTAN UNILEVER LTD.", 2350, "1394"],
  ["WIPRO", "INE075A01022", "WIPRO LTD", 300.4, "3787"],
  ["MARUTI", "INE585B01010", "MARUTI SUZUKI INDIA LTD.", 12500, "10999"],
  ["SUNPHARMA", "INE044A01036", "SUN PHARMACEUTICAL IND L", 1750, "3351"],
  ["BAJFINANCE", "INE296A01024", "BAJAJ FINANCE LIMITED", 905, "317"],
  ["IDEA", "INE669E01016", "VODAFONE IDEA LIMITED", 7.5, "14366"],
];

const INDICES: ReadonlyArray<readonly [segment: string, name: string, price: number, token: string]> = [
  ["NSE_INDEX", "Nifty 50", 23500, "26000"],
  ["NSE_INDEX", "Nifty Bank", 51000, "26009"],
  ["NSE_INDEX", "India VIX", 14.5, "26017"],
  ["BSE_INDEX", "SENSEX", 77500, "1"],
];

/** Prices for the records of fixtures/instruments_bod_sample.json. */
const FIXTURE_PRICES: Record<string, number> = {
  "NSE_EQ|INE839G01010": 180.5,
  "NSE_FO|36702": 100,
  "NSE_FO|36708": 1.2,
  "BSE_INDEX|AUTO": 52000,
  "NSE_EQ|INE002A01018": 1418,
};

const pad = (n: number, w: number) => String(n).padStart(w, "0");

export class InstrumentStore {
  private readonly byKey = new Map<string, Instrument>();
  private readonly prices = new Map<string, PriceState>();
  private gzCache = new Map<string, Buffer>();

  constructor(generated: number) {
    for (const r of fixture<InstrumentRecord[]>("instruments_bod_sample.json")) this.add(r, FIXTURE_PRICES[r.instrument_key]);
    for (const [symbol, isin, name, price, token] of EQUITIES) {
      const key = `NSE_EQ|${isin}`;
      if (this.byKey.has(key)) continue; // RELIANCE is already in the BOD sample
      this.add(equityRecord("NSE_EQ", "NSE", symbol, isin, name, token), price);
    }
    this.add(equityRecord("BSE_EQ", "BSE", "RELIANCE", "INE002A01018", "RELIANCE INDUSTRIES LTD.", "500325"), 1418.2);
    for (const [segment, name, price, token] of INDICES) {
      this.add(
        {
          segment,
          name,
          exchange: segment.startsWith("BSE") ? "BSE" : "NSE",
          instrument_type: "INDEX",
          instrument_key: `${segment}|${name}`,
          exchange_token: token,
          trading_symbol: name,
        },
        price,
      );
    }
    for (let i = 1; i <= generated; i++) {
      const symbol = `SYM${pad(i, 5)}`;
      const isin = `INEGEN${pad(i, 6)}`;
      this.add(equityRecord("NSE_EQ", "NSE", symbol, isin, `GENERATED COMPANY ${pad(i, 5)} LTD`, String(900000 + i)));
    }
  }

  /** Adds (or replaces) an instrument. Without a price one is derived from the key. */
  add(record: InstrumentRecord, price?: number): Instrument {
    const segment = record.segment;
    const isIndex = segment.endsWith("_INDEX");
    const tickPaise = typeof record.tick_size === "number" ? record.tick_size : 5;
    const base = price ?? roundTo(20 + unit(`${record.instrument_key}#price`) * 4000, 0.05);
    const inst: Instrument = {
      key: record.instrument_key,
      segment,
      symbol: record.trading_symbol,
      quoteKey: `${segment}:${record.trading_symbol}`,
      record: structuredClone(record),
      orderExchange: SEGMENT_EXCHANGE[segment] ?? record.exchange,
      sessionExchange: isIndex ? record.exchange : (SEGMENT_EXCHANGE[segment] ?? record.exchange),
      isIndex,
      lotSize: typeof record.lot_size === "number" && record.lot_size > 0 ? record.lot_size : 1,
      tick: tickPaise / 100,
      basePrice: base,
    };
    this.byKey.set(inst.key, inst);
    this.prices.set(inst.key, initialPrice(inst));
    this.gzCache = new Map();
    return inst;
  }

  get(key: string): Instrument | undefined {
    return this.byKey.get(key);
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  list(): Instrument[] {
    return [...this.byKey.values()];
  }

  require(key: string): Instrument {
    const i = this.byKey.get(key);
    if (!i) throw new Error(`FakeUpstox: unknown instrument key "${key}"`);
    return i;
  }

  price(key: string): PriceState {
    const p = this.prices.get(key);
    if (!p) throw new Error(`FakeUpstox: unknown instrument key "${key}"`);
    return p;
  }

  setPrice(key: string, price: number, now: number): void {
    if (!Number.isFinite(price) || price < 0) throw new Error(`FakeUpstox: bad price ${price}`);
    const p = this.price(key);
    p.last = price;
    p.high = Math.max(p.high, price);
    p.low = Math.min(p.low, price);
    p.volume += p.ltq;
    p.lastTradeTime = now;
    const minute = Math.floor(now / 60_000) * 60_000;
    if (p.minute?.ts === minute) {
      p.minute.high = Math.max(p.minute.high, price);
      p.minute.low = Math.min(p.minute.low, price);
    } else p.minute = { ts: minute, open: price, high: price, low: price };
  }

  setPrevClose(key: string, price: number): void {
    if (!Number.isFinite(price) || price < 0) throw new Error(`FakeUpstox: bad price ${price}`);
    this.price(key).prevClose = price;
  }

  /** gzip of the JSON array served as `<file>.json.gz` (complete, NSE, BSE, MCX). */
  masterFile(file: string): Buffer | undefined {
    const exchange = file === "complete" ? null : file;
    if (exchange !== null && !["NSE", "BSE", "MCX"].includes(exchange)) return undefined;
    let gz = this.gzCache.get(file);
    if (!gz) {
      const records = this.list()
        .map((i) => i.record)
        .filter((r) => exchange === null || r.exchange === exchange);
      gz = gzipSync(Buffer.from(JSON.stringify(records)));
      this.gzCache.set(file, gz);
    }
    return gz;
  }
}

function equityRecord(segment: string, exchange: string, symbol: string, isin: string, name: string, token: string): InstrumentRecord {
  return {
    segment,
    name,
    exchange,
    isin,
    instrument_type: "EQ",
    instrument_key: `${segment}|${isin}`,
    lot_size: 1,
    freeze_quantity: 100000.0,
    exchange_token: token,
    tick_size: 5.0,
    trading_symbol: symbol,
    short_name: symbol,
    security_type: "NORMAL",
  };
}

function initialPrice(inst: Instrument): PriceState {
  const tick = inst.tick || 0.05;
  const pct = (unit(`${inst.key}#chg`) - 0.5) * 0.04; // ±2 % versus the previous close
  const last = inst.basePrice;
  const prevClose = Math.max(tick, roundTo(last / (1 + pct), tick));
  const open = Math.max(tick, roundTo(prevClose * (1 + pct / 3), tick));
  const high = roundTo(Math.max(open, last) * (1 + unit(`${inst.key}#hi`) * 0.006), tick);
  const low = Math.max(tick, roundTo(Math.min(open, last) * (1 - unit(`${inst.key}#lo`) * 0.006), tick));
  const volume = inst.isIndex ? 0 : 50_000 + Math.floor(unit(`${inst.key}#vol`) * 5_000_000);
  const ltq = inst.isIndex ? 0 : Math.max(inst.lotSize, 1 + Math.floor(unit(`${inst.key}#ltq`) * 50));
  return { last, prevClose, open, high, low, volume, ltq, lastTradeTime: null };
}
