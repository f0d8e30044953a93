import path from "node:path";
import type { Database } from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/db/open.js";
import { CandleRepository, type CandleInterval } from "../../../src/db/repositories/candles.js";
import type { MarketCandle } from "../../../src/market/types.js";
import { IndicatorEngine, specsFor } from "../../../src/signals/indicator-engine.js";
import { candlesNeeded, InstrumentIndicators, type CandleInput } from "../../../src/signals/indicators/index.js";
import type { AlertRule } from "../../../src/signals/rules.js";
import { alertRule as rule } from "../../support/rules.js";
import { removeDir, tempDir } from "../../support/env.js";
import { genCandles, SESSION } from "./helpers.js";

const KEY = "NSE_EQ|INE002A01018";

/** The real repository, counting the reads the engine makes (what "no SQLite read per candle" means). */
class CountingCandles extends CandleRepository {
  befores = 0;
  recents = 0;
  override before(key: string, interval: CandleInterval, ts: number): MarketCandle | undefined {
    this.befores++;
    return super.before(key, interval, ts);
  }
  override recent(key: string, interval: CandleInterval, limit: number): MarketCandle[] {
    this.recents++;
    return super.recent(key, interval, limit);
  }
}

describe("IndicatorEngine.onCandle on a real candle store", () => {
  let dir: string;
  let db: Database;
  let candles: CountingCandles;
  const series = genCandles(SESSION * 3, { seed: 91 });
  const store = (cs: readonly CandleInput[]) =>
    candles.upsert(
      "1m",
      cs.map((c) => [KEY, c] as const),
    );
  /** A rebuild replays the `candlesNeeded` stored candles before the one fed, then streams: the engine must always equal that. */
  const expectedAfter = (rules: readonly AlertRule[], history: readonly CandleInput[], fed: readonly CandleInput[]) => {
    const specs = specsFor(rules);
    return InstrumentIndicators.fromCandles(specs, [...history.slice(-candlesNeeded(specs)), ...fed]).values();
  };

  beforeEach(() => {
    dir = tempDir();
    db = openDatabase(path.join(dir, "candles.sqlite"));
    candles = new CountingCandles(db);
  });
  afterEach(() => {
    db.close();
    removeDir(dir);
  });

  it("rebuilds once, then streams candles that follow on without reading SQLite", () => {
    const engine = new IndicatorEngine(candles);
    const rules = [rule("rsi_below", { level: 30 })];
    const history = series.slice(0, 500);
    store(history);
    const fed = series.slice(500, 560);
    let previousCandle: MarketCandle | undefined = history[history.length - 1];
    for (const c of fed) {
      store([c]);
      const u = engine.onCandle(KEY, c, rules)!;
      expect(u.previousCandle).toEqual(previousCandle);
      previousCandle = c;
    }
    expect(candles.recents).toBe(1);
    expect(candles.befores).toBe(1); // the first candle: no state yet
    expect(engine.valuesOf(KEY)).toEqual(expectedAfter(rules, history, fed));
  });

  it("across the night's gap: one look-up of the previous stored candle, no rebuild", () => {
    const engine = new IndicatorEngine(candles);
    const day1 = series.slice(0, SESSION);
    store(day1.slice(0, SESSION - 10));
    const fed = day1.slice(SESSION - 10);
    for (const c of fed) {
      store([c]);
      engine.onCandle(KEY, c, []);
    }
    const open = series[SESSION]!; // 09:15 the next day
    store([open]);
    const before = { befores: candles.befores, recents: candles.recents };
    const u = engine.onCandle(KEY, open, [])!;
    expect(u.previousCandle).toBe(day1[SESSION - 1]);
    expect(candles.befores - before.befores).toBe(1);
    expect(candles.recents).toBe(before.recents);
    expect(engine.valuesOf(KEY)).toEqual(expectedAfter([], day1.slice(0, SESSION - 10), [...fed, open]));
  });

  it("a candle another process handled: rebuilt from the store, the same values as that process", () => {
    const a = new IndicatorEngine(candles);
    const b = new IndicatorEngine(candles);
    const rules = [rule("ma_cross_up", { ma: "ema", fast: 5, slow: 13 })];
    store(series.slice(0, 450));
    const [c1, c2, c3] = series.slice(450, 453) as [CandleInput, CandleInput, CandleInput];
    store([c1]);
    a.onCandle(KEY, c1, rules);
    store([c2]);
    b.onCandle(KEY, c2, rules); // A never sees c2
    store([c3]);
    const fromB = b.onCandle(KEY, c3, rules)!;
    const recents = candles.recents;
    const fromA = a.onCandle(KEY, c3, rules)!;
    expect(candles.recents).toBe(recents + 1);
    expect(fromA.previousCandle).toEqual(c2);
    expect(fromA.values).toEqual(expectedAfter(rules, series.slice(0, 452), [c3]));
    expect(fromA.values["ema:5"]).toBeDefined();
    expect(fromA.values["ema:13"]).toBe(fromB.values["ema:13"]);
  });

  it("works the specs out once per rule list; rebuilds for indicators it lacks, keeps the state for fewer", () => {
    const engine = new IndicatorEngine(candles);
    store(series.slice(0, 400));
    const none: AlertRule[] = [];
    const withMa = [rule("ma_cross_down", { ma: "sma", fast: 7, slow: 30 })];
    expect(engine.profile(withMa)).toBe(engine.profile(withMa));
    expect(engine.profile(withMa).keys).toContain("sma:7");
    expect(engine.profile(withMa).history).toBe(30);
    expect(engine.profile(none).hasCandleRules).toBe(false);
    // The rule book splices a rule it finished out of the same array: the profile follows.
    const shrinking = [rule("rsi_below", { level: 30 }), rule("volume_spike", { period: 10 })];
    expect(engine.profile(shrinking).keys).toContain("volume_sma:10");
    shrinking.splice(1, 1);
    expect(engine.profile(shrinking).keys).not.toContain("volume_sma:10");

    const feed = (i: number, rules: readonly AlertRule[]) => {
      store([series[i]!]);
      return engine.onCandle(KEY, series[i]!, rules)!;
    };
    feed(400, none);
    expect(candles.recents).toBe(1);
    feed(401, none);
    const u = feed(402, withMa); // a new rule reads sma:7 and sma:30: rebuilt with them
    expect(candles.recents).toBe(2);
    expect(u.values["sma:7"]).toBeDefined();
    expect(u.values).toEqual(expectedAfter(withMa, series.slice(0, 402), [series[402]!]));
    feed(403, withMa);
    feed(404, [...withMa]); // another list, same indicators: no rebuild
    feed(405, none); // the rule went: the state still has everything the defaults need
    expect(candles.recents).toBe(2);
  });

  it("the same candle twice (a job run again) is answered again, from a rebuild", () => {
    const engine = new IndicatorEngine(candles);
    store(series.slice(0, 420));
    const first = engine.onCandle(KEY, series[419]!, [])!;
    const again = engine.onCandle(KEY, series[419]!, [])!;
    expect(again.values).toEqual(first.values);
    expect(again.previousCandle).toEqual(series[418]);
    expect(again.values).toEqual(expectedAfter([], series.slice(0, 419), [series[419]!]));
  });
});
