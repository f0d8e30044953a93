import protobuf from "protobufjs";
import type { MarketCandle, Tick } from "../../market/types.js";
import { MARKET_DATA_FEED_V3_PROTO } from "./market-data-feed-v3-proto.js";

/**
 * Codec of Upstox's Market Data Feed V3 frames (`FeedResponse`, protobuf): the bot decodes them,
 * the fake Upstox and the bench encode them. REFERENCE.md §7.
 */

export type FeedResponseType = "initial_feed" | "live_feed" | "market_info";

export interface DecodedFeed {
  type: FeedResponseType;
  /** The server's clock when it sent the frame, epoch ms. */
  currentTs: number;
  /** One per feed entry that carries a last trade, in the frame's order. */
  ticks: Tick[];
  /** Segment → status (`NORMAL_OPEN`, …); only on frames that carry `marketInfo`. */
  segmentStatus?: Record<string, string>;
}

export interface LtpcInput {
  ltp: number;
  /** Epoch ms of the last trade. */
  ltt: number;
  ltq?: number;
  cp: number;
}

export interface OhlcInput {
  /** `I1`, `I30` or `1d`. */
  interval: string;
  open: number;
  high: number;
  low: number;
  close: number;
  vol?: number;
  /** Bar start, epoch ms. */
  ts: number;
}

export type RequestModeName = "ltpc" | "full_d5" | "option_greeks" | "full_d30";

/** One entry of `feeds`, shaped like the proto's `Feed` oneof (only the fields the bot reads or the fake sends). */
export type FeedEntryInput = { requestMode?: RequestModeName } & (
  | { ltpc: LtpcInput }
  | { marketFF: { ltpc: LtpcInput; marketOHLC?: { ohlc: OhlcInput[] }; vtt?: number; atp?: number } }
  | { indexFF: { ltpc: LtpcInput; marketOHLC?: { ohlc: OhlcInput[] } } }
  | { firstLevelWithGreeks: { ltpc: LtpcInput; vtt?: number; oi?: number; iv?: number } }
);

export interface FeedResponseInput {
  type: FeedResponseType;
  currentTs: number;
  feeds?: Record<string, FeedEntryInput>;
  segmentStatus?: Record<string, string>;
}

const PACKAGE = "com.upstox.marketdatafeederv3udapi.rpc.proto";
const TYPE_NAMES: readonly FeedResponseType[] = ["initial_feed", "live_feed", "market_info"];

interface FeedTypes {
  response: protobuf.Type;
  statusName: Readonly<Record<number, string>>;
  statusValue: Readonly<Record<string, number>>;
  modeValue: Readonly<Record<string, number>>;
}

let types: FeedTypes | undefined;

// Parsed on first use, not at import: most processes importing this never open a feed.
function feedTypes(): FeedTypes {
  if (types) return types;
  const root = protobuf.parse(MARKET_DATA_FEED_V3_PROTO, { keepCase: true }).root;
  const status = root.lookupEnum(`${PACKAGE}.MarketStatus`);
  types = {
    response: root.lookupType(`${PACKAGE}.FeedResponse`),
    statusName: status.valuesById,
    statusValue: status.values,
    modeValue: root.lookupEnum(`${PACKAGE}.RequestMode`).values,
  };
  return types;
}

// --- decoding ------------------------------------------------------------------
// The decoded message is read directly (no toObject): this runs for every frame of the feed.

type Int64 = number | protobuf.Long;

interface RawLtpc {
  ltp: number;
  ltt: Int64;
  ltq: Int64;
  cp: number;
}

interface RawOhlc {
  interval: string;
  open: number;
  high: number;
  low: number;
  close: number;
  vol: Int64;
  ts: Int64;
}

interface RawOhlcList {
  ohlc: RawOhlc[];
}

interface RawFeed {
  ltpc?: RawLtpc | null;
  fullFeed?: {
    marketFF?: { ltpc?: RawLtpc | null; marketOHLC?: RawOhlcList | null; vtt: Int64 } | null;
    indexFF?: { ltpc?: RawLtpc | null; marketOHLC?: RawOhlcList | null } | null;
  } | null;
  firstLevelWithGreeks?: { ltpc?: RawLtpc | null } | null;
}

interface RawResponse {
  type: number;
  feeds: Record<string, RawFeed>;
  currentTs: Int64;
  marketInfo?: { segmentStatus: Record<string, number> } | null;
}

// int64 fields decode to Long (low/high 32-bit halves, signed). Epoch ms and volumes are far
// below 2^53, so the number is exact.
const toNumber = (v: Int64): number => (typeof v === "number" ? v : v.high * 4294967296 + (v.low >>> 0));

/**
 * Decodes one binary frame of the market feed. Entries without a last trade (`ltpc`) are
 * skipped. Throws on bytes that are not a `FeedResponse`.
 */
export function decodeFeedResponse(buf: Uint8Array, receivedAt: number): DecodedFeed {
  const t = feedTypes();
  let msg: RawResponse;
  try {
    msg = t.response.decode(buf) as unknown as RawResponse;
  } catch (err) {
    throw new Error(`market feed frame is not a FeedResponse: ${(err as Error).message}`, { cause: err });
  }
  const type = TYPE_NAMES[msg.type];
  // proto3 enums are open, so garbage that happens to parse usually shows up here.
  if (type === undefined) throw new Error(`market feed frame is not a FeedResponse: unknown type ${msg.type}`);

  const ticks: Tick[] = [];
  const feeds = msg.feeds;
  for (const key in feeds) {
    const tick = toTick(key, feeds[key]!, receivedAt);
    if (tick) ticks.push(tick);
  }
  const out: DecodedFeed = { type, currentTs: toNumber(msg.currentTs), ticks };
  if (msg.marketInfo) {
    const segmentStatus: Record<string, string> = {};
    const raw = msg.marketInfo.segmentStatus;
    for (const segment in raw) segmentStatus[segment] = t.statusName[raw[segment]!] ?? String(raw[segment]);
    out.segmentStatus = segmentStatus;
  }
  return out;
}

function toTick(instrumentKey: string, feed: RawFeed, receivedAt: number): Tick | undefined {
  const market = feed.fullFeed?.marketFF;
  const index = feed.fullFeed?.indexFF;
  const ltpc = feed.ltpc ?? market?.ltpc ?? index?.ltpc ?? feed.firstLevelWithGreeks?.ltpc;
  if (!ltpc) return undefined;
  const tick: Tick = {
    instrumentKey,
    lastPrice: ltpc.ltp,
    lastTradeAt: toNumber(ltpc.ltt),
    lastQuantity: toNumber(ltpc.ltq),
    prevClose: ltpc.cp,
    receivedAt,
  };
  if (market) tick.volumeToday = toNumber(market.vtt);
  const bars = (market ?? index)?.marketOHLC?.ohlc;
  if (bars?.length) addBars(tick, bars);
  return tick;
}

function addBars(tick: Tick, bars: readonly RawOhlc[]): void {
  let minuteBars: MarketCandle[] | undefined;
  let dayTs = -Infinity;
  for (const b of bars) {
    if (b.interval === "I1") {
      (minuteBars ??= []).push({ ts: toNumber(b.ts), open: b.open, high: b.high, low: b.low, close: b.close, volume: toNumber(b.vol) });
    } else if (b.interval === "1d") {
      // Should a frame ever carry yesterday's bar too, today's is the later one.
      const ts = toNumber(b.ts);
      if (ts >= dayTs) {
        dayTs = ts;
        tick.day = { open: b.open, high: b.high, low: b.low };
      }
    }
  }
  if (minuteBars) {
    if (minuteBars.length > 1) minuteBars.sort((a, b) => a.ts - b.ts);
    tick.minuteBars = minuteBars;
  }
}

// --- encoding ------------------------------------------------------------------

/** Encodes a `FeedResponse` frame as Upstox sends it (used by the fake Upstox and the bench). */
export function encodeFeedResponse(msg: FeedResponseInput): Uint8Array {
  const t = feedTypes();
  const body: Record<string, unknown> = { type: TYPE_NAMES.indexOf(msg.type), currentTs: msg.currentTs };
  if (msg.feeds) {
    const feeds: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(msg.feeds)) feeds[key] = feedBody(entry, t);
    body.feeds = feeds;
  }
  if (msg.segmentStatus) {
    const segmentStatus: Record<string, number> = {};
    for (const [segment, status] of Object.entries(msg.segmentStatus)) {
      const value = t.statusValue[status];
      if (value === undefined) throw new Error(`encodeFeedResponse: unknown market status "${status}"`);
      segmentStatus[segment] = value;
    }
    body.marketInfo = { segmentStatus };
  }
  return t.response.encode(body).finish();
}

function feedBody(entry: FeedEntryInput, t: FeedTypes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (entry.requestMode !== undefined) out.requestMode = t.modeValue[entry.requestMode];
  if ("ltpc" in entry) out.ltpc = ltpcBody(entry.ltpc);
  else if ("marketFF" in entry) {
    const m = entry.marketFF;
    out.fullFeed = {
      marketFF: { ltpc: ltpcBody(m.ltpc), marketOHLC: m.marketOHLC && ohlcBody(m.marketOHLC.ohlc), vtt: m.vtt ?? 0, atp: m.atp ?? 0 },
    };
  } else if ("indexFF" in entry) {
    const i = entry.indexFF;
    out.fullFeed = { indexFF: { ltpc: ltpcBody(i.ltpc), marketOHLC: i.marketOHLC && ohlcBody(i.marketOHLC.ohlc) } };
  } else {
    const g = entry.firstLevelWithGreeks;
    out.firstLevelWithGreeks = { ltpc: ltpcBody(g.ltpc), vtt: g.vtt ?? 0, oi: g.oi ?? 0, iv: g.iv ?? 0 };
  }
  return out;
}

const ltpcBody = (l: LtpcInput) => ({ ltp: l.ltp, ltt: l.ltt, ltq: l.ltq ?? 0, cp: l.cp });

const ohlcBody = (bars: readonly OhlcInput[]) => ({ ohlc: bars.map((b) => ({ ...b, vol: b.vol ?? 0 })) });
