import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { startApp, type RunningApp } from "../src/app.js";
import { createLogger } from "../src/log/logger.js";
import { seededRandom } from "../src/market/simulator.js";
import type { StreamObserver } from "../src/market/stream/market-stream.js";
import type { Frequency, RuleKind } from "../src/signals/rules.js";
import { MARKET_DATA_FEED_V3_PROTO } from "../src/upstox/feed/market-data-feed-v3-proto.js";
import { decodeFeedResponse, encodeFeedResponse, type FeedEntryInput } from "../src/upstox/feed/proto.js";
import { FakeTelegram } from "../tests/fakes/telegram/index.js";
import { FakeUpstox } from "../tests/fakes/upstox/index.js";
import { testConfig, upstoxEnv } from "../tests/support/app.js";
import { deletePrefix } from "../tests/support/env.js";
import { percentile, type BenchResult } from "./report.js";

/** Issue 12's goals for the real-time path. */
const GOAL_DECODE_TICKS_PER_S = 50_000;
const GOAL_OUTBOX_P99_MS = 5;
const GOAL_TELEGRAM_P99_MS = 250;

export const INSTRUMENTS = 2000;
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

// --- the fake Upstox: in this process or in a child ------------------------------------

/** The fake's settings the app needs (tests/support/app.ts upstoxEnv), as the child sends them. */
type UpstoxEndpoints = Parameters<typeof upstoxEnv>[0];

/** The child's first message (bench/stream-process.ts). */
export interface StreamFakeReady {
  ready: true;
  upstox: UpstoxEndpoints;
  /** An access token of the fake's user BENCH01, to link to a trader. */
  token: string;
  prices: Array<[string, number]>;
}
export type StreamFakeRequest =
  { cmd: "subscribed" } | { cmd: "tick"; keys: string[]; perSecond: number; seed: number } | { cmd: "counters" } | { cmd: "close" };
export type StreamFakeReply = { subscribed?: number; pushed?: number; busyMs?: number; error?: string };

/** Where the ticks come from; `INSTRUMENTS` generated instruments either way. */
interface FakeMarket {
  readonly upstox: UpstoxEndpoints;
  readonly token: string;
  /** The instruments (all to be subscribed), with their prices at the start. */
  readonly prices: ReadonlyMap<string, number>;
  /** How many instruments the fake's market socket carries. */
  subscribed(): Promise<number>;
  /** Starts ticking `keys` (see Ticker). */
  tick(keys: readonly string[], perSecond: number, seed: number): Promise<void>;
  counters(): Promise<{ pushed: number; busyMs: number }>;
  close(): Promise<void>;
}

/** The fake Upstox in this process: the bench can move a price itself and time it on its own clock. */
class LocalFakeMarket implements FakeMarket {
  readonly upstox: UpstoxEndpoints;
  readonly token: string;
  readonly prices: Map<string, number>;
  private ticker: Ticker | undefined;

  private constructor(readonly fake: FakeUpstox) {
    this.upstox = fake;
    this.token = fake.issueToken({ userId: "BENCH01" });
    this.prices = new Map(generatedKeys(fake).map((k) => [k, fake.getPrice(k)]));
  }

  static async start(): Promise<LocalFakeMarket> {
    return new LocalFakeMarket(await FakeUpstox.start({ instruments: INSTRUMENTS, recordRequests: false }));
  }

  subscribed(): Promise<number> {
    return Promise.resolve(this.fake.feedConnections().find((c) => c.kind === "market")?.subscriptions.size ?? 0);
  }

  tick(keys: readonly string[], perSecond: number, seed: number): Promise<void> {
    this.ticker = new Ticker(this.fake, keys, priceWalk(this.prices, seededRandom(seed)), perSecond);
    this.ticker.start();
    return Promise.resolve();
  }

  counters(): Promise<{ pushed: number; busyMs: number }> {
    return Promise.resolve({ pushed: this.ticker?.pushed ?? 0, busyMs: this.ticker?.busyMs ?? 0 });
  }

  async close(): Promise<void> {
    this.ticker?.stop();
    await this.fake.close();
  }
}

/** The fake Upstox in a child process (bench/stream-process.ts), driven over IPC one request at a time. */
class ChildFakeMarket implements FakeMarket {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly child: ChildProcess,
    private readonly ready: StreamFakeReady,
    readonly prices: ReadonlyMap<string, number>,
  ) {}

  get upstox(): UpstoxEndpoints {
    return this.ready.upstox;
  }

  get token(): string {
    return this.ready.token;
  }

  static start(): Promise<ChildFakeMarket> {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "stream-process.js");
    const child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the fake Upstox's process exited ${code} before it was ready`)));
      child.once("message", (m: StreamFakeReady) => {
        child.removeAllListeners("exit");
        resolve(new ChildFakeMarket(child, m, new Map(m.prices)));
      });
    });
  }

  async subscribed(): Promise<number> {
    return (await this.ask({ cmd: "subscribed" })).subscribed ?? 0;
  }

  async tick(keys: readonly string[], perSecond: number, seed: number): Promise<void> {
    await this.ask({ cmd: "tick", keys: [...keys], perSecond, seed });
  }

  async counters(): Promise<{ pushed: number; busyMs: number }> {
    const r = await this.ask({ cmd: "counters" });
    return { pushed: r.pushed ?? 0, busyMs: r.busyMs ?? 0 };
  }

  async close(): Promise<void> {
    if (!this.child.connected) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    await this.ask({ cmd: "close" }).catch(() => {});
    await Promise.race([exited, sleep(5_000).then(() => this.child.kill())]);
  }

  private ask(req: StreamFakeRequest): Promise<StreamFakeReply> {
    const reply = this.queue.then(
      () =>
        new Promise<StreamFakeReply>((resolve, reject) => {
          this.child.once("message", (r: StreamFakeReply) => (r.error ? reject(new Error(`fake Upstox process: ${r.error}`)) : resolve(r)));
          this.child.send(req);
        }),
    );
    this.queue = reply.catch(() => {});
    return reply;
  }
}

/** The fake's generated NSE_EQ instruments the bench uses. */
export const generatedKeys = (fake: FakeUpstox) =>
  fake
    .instrumentKeys()
    .filter((k) => k.startsWith("NSE_EQ|INEGEN"))
    .slice(0, INSTRUMENTS);

/**
 * Moves `keys` round-robin, `perSecond` of them a second in `SLOTS_PER_SECOND` even slots,
 * each move a setPrice on the fake (one live_feed frame over the real socket). A slot that
 * fires late catches up, so the rate holds whatever the timer's jitter.
 */
export class Ticker {
  pushed = 0;
  /** Time spent inside the fake pushing (price, snapshot, encode, socket write). */
  busyMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private startedAt = 0;

  constructor(
    private readonly fake: Pick<FakeUpstox, "setPrice">,
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
export function priceWalk(prices: Map<string, number>, rand: () => number): (key: string) => number {
  return (key) => {
    const jump = rand() < 0.002 ? (rand() - 0.5) * 0.03 : 0;
    const p = Math.max(1, Math.round(prices.get(key)! * (1 + (rand() - 0.5) * 0.001 + jump) * 20) / 20);
    prices.set(key, p);
    return p;
  };
}

// --- the app -----------------------------------------------------------------------

interface LiveApp {
  app: RunningApp;
  close(): Promise<void>;
}

/**
 * The whole app in this process in stream mode (the worker role: the notify workers and the
 * stream holder, no schedules or HTTP), on `market`'s fake Upstox, real Redis under its own
 * prefix, a temp SQLite file, and a linked trader whose token authorizes the market feed.
 * Closing it closes the market too.
 */
async function startLiveApp(o: { market: FakeMarket; observer: StreamObserver; telegram?: FakeTelegram }): Promise<LiveApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "uab-bench-stream-"));
  const prefix = `bench-stream-${randomUUID().slice(0, 8)}`;
  let app: RunningApp | undefined;
  const close = async () => {
    await app?.stop().catch(() => {});
    await o.market.close();
    await deletePrefix(prefix).catch(() => 0);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // testConfig's REST poll interval (an hour) keeps polling out of the way: the stream is what is measured.
    const config = testConfig({
      dataDir,
      prefix,
      env: {
        MARKET_DATA_MODE: "stream",
        SIMULATOR_ALWAYS_OPEN: "true",
        ...upstoxEnv(o.market.upstox),
        ...(o.telegram ? { TELEGRAM_BOT_TOKEN: o.telegram.token, TELEGRAM_API_ROOT: o.telegram.apiRoot } : {}),
      },
    });
    app = await startApp(config, { role: "worker", demo: false, log: createLogger({ level: "silent", format: "json" }), streamObserver: o.observer });
    const trader = app.services.users.create({ telegramId: 1, channels: "telegram" });
    app.services.upstox!.tokens.save(trader.id, o.market.token, "BENCH01", new Date());
    return { app, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/** Waits until the fake's market socket carries `count` instruments and the stream has evaluated a batch. */
async function waitForSubscription(market: FakeMarket, count: number, evaluated: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const subscribed = await market.subscribed();
    if (subscribed >= count && evaluated()) return;
    if (Date.now() > deadline) throw new Error(`the market feed subscribed ${subscribed} of ${count} instruments within 60 s`);
    await sleep(100);
  }
}

// --- tick → outbox -------------------------------------------------------------------

interface OutboxRun {
  latencies: number[];
  batches: number;
  fired: number;
  pushed: number;
  spanMs: number;
  elu: number;
  cpuMs: number;
  fakeBusyMs: number;
  /** The event loop's delay (a 1 ms timer's lateness), ms: how long a frame may sit unread before its message event. */
  loopDelayP99: number;
  loopDelayMax: number;
}

/**
 * 2,000 instruments each ticking about once a second on the fake Upstox, 50,000 active rules
 * over them (createRules), measured for 25 s after 5 s of ticking: per tick, from its frame's
 * arrival at the socket to its batch's evaluation committed (the stream's observer). The goal
 * is on the fake in a process of its own, as Upstox is; the same run with the fake in this
 * process shows what its 2,000 frames a second cost the app's event loop.
 */
export async function benchTickToOutbox(): Promise<BenchResult[]> {
  const child = await runTickToOutbox(await ChildFakeMarket.start());
  const local = await runTickToOutbox(await LocalFakeMarket.start());
  const perS = (n: number, r: OutboxRun) => n / (r.spanMs / 1000);
  const what = `${INSTRUMENTS.toLocaleString("en-US")} instruments ticking ~1/s × ${RULES.toLocaleString("en-US")} rules, ${(child.spanMs / 1000).toFixed(0)} s, ${child.fired.toLocaleString("en-US")} alerts fired`;
  return [
    { name: `tick → outbox committed, p99 (${what})`, value: percentile(child.latencies, 99), unit: "ms", goal: GOAL_OUTBOX_P99_MS, better: "lower" },
    { name: "tick → outbox committed, p50", value: percentile(child.latencies, 50), unit: "ms", better: "lower" },
    { name: "tick → outbox committed, p99.9", value: percentile(child.latencies, 99.9), unit: "ms", better: "lower" },
    { name: "tick → outbox committed, max", value: Math.max(...child.latencies), unit: "ms", better: "lower" },
    { name: "ticks pushed by the fake a second (each its own live_feed frame)", value: perS(child.pushed, child), unit: "ticks/s", better: "higher" },
    { name: "evaluations per tick after coalescing (250 ms window)", value: child.latencies.length / child.pushed, unit: "", better: "lower" },
    { name: "instruments per evaluated batch, on average", value: child.latencies.length / child.batches, unit: "", better: "higher" },
    { name: "the app's event loop busy", value: child.elu * 100, unit: "%", better: "lower" },
    { name: "the app's CPU (user + system, all threads)", value: (child.cpuMs / child.spanMs) * 100, unit: "% of a core", better: "lower" },
    {
      name: "the app's event loop delay, p99 (a frame waits this long unread before its message event, not counted above)",
      value: child.loopDelayP99,
      unit: "ms",
      better: "lower",
    },
    { name: "the app's event loop delay, max", value: child.loopDelayMax, unit: "ms", better: "lower" },
    {
      name: `same with the fake in the app's process, p99 (${local.fired.toLocaleString("en-US")} alerts fired)`,
      value: percentile(local.latencies, 99),
      unit: "ms",
      better: "lower",
    },
    { name: "same with the fake in the app's process, p50", value: percentile(local.latencies, 50), unit: "ms", better: "lower" },
    { name: "same with the fake in the app's process, event loop busy", value: local.elu * 100, unit: "%", better: "lower" },
    {
      name: "of which the fake pushing ticks (price, snapshot, encode, socket write)",
      value: (local.fakeBusyMs / local.spanMs) * 100,
      unit: "%",
      better: "lower",
    },
  ];
}

async function runTickToOutbox(market: FakeMarket): Promise<OutboxRun> {
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
  const live = await startLiveApp({ market, observer });
  try {
    const keys = [...market.prices.keys()];
    createRules(live.app, keys, market.prices, seededRandom(7));
    (globalThis as { gc?: () => void }).gc?.();
    await waitForSubscription(market, keys.length, () => evaluatedOnce);

    await market.tick(keys, TICKS_PER_SECOND, 7);
    await sleep(WARM_UP_MS);
    const before = await market.counters();
    measuring = true;
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(MEASURE_MS);
    measuring = false;
    const spanMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    delay.disable();
    const after = await market.counters();
    return {
      latencies,
      batches,
      fired,
      pushed: after.pushed - before.pushed,
      spanMs,
      elu,
      cpuMs: (cpu.user + cpu.system) / 1000,
      fakeBusyMs: after.busyMs - before.busyMs,
      loopDelayP99: delay.percentile(99) / 1e6,
      loopDelayMax: delay.max / 1e6,
    };
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
    const market = await LocalFakeMarket.start();
    live = await startLiveApp({ market, observer: { onEvaluated: () => void (evaluatedOnce = true) }, telegram: tg });
    const { fake, prices } = market;
    const keys = [...prices.keys()];
    const s = live.app.services;
    const probes = keys.slice(0, PROBES);
    const background = keys.slice(PROBES);
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
    await waitForSubscription(market, keys.length, () => evaluatedOnce);

    await market.tick(background, TICKS_PER_SECOND, 11);
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
