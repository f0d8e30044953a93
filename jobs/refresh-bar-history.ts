import type { Job } from "bullmq";
import { istDate, MAX_HISTORY_DAYS, type BarHistorySource } from "../src/market/bar-history.js";
import { loadBarHistory } from "../src/market/load-bar-history.js";
import type { Services } from "../src/services.js";
import { longHistoryNeeds, type LongHistoryNeed } from "../src/signals/long-bars.js";
import { isCandleRule, keysByTimeframe, readsYearRange, type AlertRule } from "../src/signals/rules.js";
import { MIN_YEAR_BARS, usable } from "../src/signals/year-range.js";
import { UpstoxBarHistory } from "../src/upstox/bar-history-source.js";

const DAY_MS = 86_400_000;

export interface BarHistoryData {
  /** One instrument to bring up to date; without it, the evening run that queues every instrument that needs it. */
  instrumentKey?: string;
}

export type BarHistoryResult =
  { skipped: string } | { queued: number; pruned: number } | { instrumentKey: string; stored: number; requests: number; bars: Record<string, number> };

/** Hourly and daily history comes from Upstox; the simulator has only its own minutes. */
const sourceOf = (s: Services): BarHistorySource | undefined =>
  s.upstox && new UpstoxBarHistory(s.upstox.client, s.upstox.tokens, s.config.upstox.marketDataUser);

const sessionOf = (s: Services) => (ts: number) => s.calendar.session(new Date(ts));

/**
 * Hourly and daily bars for the rules that read them (on 1h or 1d bars, or a 52-week range):
 * fetched whole from Upstox, since the one-minute store keeps about a month. Per instrument:
 * the whole range the first time, then from the last stored day on. The evening run (after
 * every session of the day, a Muhurat one included) queues one job per instrument in use
 * that needs it, and drops bars older than anything a rule can read.
 */
export async function refreshBarHistory(job: Job<BarHistoryData>, s: Services): Promise<BarHistoryResult> {
  const source = sourceOf(s);
  if (!source) return { skipped: "no Upstox app: hourly and daily history come from Upstox" };
  const key = job.data.instrumentKey;
  s.ruleBook.refresh();
  await s.calendar.sync();
  if (key === undefined) return queueEveningRefresh(s);

  const rules = s.ruleBook.forInstrument(key);
  const needs = longHistoryNeeds(rules);
  if (!needs.length) return { skipped: "no rules on hourly or daily bars any more" };
  const deps = { source, candles: s.candles, sessionOf: sessionOf(s), now: s.clock() };
  let stored = 0;
  let requests = 0;
  const bars: Record<string, number> = {};
  for (const need of needs) {
    const load = await loadBarHistory(deps, key, need.tf, need.days);
    stored += load.stored;
    requests += load.requests;
    bars[need.tf] = load.count;
    if (load.count < need.bars) logShort(s, key, need, load.count, rules);
  }
  // Rebuilt from the stored bars on the next minute; the 52-week range is worked out again.
  s.timeframes.forget(key);
  if (rules.some(readsYearRange) && !usable(s.timeframes.yearRange(key, deps.now, rules)))
    s.log.warn(
      { instrumentKey: key, dailyBars: bars["1d"] },
      `52-week alerts on ${symbolOf(s, key)} are skipped: fewer than ${MIN_YEAR_BARS} daily bars in the last 52 weeks (a recent listing?)`,
    );
  s.metrics.historyLoaded.inc();
  s.metrics.historyCandles.inc(stored);
  s.log.debug({ instrumentKey: key, stored, requests, bars }, "hourly/daily history loaded");
  return { instrumentKey: key, stored, requests, bars };
}

function logShort(s: Services, key: string, need: LongHistoryNeed, count: number, rules: readonly AlertRule[]): void {
  const onIt = rules.filter((r) => isCandleRule(r.kind) && keysByTimeframe(r).has(need.tf)).length;
  if (!onIt) return;
  s.log.info(
    { instrumentKey: key, timeframe: need.tf, bars: count, wanted: need.bars },
    `${symbolOf(s, key)} has ${count} ${need.tf} bars of the ${need.bars} its indicators need to settle: its alerts on ${need.tf} start from what there is`,
  );
}

const symbolOf = (s: Services, key: string) => s.instruments.get(key)?.tradingSymbol ?? key;

async function queueEveningRefresh(s: Services): Promise<BarHistoryResult> {
  const now = s.clock();
  if (!s.calendar.session(new Date(now))) return { skipped: "not a trading day" };
  let queued = 0;
  for (const key of s.watchlists.instrumentKeysInUse()) {
    if (!longHistoryNeeds(s.ruleBook.forInstrument(key)).length) continue;
    await queueBarHistory(s, key, `${istDate(now)}-close`);
    queued++;
  }
  // Nothing reads bars older than the longest history fetched (with a month to spare).
  const pruned =
    (await s.candles.pruneBars("1d", now - (MAX_HISTORY_DAYS["1d"] + 30) * DAY_MS)) +
    (await s.candles.pruneBars("1h", now - (MAX_HISTORY_DAYS["1h"] + 30) * DAY_MS));
  return { queued, pruned };
}

export const barHistoryJobId = (instrumentKey: string, tag: string) => `bars-${instrumentKey.replace(/[^A-Za-z0-9]/g, "_")}-${tag}`;

/** Queues one instrument's history job; `tag` makes it once per day (and once more after the close). */
export async function queueBarHistory(s: Services, instrumentKey: string, tag: string): Promise<void> {
  await s.queues["refresh-bar-history"].add(
    "refresh-bar-history",
    { instrumentKey },
    {
      jobId: barHistoryJobId(instrumentKey, tag),
      removeOnComplete: { age: DAY_MS / 1000 },
      removeOnFail: { age: 600 },
      attempts: 3,
      backoff: { type: "exponential", delay: 5_000 },
    },
  );
}
