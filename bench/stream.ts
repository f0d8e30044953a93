import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import protobuf from "protobufjs";
import { startApp, type RunningApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { createLogger } from "../src/log/logger.js";
import { seededRandom } from "../src/market/simulator.js";
import type { StreamObserver } from "../src/market/stream/market-stream.js";
import type { Frequency, RuleKind } from "../src/signals/rules.js";
import { MARKET_DATA_FEED_V3_PROTO } from "../src/upstox/feed/market-data-feed-v3-proto.js";
import { decodeFeedResponse, encodeFeedResponse, type FeedEntryInput } from "../src/upstox/feed/proto.js";
import { FakeTelegram } from "../tests/fakes/telegram/index.js";
import { FakeUpstox } from "../tests/fakes/upstox/index.js";
import { upstoxEnv } from "../tests/support/app.js";
import { deletePrefix, TEST_REDIS_URL } from "../tests/support/env.js";
import { percentile, type BenchResult } from "./report.js";

/** Issue 12's goals for the real-time path. */
const GOAL_DECODE_TICKS_PER_S = 50_000;
const GOAL_OUTBOX_P99_MS = 5;
const GOAL_TELEGRAM_P99_MS = 250;

const INSTRUMENTS = 2000;
const RULES = 50_000;
/** Each instrument ticks about once a second. */
const TICKS_PER_SECOND = INSTRUMENTS;
/** The ticks are pushed in this many slots a second, not in one burst a second. */
const SLOTS_PER_SECOND = 100;
/** Ticking before the measured window: the snapshot's evaluation, the first rules finishing, the JIT. */
const WARM_UP_MS = 5_000;
const MEASURE_MS = 25_000;
const PROBES = 150;
const PROBE_SPREAD_MS = 20_000;

/** The same clock on both sides of a figure measured in this process: epoch ms with sub-ms precision. */
const epochNow = () => performance.timeOrigin + performance.now();

/**
 * The real-time path against issue 12's goals: Market Data Feed V3 frames decoded, a tick
 * from the fake Upstox's socket to the outbox rows committed, and to the fake Telegram's
 * sendMessage. Each figure runs on its own so one that cannot run does not hide the others.
 */
export async function benchStream(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  results.push(...(await orMiss("decode", async () => benchDecode())));
  results.push(...(await orMiss("tick → outbox", benchTickToOutbox)));
  results.push(...(await orMiss("tick → Telegram", benchTickToTelegram)));
  return results;
}

async function orMiss(what: string, run: () => Promise<BenchResult[]>): Promise<BenchResult[]> {
  try {
    return await run();
  } catch (err) {
    return [{ name: `${what} could not run: ${(err as Error).message}`, value: NaN, unit: "", goal: 0, better: "lower" }];
  }
}

// --- decode ----------------------------------------------------------------------

/**
 * Ticks decoded a second by decodeFeedResponse, as the feed calls it (a fresh receivedAt per
 * frame), over frames of 10-50 instruments encoded beforehand: LTPC frames; full frames in
 * encodeFeedResponse's shape (ltpc, OHLC 1d + two I1, vtt, atp); and full frames as Upstox
 * sends full_d5 for equities, which also carry 5 depth levels and the total buy and sell
 * quantities: the codec has no input for those, so they are encoded with protobufjs straight
 * from the proto. The decoder parses what it does not read too, so depth is part of its cost.
 */
export function benchDecode(): BenchResult[] {
  const rand = seededRandom(12);
  const keys = Array.from({ length: INSTRUMENTS }, (_, i) => `NSE_EQ|INEBENCH${String(i).padStart(4, "0")}`);
  const frames = (entry: (key: string, at: number) => Record<string, unknown>, encode: (feeds: Record<string, unknown>, at: number) => Uint8Array) => {
    const out: Uint8Array[] = [];
    let next = 0;
    const at = Date.parse("2025-01-15T10:00:00+05:30");
    for (let f = 0; f < 400; f++) {
      const n = 10 + Math.floor(rand() * 41);
      const feeds: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = keys[next++ % keys.length]!;
        feeds[key] = entry(key, at + f * 10);
      }
      out.push(encode(feeds, at + f * 10));
    }
    return out;
  };
  const codec = (feeds: Record<string, unknown>, at: number) =>
    encodeFeedResponse({ type: "live_feed", currentTs: at, feeds: feeds as Record<string, FeedEntryInput> });
  const price = () => Math.round((100 + rand() * 2000) * 20) / 20;
  const ltpc = (at: number) => {
    const p = price();
    return { ltp: p, ltt: at, ltq: 1 + Math.floor(rand() * 500), cp: Math.round(p * (0.98 + rand() * 0.04) * 20) / 20 };
  };
  const ohlc = (l: { ltp: number }, at: number) => {
    const minute = Math.floor(at / 60_000) * 60_000;
    const bar = (interval: string, ts: number) => ({
      interval,
      open: l.ltp,
      high: l.ltp * 1.002,
      low: l.ltp * 0.998,
      close: l.ltp,
      vol: 1000 + Math.floor(rand() * 9000),
      ts,
    });
    return [bar("1d", Date.parse("2025-01-15T00:00:00+05:30")), bar("I1", minute - 60_000), bar("I1", minute)];
  };

  const ltpcFrames = frames((_, at) => ({ requestMode: "ltpc", ltpc: ltpc(at) }), codec);
  const fullFrames = frames((_, at) => {
    const l = ltpc(at);
    return { requestMode: "full_d5", marketFF: { ltpc: l, marketOHLC: { ohlc: ohlc(l, at) }, vtt: 100_000 + Math.floor(rand() * 1e7), atp: l.ltp } };
  }, codec);
  const response = protobuf.parse(MARKET_DATA_FEED_V3_PROTO, { keepCase: true }).root.lookupType("com.upstox.marketdatafeederv3udapi.rpc.proto.FeedResponse");
  const depthFrames = frames(
    (_, at) => {
      const l = ltpc(at);
      const bidAskQuote = Array.from({ length: 5 }, (_, d) => ({
        bidQ: 1 + Math.floor(rand() * 5000),
        bidP: Math.round(l.ltp * (1 - 0.0005 * (d + 1)) * 20) / 20,
        askQ: 1 + Math.floor(rand() * 5000),
        askP: Math.round(l.ltp * (1 + 0.0005 * (d + 1)) * 20) / 20,
      }));
      const marketFF = {
        ltpc: l,
        marketLevel: { bidAskQuote },
        marketOHLC: { ohlc: ohlc(l, at) },
        atp: l.ltp,
        vtt: 100_000 + Math.floor(rand() * 1e7),
        tbq: Math.floor(rand() * 1e6),
        tsq: Math.floor(rand() * 1e6),
      };
      return { fullFeed: { marketFF }, requestMode: 1 };
    },
    (feeds, at) => response.encode({ type: 1, currentTs: at, feeds }).finish(),
  );

  const figure = (name: string, frameSet: readonly Uint8Array[], perFrame: number) => {
    const rate = decodeRate(frameSet);
    const bytes = frameSet.reduce((n, f) => n + f.length, 0) / frameSet.length;
    return {
      name: `protobuf decode, ${name} (${perFrame.toFixed(0)} instruments, ${bytes.toFixed(0)} bytes a frame on average)`,
      value: rate,
      unit: "ticks/s",
      goal: GOAL_DECODE_TICKS_PER_S,
      better: "higher" as const,
    };
  };
  const perFrame = (set: readonly Uint8Array[]) => set.reduce((n, f) => n + decodeFeedResponse(f, 0).ticks.length, 0) / set.length;
  return [
    figure("ltpc frames", ltpcFrames, perFrame(ltpcFrames)),
    figure("full frames (encodeFeedResponse's shape: ltpc, OHLC 1d + two I1, vtt, atp)", fullFrames, perFrame(fullFrames)),
    figure(
      "full frames with 5 depth levels, tbq, tsq (as Upstox's full_d5; encoded with protobufjs, the codec has no depth)",
      depthFrames,
      perFrame(depthFrames),
    ),
  ];
}

/** Ticks a second over `frames` round and round: 0.3 s of warm-up, then at least 1.5 s measured. */
function decodeRate(frames: readonly Uint8Array[]): number {
  const run = (ms: number) => {
    let ticks = 0;
    let i = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      for (let k = 0; k < 50; k++) {
        ticks += decodeFeedResponse(frames[i]!, performance.now()).ticks.length;
        i = (i + 1) % frames.length;
      }
      t = performance.now();
    }
    return ticks / ((t - t0) / 1000);
  };
  run(300);
  return run(1500);
}

// --- the app on the fake Upstox's feed ---------------------------------------------

interface LiveApp {
  app: RunningApp;
  fake: FakeUpstox;
  /** The instruments the rules are on (all subscribed), and their prices at the start. */
  keys: string[];
  prices: Map<string, number>;
  close(): Promise<void>;
}

/**
 * The whole app in this process in stream mode (the worker role: the notify workers and the
 * stream holder, no schedules or HTTP), on the fake Upstox with `INSTRUMENTS` generated
 * instruments, real Redis under its own prefix, a temp SQLite file, and a linked trader
 * whose token authorizes the market feed.
 */
async function startLiveApp(o: { observer: StreamObserver; telegram?: FakeTelegram }): Promise<LiveApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "uab-bench-stream-"));
  const prefix = `bench-stream-${randomUUID().slice(0, 8)}`;
  const fake = await FakeUpstox.start({ instruments: INSTRUMENTS, recordRequests: false });
  let app: RunningApp | undefined;
  const close = async () => {
    await app?.stop().catch(() => {});
    await fake.close();
    await deletePrefix(prefix).catch(() => 0);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const config = loadConfig({
      NODE_ENV: "test",
      LOG_LEVEL: "silent",
      HTTP_PORT: "0",
      DATA_DIR: dataDir,
      QUEUE_PREFIX: prefix,
      REDIS_URL: TEST_REDIS_URL,
      // The REST poll stays out of the way: the stream is what is measured.
      POLL_INTERVAL: "3600",
      MARKET_DATA_MODE: "stream",
      SIMULATOR_ALWAYS_OPEN: "true",
      ...upstoxEnv(fake),
      ...(o.telegram ? { TELEGRAM_BOT_TOKEN: o.telegram.token, TELEGRAM_API_ROOT: o.telegram.apiRoot } : {}),
    });
    app = await startApp(config, { role: "worker", demo: false, log: createLogger({ level: "silent", format: "json" }), streamObserver: o.observer });
    const s = app.services;
    const trader = s.users.create({ telegramId: 1, channels: "telegram" });
    s.upstox!.tokens.save(trader.id, fake.issueToken({ userId: "BENCH01" }), "BENCH01", new Date());
    const keys = fake
      .instrumentKeys()
      .filter((k) => k.startsWith("NSE_EQ|INEGEN"))
      .slice(0, INSTRUMENTS);
    const prices = new Map(keys.map((k) => [k, fake.getPrice(k)]));
    return { app, fake, keys, prices, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/** Waits until the fake's market socket carries `count` instruments and the stream has evaluated a batch. */
async function waitForSubscription(fake: FakeUpstox, count: number, evaluated: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const subscribed = fake.feedConnections().find((c) => c.kind === "market")?.subscriptions.size ?? 0;
    if (subscribed >= count && evaluated()) return;
    if (Date.now() > deadline) throw new Error(`the market feed subscribed ${subscribed} of ${count} instruments within 60 s`);
    await sleep(100);
  }
}

/**
 * Moves `keys` round-robin, `perSecond` of them a second in `SLOTS_PER_SECOND` even slots,
 * each move a setPrice on the fake (one live_feed frame over the real socket). A slot that
 * fires late catches up, so the rate holds whatever the timer's jitter.
 */
class Ticker {
  pushed = 0;
  /** Time spent inside the fake pushing (price, snapshot, encode, socket write): its share of this process. */
  busyMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private startedAt = 0;

  constructor(
    private readonly fake: FakeUpstox,
    private readonly keys: readonly string[],
    private readonly move: (key: string) => number,
    private readonly perSecond: number,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.slot(), 1000 / SLOTS_PER_SECOND);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private slot(): void {
    const t0 = performance.now();
    const due = Math.floor(((t0 - this.startedAt) / 1000) * this.perSecond);
    for (; this.pushed < due; this.pushed++) {
      const key = this.keys[this.next++ % this.keys.length]!;
      this.fake.setPrice(key, this.move(key));
    }
    this.busyMs += performance.now() - t0;
  }
}

/** A price walk as in the pipeline bench, per tick: up to ±0.05 %, and now and then a jump of up to 1.5 %. */
function priceWalk(prices: Map<string, number>, rand: () => number): (key: string) => number {
  return (key) => {
    const jump = rand() < 0.002 ? (rand() - 0.5) * 0.03 : 0;
    const p = Math.max(1, Math.round(prices.get(key)! * (1 + (rand() - 0.5) * 0.001 + jump) * 20) / 20);
    prices.set(key, p);
    return p;
  };
}

// --- tick → outbox -------------------------------------------------------------------

/**
 * 2,000 instruments each ticking about once a second on the fake Upstox, 50,000 active rules
 * over them (createRules), measured for 25 s after 5 s of ticking: per tick, from its frame's arrival
 * at the socket to its batch's evaluation committed (the stream's observer).
 */
export async function benchTickToOutbox(): Promise<BenchResult[]> {
  let measuring = false;
  let evaluatedOnce = false;
  const latencies: number[] = [];
  let batches = 0;
  let fired = 0;
  const observer: StreamObserver = {
    onEvaluated(ms, n) {
      evaluatedOnce = true;
      if (!measuring) return;
      for (const v of ms) latencies.push(v);
      batches++;
      fired += n;
    },
  };
  const live = await startLiveApp({ observer });
  try {
    const { app, fake, keys, prices } = live;
    const rand = seededRandom(7);
    createRules(app, keys, prices, rand);
    (globalThis as { gc?: () => void }).gc?.();
    await waitForSubscription(fake, keys.length, () => evaluatedOnce);

    const ticker = new Ticker(fake, keys, priceWalk(prices, rand), TICKS_PER_SECOND);
    ticker.start();
    await sleep(WARM_UP_MS);
    measuring = true;
    const pushedBefore = ticker.pushed;
    const busyBefore = ticker.busyMs;
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(MEASURE_MS);
    measuring = false;
    const spanMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    ticker.stop();
    const pushed = ticker.pushed - pushedBefore;
    const fakeShare = (ticker.busyMs - busyBefore) / spanMs;

    const what = `${INSTRUMENTS.toLocaleString("en-US")} instruments ticking ~1/s × ${RULES.toLocaleString("en-US")} rules, ${(spanMs / 1000).toFixed(0)} s, ${fired.toLocaleString("en-US")} alerts fired`;
    return [
      { name: `tick → outbox committed, p99 (${what})`, value: percentile(latencies, 99), unit: "ms", goal: GOAL_OUTBOX_P99_MS, better: "lower" },
      { name: "tick → outbox committed, p50", value: percentile(latencies, 50), unit: "ms", better: "lower" },
      { name: "tick → outbox committed, p99.9", value: percentile(latencies, 99.9), unit: "ms", better: "lower" },
      { name: "tick → outbox committed, max", value: Math.max(...latencies), unit: "ms", better: "lower" },
      { name: "ticks pushed by the fake a second (each its own live_feed frame)", value: pushed / (spanMs / 1000), unit: "ticks/s", better: "higher" },
      { name: "evaluations per tick after coalescing (250 ms window)", value: latencies.length / pushed, unit: "", better: "lower" },
      { name: "instruments per evaluated batch, on average", value: latencies.length / batches, unit: "", better: "higher" },
      { name: "event loop busy (app, fake and bench in this one process)", value: elu * 100, unit: "%", better: "lower" },
      {
        name: "CPU of this process (user + system, all threads)",
        value: ((cpu.user + cpu.system) / 1000 / spanMs) * 100,
        unit: "% of a core",
        better: "lower",
      },
      { name: "of which the fake Upstox pushing ticks (price, snapshot, encode, socket write)", value: fakeShare * 100, unit: "% of a core", better: "lower" },
    ];
  } finally {
    await live.close();
  }
}

/**
 * `RULES` active rules over `keys`, ten a user, the pipeline bench's mix of kinds and
 * frequencies with levels within 5 % of the prices, on the side not yet reached (as traders
 * set them; the fake's prices are within 2 % of their previous close): so the subscription's
 * snapshot fires nothing and what fires is what the ticks move across, a steady stream
 * rather than thousands at once that the notify workers in this process would still be
 * working through while the ticks are timed.
 */
function createRules(app: RunningApp, keys: readonly string[], prices: ReadonlyMap<string, number>, rand: () => number): void {
  const s = app.services;
  const kinds: RuleKind[] = ["price_above", "price_below", "cross_up", "cross_down", "change_pct"];
  const frequencies: Frequency[] = ["once", "once", "every", "every", "once_per_bar"];
  const spread = 0.05;
  s.db.transaction(() => {
    const userIds = Array.from({ length: Math.ceil(RULES / 10) }, (_, i) => s.users.create({ telegramId: 10_000 + i, channels: "telegram" }).id);
    for (let i = 0; i < RULES; i++) {
      const key = keys[i % keys.length]!;
      const p = prices.get(key)!;
      const kind = kinds[i % kinds.length]!;
      const params = kind === "change_pct" ? { pct: 2.5 + rand() * 3 } : { level: Math.round(p * levelFactor(kind, spread, rand) * 20) / 20 };
      const frequency = frequencies[Math.floor(rand() * frequencies.length)]!;
      s.rules.create({ userId: userIds[i % userIds.length]!, instrumentKey: key, kind, params, frequency, cooldownSeconds: frequency === "every" ? 60 : 0 });
    }
  })();
}

/** price_above above the price, price_below below it, crossings on either side. */
function levelFactor(kind: RuleKind, spread: number, rand: () => number): number {
  if (kind === "price_above") return 1 + 0.001 + rand() * spread;
  if (kind === "price_below") return 1 - 0.001 - rand() * spread;
  return 1 - spread + rand() * 2 * spread;
}

// --- tick → Telegram -----------------------------------------------------------------

/**
 * The same app and load with the fake Telegram (its flood limits on), where the 50,000 rules
 * sit far from the prices (nothing else fires, nothing else competes for the send rate), and
 * `PROBES` instruments are left out of the ticking, each with one price_above rule of its own
 * user (a chat of its own). The bench moves the probes above their levels one by one, evenly
 * over 20 s (7.5 a second, one a chat: no flood limit binds), and times each from the moment
 * it pushes the tick to the moment the fake Telegram receives the sendMessage request.
 */
export async function benchTickToTelegram(): Promise<BenchResult[]> {
  let evaluatedOnce = false;
  const tg = await FakeTelegram.start({ floodLimits: true, now: epochNow });
  let live: LiveApp | undefined;
  try {
    live = await startLiveApp({ observer: { onEvaluated: () => void (evaluatedOnce = true) }, telegram: tg });
    const { app, fake, keys, prices } = live;
    const s = app.services;
    const probes = keys.slice(0, PROBES);
    const background = keys.slice(PROBES);
    const rand = seededRandom(11);
    const firstChat = 500_000;
    s.db.transaction(() => {
      const userIds = Array.from({ length: Math.ceil(RULES / 10) }, (_, i) => s.users.create({ telegramId: 10_000 + i, channels: "telegram" }).id);
      for (let i = 0; i < RULES; i++) {
        const key = background[i % background.length]!;
        // Far from any price the walk reaches in a minute: evaluated, never crossed.
        const level = Math.round(prices.get(key)! * (i % 2 ? 3 : 0.3) * 20) / 20;
        s.rules.create({
          userId: userIds[i % userIds.length]!,
          instrumentKey: key,
          kind: i % 2 ? "price_above" : "price_below",
          params: { level },
          frequency: "every",
          cooldownSeconds: 60,
        });
      }
      probes.forEach((key, i) => {
        const user = s.users.create({ telegramId: firstChat + i, channels: "telegram" });
        s.rules.create({
          userId: user.id,
          instrumentKey: key,
          kind: "price_above",
          params: { level: Math.round(prices.get(key)! * 1.01 * 20) / 20 },
          frequency: "once",
          cooldownSeconds: 0,
        });
      });
    })();
    (globalThis as { gc?: () => void }).gc?.();
    await waitForSubscription(fake, keys.length, () => evaluatedOnce);

    const ticker = new Ticker(fake, background, priceWalk(prices, rand), TICKS_PER_SECOND);
    ticker.start();
    await sleep(WARM_UP_MS);
    tg.clearRecords();
    const pushedAt = new Map<number, number>();
    const t0 = performance.now();
    for (let i = 0; i < probes.length; i++) {
      await sleep(Math.max(0, t0 + (i * PROBE_SPREAD_MS) / probes.length - performance.now()));
      const key = probes[i]!;
      const above = Math.round(prices.get(key)! * 1.02 * 20) / 20;
      pushedAt.set(firstChat + i, epochNow());
      fake.setPrice(key, above);
    }
    // Whatever has not arrived 10 s after the last probe counts as lost.
    const deadline = performance.now() + 10_000;
    const arrived = () => new Set(tg.sent.filter((m) => m.method === "sendMessage" && pushedAt.has(m.chatId)).map((m) => m.chatId)).size;
    while (arrived() < probes.length && performance.now() < deadline) await sleep(100);
    ticker.stop();

    const first = new Map<number, number>();
    for (const m of tg.sent) if (m.method === "sendMessage" && pushedAt.has(m.chatId) && !first.has(m.chatId)) first.set(m.chatId, m.at);
    const latencies = [...first].map(([chat, at]) => at - pushedAt.get(chat)!);
    const others = tg.sent.filter((m) => !pushedAt.has(m.chatId)).length;
    return [
      {
        name: `tick → Telegram sendMessage starting, p99 (${probes.length} alerts over ${PROBE_SPREAD_MS / 1000} s into ${probes.length} chats, under ${background.length.toLocaleString("en-US")} instruments ticking × ${RULES.toLocaleString("en-US")} rules)`,
        value: percentile(latencies, 99),
        unit: "ms",
        goal: GOAL_TELEGRAM_P99_MS,
        better: "lower",
      },
      { name: "tick → Telegram sendMessage starting, p50", value: percentile(latencies, 50), unit: "ms", better: "lower" },
      {
        name: "tick → Telegram, alerts lost (no sendMessage within 10 s of the last probe)",
        value: probes.length - first.size,
        unit: "alerts",
        goal: 0,
        better: "lower",
      },
      { name: "tick → Telegram, sends into other chats (should be none)", value: others, unit: "sends", better: "lower" },
    ];
  } finally {
    await live?.close();
    await tg.close();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
