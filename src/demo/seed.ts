import type { AlertRuleRepository } from "../db/repositories/alert-rules.js";
import type { InstrumentRepository } from "../db/repositories/instruments.js";
import type { UserRepository } from "../db/repositories/users.js";
import type { WatchlistRepository } from "../db/repositories/watchlists.js";
import { SIMULATED_INSTRUMENTS } from "../market/simulator.js";
import type { QuoteSource } from "../market/types.js";

/** The demo trader's made-up Telegram id: with no bot token, their messages go to the console. */
export const DEMO_TELEGRAM_ID = 100_000_001;
export const DEMO_EMAIL = "demo.trader@example.com";

/**
 * A demo trader watching every simulated symbol, with alerts set just either side of the
 * current price so the first signals arrive within a minute. Running it twice changes nothing.
 */
export async function seedDemo(deps: {
  users: UserRepository;
  instruments: InstrumentRepository;
  watchlists: WatchlistRepository;
  rules: AlertRuleRepository;
  quotes: QuoteSource;
}): Promise<{ created: boolean; rules: number }> {
  deps.instruments.upsertMany(SIMULATED_INSTRUMENTS);
  if (deps.users.findByTelegramId(DEMO_TELEGRAM_ID)) return { created: false, rules: 0 };
  const user = deps.users.create({
    telegramId: DEMO_TELEGRAM_ID,
    displayName: "Demo Trader",
    email: DEMO_EMAIL,
    emailVerified: true,
    channels: "both",
  });
  const keys = SIMULATED_INSTRUMENTS.map((i) => i.instrumentKey);
  const quotes = await deps.quotes.getQuotes(keys);
  let rules = 0;
  for (const key of keys) {
    deps.watchlists.add(user.id, key);
    const q = quotes.get(key);
    if (!q) continue;
    const up = Math.round(q.lastPrice * 1.0015 * 20) / 20;
    const down = Math.round(q.lastPrice * 0.9985 * 20) / 20;
    deps.rules.create({ userId: user.id, instrumentKey: key, kind: "cross_up", params: { level: up }, frequency: "every", cooldownSeconds: 60 });
    deps.rules.create({ userId: user.id, instrumentKey: key, kind: "cross_down", params: { level: down }, frequency: "every", cooldownSeconds: 60 });
    rules += 2;
  }
  deps.rules.create({ userId: user.id, instrumentKey: keys[0]!, kind: "change_pct", params: { pct: 1 }, frequency: "once" });
  // Indicator alerts on one-minute candles: fast EMA crossovers happen every few minutes.
  for (const key of keys.slice(0, 3)) {
    deps.rules.create({ userId: user.id, instrumentKey: key, kind: "ma_cross_up", params: { ma: "ema", fast: 5, slow: 13 }, frequency: "every" });
    deps.rules.create({ userId: user.id, instrumentKey: key, kind: "ma_cross_down", params: { ma: "ema", fast: 5, slow: 13 }, frequency: "every" });
  }
  return { created: true, rules: rules + 7 };
}
