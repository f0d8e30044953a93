/**
 * A simulated trading week on the production start path, in a process of its own (started
 * by bench/week.ts as `node --expose-gc dist-bench/bench/week-process.js`), so no other
 * section's garbage is in its RSS.
 *
 * It starts the app as `node dist/src/main.js` does (startApp with the config from the
 * environment: SQLite file, Redis, queues, workers, schedules, HTTP), on a clock it moves by
 * hand, with a market of 2,000 instruments of its own (the built-in simulator knows six).
 * It loads 50,000 rules (25 an instrument: 22 or 23 price rules, 2 or 3 candle rules) and the previous
 * session's candles, takes the candle and quote schedules over, and drives 5 days × 375
 * minutes through the real job functions: each minute jobs/fetch-candles.ts (candles stored,
 * indicators stepped, candle rules evaluated, alerts recorded and queued to the real notify
 * worker) and, unless WEEK_POLLS=0, jobs/poll-quotes.ts. At the end of each day it collects
 * garbage and records RSS. The result is one line on stdout: `WEEK_RESULT {json}`.
 */
import type { Job } from "bullmq";
import { Redis } from "ioredis";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fetchCandles } from "../jobs/fetch-candles.js";
import { pollQuotes } from "../jobs/poll-quotes.js";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { createLogger } from "../src/log/logger.js";
import { seededRandom } from "../src/market/simulator.js";
import type { CandleSource, InstrumentInfo, MarketCandle, Quote, QuoteSource } from "../src/market/types.js";
import type { RuleKind } from "../src/signals/rules.js";

const INSTRUMENTS = Number(process.env.WEEK_INSTRUMENTS ?? 2000);
const RULES_EACH = 25;
const DAYS = Number(process.env.WEEK_DAYS ?? 5);
const SESSION = 375;
/** A quote poll every this many minutes (0: none). Every minute would double the run time; the memory it holds is the same. */
const POLL_EVERY = Number(process.env.WEEK_POLL_EVERY ?? 15);
const POLLS = POLL_EVERY > 0;
const MINUTE = 60_000;
const DAY_MS = 86_400_000;
/** Monday 2025-01-06, 09:15 IST; the history is the Friday before. */
const MONDAY_OPEN = Date.parse("2025-01-06T09:15:00+05:30");
const FRIDAY_OPEN = MONDAY_OPEN - 3 * DAY_MS;
const MB = 1024 * 1024;
/** What traders typically set on one-minute candles (each fires at most once a day). */
const CANDLE_RULES: readonly { kind: RuleKind; params: Record<string, unknown> }[] = [
  { kind: "rsi_below", params: { level: 30 } },
  { kind: "ma_cross_up", params: { ma: "ema", fast: 9, slow: 21 } },
  { kind: "macd_cross_up", params: {} },
  { kind: "bb_break_up", params: {} },
  { kind: "volume_spike", params: { multiple: 3 } },
];

/** A market of its own: one random walk per instrument, one step per closed minute. */
class WeekMarket implements CandleSource, QuoteSource {
  readonly name = "week-bench";
  readonly keys: string[];
  private readonly price: Float64Array;
  private readonly prevClose: Float64Array;
  private readonly rnd = seededRandom(2025);
  private readonly last = new Map<string, MarketCandle>();
  private lastMinute = -1;

  constructor(
    n: number,
    private readonly clock: () => number,
  ) {
    this.keys = Array.from({ length: n }, (_, i) => `NSE_EQ|INEWEEK${String(i).padStart(5, "0")}`);
    this.price = new Float64Array(n);
    for (let i = 0; i < n; i++) this.price[i] = 50 + this.rnd() * 3000;
    this.prevClose = Float64Array.from(this.price);
  }

  instruments(): InstrumentInfo[] {
    return this.keys.map((k, i) => ({
      instrumentKey: k,
      tradingSymbol: `WEEK${i}`,
      name: `WEEK BENCH ${i}`,
      exchange: "NSE",
      segment: "NSE_EQ",
      instrumentType: "EQ",
      isin: k.slice(7),
      lotSize: 1,
      tickSize: 0.05,
    }));
  }

  priceOf(i: number): number {
    return this.price[i]!;
  }

  /** Moves every instrument one minute on and returns that minute's candles. */
  step(ts: number): MarketCandle[] {
    const out: MarketCandle[] = [];
    for (let i = 0; i < this.keys.length; i++) {
      const open = this.price[i]!;
      const close = Math.round(open * (1 + (this.rnd() - 0.5) * 0.004) * 20) / 20;
      const c = {
        ts,
        open,
        high: Math.max(open, close) * (1 + this.rnd() * 0.001),
        low: Math.min(open, close) * (1 - this.rnd() * 0.001),
        close,
        volume: Math.floor(100 + this.rnd() * 50_000),
      };
      this.price[i] = close;
      out.push(c);
    }
    return out;
  }

  /** The session ended: today's last price is tomorrow's previous close. */
  closeDay(): void {
    this.prevClose.set(this.price);
  }

  getLastClosedCandles(keys: readonly string[]): Promise<Map<string, MarketCandle>> {
    const minute = Math.floor(this.clock() / MINUTE) * MINUTE - MINUTE;
    if (minute !== this.lastMinute) {
      this.lastMinute = minute;
      const candles = this.step(minute);
      this.last.clear();
      for (let i = 0; i < candles.length; i++) this.last.set(this.keys[i]!, candles[i]!);
    }
    const out = new Map<string, MarketCandle>();
    for (const k of keys) {
      const c = this.last.get(k);
      if (c) out.set(k, c);
    }
    return Promise.resolve(out);
  }

  getCandleHistory(): Promise<MarketCandle[]> {
    return Promise.resolve([]); // the history is loaded before the week starts
  }

  getQuotes(keys: readonly string[]): Promise<Map<string, Quote>> {
    const now = this.clock();
    const out = new Map<string, Quote>();
    const index = new Map(this.keys.map((k, i) => [k, i]));
    for (const k of keys) {
      const i = index.get(k);
      if (i === undefined) continue;
      const p = Math.round(this.price[i]! * (1 + (this.rnd() - 0.5) * 0.001) * 20) / 20;
      out.set(k, {
        instrumentKey: k,
        symbol: `WEEK${i}`,
        lastPrice: p,
        open: p,
        high: p,
        low: p,
        prevClose: this.prevClose[i]!,
        volume: 1000,
        lastTradeAt: now - 500,
      });
    }
    return Promise.resolve(out);
  }
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error("run with node --expose-gc");
  g();
  g();
}

/** Removes the week's Redis keys (queues, poll state, heartbeats), all under its own prefix. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "uab-bench-week-"));
  const prefix = `bench-week-${process.pid}`;
  let now = FRIDAY_OPEN + SESSION * MINUTE + 3_600_000;
  const clock = () => now;
  const market = new WeekMarket(INSTRUMENTS, clock);
  const config = loadConfig({
    ...process.env,
    NODE_ENV: "production",
    LOG_LEVEL: "error",
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    HTTP_PORT: "0",
    SIMULATOR_ALWAYS_OPEN: "false",
    TELEGRAM_BOT_TOKEN: "",
    UPSTOX_API_KEY: "",
  });
  const log = createLogger({ level: config.log.level, format: config.log.format, secrets: config.secrets });
  const app = await startApp(config, { role: "all", demo: false, log, clock, quoteSource: market, candleSource: market });
  const s = app.services;
  try {
    // The week drives these two by hand: their schedulers (real time) must not run them too.
    for (const name of ["fetch-candles", "poll-quotes"] as const) {
      const q = s.queues[name];
      await q.removeJobScheduler(name);
      await q.drain(true);
    }

    // 2,000 instruments, 50,000 rules over 2,000 users, each user watching what they alert on.
    const t0 = performance.now();
    s.instruments.upsertMany(market.instruments());
    const priceKinds: RuleKind[] = ["price_above", "price_below", "cross_up", "cross_down", "change_pct"];
    const rnd = seededRandom(7);
    s.db.transaction(() => {
      const users = Array.from({ length: 2000 }, (_, i) => s.users.create({ telegramId: 500_000 + i, channels: "telegram" }).id);
      let u = 0;
      for (let i = 0; i < INSTRUMENTS; i++) {
        const key = market.keys[i]!;
        const p = market.priceOf(i);
        // Indicator rules are the fewer: 2 or 3 an instrument (5,000 in all), the rest price rules.
        const candleRules = i % 2 === 0 ? 3 : 2;
        for (let j = 0; j < RULES_EACH; j++) {
          const userId = users[u++ % users.length]!;
          s.watchlists.add(userId, key);
          if (j < RULES_EACH - candleRules) {
            const kind = priceKinds[j % priceKinds.length]!;
            // Levels within ±6 % of the price, moves of 2–6 %: some fire in a day, most stay quiet.
            const params = kind === "change_pct" ? { pct: 2 + rnd() * 4 } : { level: Math.round(p * (0.94 + rnd() * 0.12) * 20) / 20 };
            // Half fire once and finish, half at most once a day.
            const repeat = j % 2 === 0;
            s.rules.create({ userId, instrumentKey: key, kind, params, frequency: repeat ? "every" : "once", cooldownSeconds: repeat ? 86_400 : 0 });
          } else {
            const r = CANDLE_RULES[(i + j) % CANDLE_RULES.length]!;
            s.rules.create({ userId, instrumentKey: key, kind: r.kind, params: r.params, frequency: "every", cooldownSeconds: 86_400 });
          }
        }
      }
    })();
    // The Friday session before: enough history that no warm-up is needed (as after a first day).
    for (let m = 0; m < SESSION; m++) {
      const ts = FRIDAY_OPEN + m * MINUTE;
      const candles = market.step(ts);
      s.candles.upsert(
        "1m",
        candles.map((c, i) => [market.keys[i]!, c] as const),
      );
    }
    market.closeDay();
    const setupMs = performance.now() - t0;
    const rulesLoaded = (s.db.prepare("SELECT COUNT(*) AS n FROM alert_rules").get() as { n: number }).n;
    if (process.env.WEEK_PROGRESS) {
      gc();
      const mu = process.memoryUsage();
      process.stderr.write(`set up: rss ${(mu.rss / MB).toFixed(1)} MB, heap ${(mu.heapUsed / MB).toFixed(1)}/${(mu.heapTotal / MB).toFixed(1)} MB\n`);
    }

    const job = {} as Job;
    const rssAtDayEnd: number[] = [];
    let fired = 0;
    let candleJobMs = 0;
    let pollJobMs = 0;
    const tWeek = performance.now();
    for (let day = 0; day < DAYS; day++) {
      const open = MONDAY_OPEN + day * DAY_MS;
      for (let m = 0; m < SESSION; m++) {
        if (POLLS && m % POLL_EVERY === 0) {
          // Mid-minute, while the market is open.
          now = open + m * MINUTE + 30_000;
          const t = performance.now();
          const p = await pollQuotes(job, s);
          pollJobMs += performance.now() - t;
          if ("skipped" in p) throw new Error(`the quote poll skipped minute ${m} of day ${day + 1}: ${p.skipped}`);
          fired += p.fired;
        }
        // Second 5 of the next minute, as the schedule runs it: the minute m has closed.
        now = open + (m + 1) * MINUTE + 5_000;
        const t = performance.now();
        const r = await fetchCandles(job, s);
        candleJobMs += performance.now() - t;
        if ("skipped" in r) throw new Error(`the candle job skipped minute ${m} of day ${day + 1}: ${r.skipped}`);
        fired += r.fired;
      }
      market.closeDay();
      await new Promise<void>((resolve) => setImmediate(resolve));
      gc();
      rssAtDayEnd.push(process.memoryUsage().rss / MB);
      const mu = process.memoryUsage();
      if (process.env.WEEK_PROGRESS) {
        const { readFileSync } = await import("node:fs");
        const status = readFileSync("/proc/self/status", "utf8");
        process.stderr.write(
          status
            .split("\n")
            .filter((l) => /^(RssAnon|RssFile|RssShmem|VmRSS)/.test(l))
            .join(" ")
            .replace(/\s+/g, " ") + "\n",
        );
        const { getHeapSpaceStatistics } = await import("node:v8");
        process.stderr.write(
          getHeapSpaceStatistics()
            .map((h) => `${h.space_name} ${(h.space_used_size / MB).toFixed(1)}/${(h.space_size / MB).toFixed(1)}`)
            .join(", ") + "\n",
        );
      }
      if (process.env.WEEK_PROGRESS)
        process.stderr.write(
          `day ${day + 1}: rss ${rssAtDayEnd[day]!.toFixed(1)} MB, heap ${(mu.heapUsed / MB).toFixed(1)}/${(mu.heapTotal / MB).toFixed(1)} MB, external ${(mu.external / MB).toFixed(1)} MB, candle job ${(candleJobMs / ((day + 1) * SESSION)).toFixed(1)} ms/min, poll ${(pollJobMs / ((day + 1) * Math.ceil(SESSION / Math.max(1, POLL_EVERY)))).toFixed(1)} ms\n`,
        );
    }
    const weekMs = performance.now() - tWeek;
    const firedByKind = Object.fromEntries(
      (
        s.db.prepare("SELECT r.kind AS kind, COUNT(*) AS n FROM signals s JOIN alert_rules r ON r.id = s.rule_id GROUP BY r.kind").all() as {
          kind: string;
          n: number;
        }[]
      ).map((r) => [r.kind, r.n]),
    );
    const mem = process.memoryUsage();
    const minutes = DAYS * SESSION;
    const result = {
      instruments: INSTRUMENTS,
      rules: rulesLoaded,
      rulesAtEnd: s.ruleBook.size,
      days: DAYS,
      polls: POLLS,
      setupMs,
      weekMs,
      candleJobMsPerMinute: candleJobMs / minutes,
      pollEvery: POLL_EVERY,
      pollJobMs: POLLS ? pollJobMs / Math.ceil(SESSION / POLL_EVERY) / DAYS : 0,
      fired,
      firedByKind,
      rssAtDayEnd,
      heapUsedMb: mem.heapUsed / MB,
      arrayBuffersMb: mem.arrayBuffers / MB,
      externalMb: mem.external / MB,
    };
    process.stdout.write(`WEEK_RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await app.stop();
    await deleteKeys(app.redisUrl, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
