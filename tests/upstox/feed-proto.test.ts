import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { MARKET_DATA_FEED_V3_PROTO } from "../../src/upstox/feed/market-data-feed-v3-proto.js";
import { decodeFeedResponse, encodeFeedResponse } from "../../src/upstox/feed/proto.js";

// Verbatim copies of shared/upstox/fixtures/ws_market_data_feed_v3_ltpc_decoded.json and
// ws_market_data_feed_v3_market_info_decoded.json (Upstox's documented samples, as protobufjs's
// toObject shows them: int64 as strings), inline so the test does not depend on shared/.
const LTPC_SAMPLE = {
  type: "live_feed",
  feeds: { "NSE_FO|45450": { ltpc: { ltp: 219.3, ltt: "1740729552723", ltq: "75", cp: 494.05 } } },
  currentTs: "1740729566039",
} as const;
const MARKET_INFO_SAMPLE = {
  type: "market_info",
  currentTs: "1732775008661",
  marketInfo: { segmentStatus: { NSE_COM: "NORMAL_OPEN", NSE_FO: "NORMAL_OPEN" } },
} as const;

// An encoder independent of ours: protobufjs's own fromObject over the schema, fed the samples
// exactly as documented.
const referenceType = protobuf.parse(MARKET_DATA_FEED_V3_PROTO).root.lookupType("com.upstox.marketdatafeederv3udapi.rpc.proto.FeedResponse");
const encodeWithProtobufjs = (obj: object) => referenceType.encode(referenceType.fromObject(obj)).finish();

describe("Market Data Feed V3 codec", () => {
  it("decodes the documented ltpc sample: int64 strings become numbers", () => {
    const decoded = decodeFeedResponse(encodeWithProtobufjs(LTPC_SAMPLE), 42.5);
    expect(decoded).toEqual({
      type: "live_feed",
      currentTs: 1740729566039,
      ticks: [{ instrumentKey: "NSE_FO|45450", lastPrice: 219.3, lastTradeAt: 1740729552723, lastQuantity: 75, prevClose: 494.05, receivedAt: 42.5 }],
    });
  });

  it("decodes the documented market_info sample", () => {
    const decoded = decodeFeedResponse(encodeWithProtobufjs(MARKET_INFO_SAMPLE), 0);
    expect(decoded).toEqual({ type: "market_info", currentTs: 1732775008661, ticks: [], segmentStatus: { NSE_COM: "NORMAL_OPEN", NSE_FO: "NORMAL_OPEN" } });
  });

  it("gives the documented values when our encoder writes the samples", () => {
    const ltpc = LTPC_SAMPLE;
    const entry = ltpc.feeds["NSE_FO|45450"].ltpc;
    const live = decodeFeedResponse(
      encodeFeedResponse({
        type: ltpc.type,
        currentTs: Number(ltpc.currentTs),
        feeds: { "NSE_FO|45450": { ltpc: { ltp: entry.ltp, ltt: Number(entry.ltt), ltq: Number(entry.ltq), cp: entry.cp } } },
      }),
      1,
    );
    expect(live.ticks[0]).toMatchObject({ lastPrice: 219.3, lastTradeAt: 1740729552723, lastQuantity: 75, prevClose: 494.05 });
    expect(live.currentTs).toBe(1740729566039);

    const info = MARKET_INFO_SAMPLE;
    const decodedInfo = decodeFeedResponse(
      encodeFeedResponse({ type: info.type, currentTs: Number(info.currentTs), segmentStatus: info.marketInfo.segmentStatus }),
      1,
    );
    expect(decodedInfo.segmentStatus).toEqual({ NSE_COM: "NORMAL_OPEN", NSE_FO: "NORMAL_OPEN" });
    expect(decodedInfo.currentTs).toBe(1732775008661);
  });

  it("round-trips a full market feed: volume, sorted I1 bars, the day's bar", () => {
    const ltpc = { ltp: 1425.5, ltt: 1736917800123, ltq: 12, cp: 1400 };
    const decoded = decodeFeedResponse(
      encodeFeedResponse({
        type: "live_feed",
        currentTs: 1736917800500,
        feeds: {
          "NSE_EQ|INE002A01018": {
            requestMode: "full_d5",
            marketFF: {
              ltpc,
              vtt: 3_456_789,
              atp: 1410.2,
              marketOHLC: {
                ohlc: [
                  { interval: "1d", open: 1402, high: 1430, low: 1398.5, close: 1425.5, vol: 3_456_789, ts: 1736879400000 },
                  { interval: "I1", open: 1424, high: 1426, low: 1423.5, close: 1425.5, vol: 900, ts: 1736917800000 },
                  { interval: "I30", open: 1420, high: 1426, low: 1419, close: 1425.5, vol: 30_000, ts: 1736916000000 },
                  { interval: "I1", open: 1423, high: 1424.5, low: 1422, close: 1424, vol: 1500, ts: 1736917740000 },
                ],
              },
            },
          },
        },
      }),
      7,
    );
    expect(decoded.type).toBe("live_feed");
    expect(decoded.ticks).toEqual([
      {
        instrumentKey: "NSE_EQ|INE002A01018",
        lastPrice: 1425.5,
        lastTradeAt: 1736917800123,
        lastQuantity: 12,
        prevClose: 1400,
        volumeToday: 3_456_789,
        day: { open: 1402, high: 1430, low: 1398.5 },
        minuteBars: [
          { ts: 1736917740000, open: 1423, high: 1424.5, low: 1422, close: 1424, volume: 1500 },
          { ts: 1736917800000, open: 1424, high: 1426, low: 1423.5, close: 1425.5, volume: 900 },
        ],
        receivedAt: 7,
      },
    ]);
  });

  it("round-trips an index full feed (no volume) and an option-greeks entry", () => {
    const decoded = decodeFeedResponse(
      encodeFeedResponse({
        type: "initial_feed",
        currentTs: 1736917800000,
        feeds: {
          "NSE_INDEX|Nifty 50": {
            indexFF: {
              ltpc: { ltp: 23510.4, ltt: 1736917799000, cp: 23450 },
              marketOHLC: { ohlc: [{ interval: "1d", open: 23460, high: 23550, low: 23400, close: 23510.4, ts: 1736879400000 }] },
            },
          },
          "NSE_FO|45450": { firstLevelWithGreeks: { ltpc: { ltp: 219.3, ltt: 1736917798000, ltq: 75, cp: 494.05 }, vtt: 10, oi: 5, iv: 0.2 } },
        },
      }),
      0,
    );
    expect(decoded.type).toBe("initial_feed");
    const byKey = new Map(decoded.ticks.map((t) => [t.instrumentKey, t]));
    expect(byKey.get("NSE_INDEX|Nifty 50")).toEqual({
      instrumentKey: "NSE_INDEX|Nifty 50",
      lastPrice: 23510.4,
      lastTradeAt: 1736917799000,
      lastQuantity: 0,
      prevClose: 23450,
      day: { open: 23460, high: 23550, low: 23400 },
      receivedAt: 0,
    });
    expect(byKey.get("NSE_FO|45450")).toEqual({
      instrumentKey: "NSE_FO|45450",
      lastPrice: 219.3,
      lastTradeAt: 1736917798000,
      lastQuantity: 75,
      prevClose: 494.05,
      receivedAt: 0,
    });
  });

  it("keeps feed order and skips entries without a last trade", () => {
    const frame = encodeWithProtobufjs({
      type: "live_feed",
      currentTs: "1736917800000",
      feeds: {
        "NSE_EQ|A": { ltpc: { ltp: 1, ltt: "1", ltq: "1", cp: 1 } },
        "NSE_EQ|B": { fullFeed: { marketFF: { vtt: "5" } } },
        "NSE_EQ|C": { requestMode: "ltpc" },
        "NSE_EQ|D": { ltpc: { ltp: 4, ltt: "4", ltq: "4", cp: 4 } },
      },
    });
    expect(decodeFeedResponse(frame, 0).ticks.map((t) => t.instrumentKey)).toEqual(["NSE_EQ|A", "NSE_EQ|D"]);
  });

  it("round-trips a market_info frame with every status", () => {
    const statuses = {
      NSE_EQ: "PRE_OPEN_START",
      NSE_FO: "PRE_OPEN_END",
      BSE_EQ: "NORMAL_OPEN",
      NSE_INDEX: "NORMAL_CLOSE",
      MCX_FO: "CLOSING_START",
      BSE_FO: "CLOSING_END",
    };
    const decoded = decodeFeedResponse(encodeFeedResponse({ type: "market_info", currentTs: 1736917800000, segmentStatus: statuses }), 0);
    expect(decoded).toEqual({ type: "market_info", currentTs: 1736917800000, ticks: [], segmentStatus: statuses });
  });

  it("refuses to encode an unknown market status", () => {
    expect(() => encodeFeedResponse({ type: "market_info", currentTs: 0, segmentStatus: { NSE_EQ: "OPENISH" } })).toThrow(/unknown market status "OPENISH"/);
  });

  it("throws on frames that are not a FeedResponse", () => {
    for (const garbage of [
      Buffer.from('{"type":"live_feed"}'),
      Buffer.from("hello world"),
      Uint8Array.from([0xff, 0xff, 0xff]),
      Uint8Array.from([0, 1, 2, 3]),
      // Well-formed protobuf, but `type` 9 is none of the three frame types.
      Uint8Array.from([0x08, 0x09]),
    ]) {
      expect(() => decodeFeedResponse(garbage, 0)).toThrow(/not a FeedResponse/);
    }
  });

  it("throws on a frame cut short", () => {
    const whole = encodeFeedResponse({ type: "live_feed", currentTs: 1, feeds: { "NSE_EQ|A": { ltpc: { ltp: 1, ltt: 2, ltq: 3, cp: 4 } } } });
    expect(() => decodeFeedResponse(whole.subarray(0, whole.length - 3), 0)).toThrow(/not a FeedResponse/);
  });
});
