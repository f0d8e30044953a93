import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Every metric the bot exports on /metrics, created once by the composition root. */
export interface MetricSources {
  queueCounts(): Promise<Record<string, Record<string, number>>>;
  /** Seconds since the last successful poll, or null before the first. */
  lastPollAgeSeconds(): Promise<number | null>;
}

export function createMetrics(sources?: MetricSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "uab_" });
  const m = {
    registry,
    jobs: new Counter({ name: "uab_jobs_total", help: "Queue jobs finished, by queue and outcome", labelNames: ["queue", "outcome"], registers: [registry] }),
    polls: new Counter({ name: "uab_polls_total", help: "Market polls, by outcome", labelNames: ["outcome"], registers: [registry] }),
    quotes: new Counter({ name: "uab_quotes_received_total", help: "Quotes received from the market data source", registers: [registry] }),
    alerts: new Counter({ name: "uab_alerts_fired_total", help: "Alert rules that fired, by rule kind", labelNames: ["kind"], registers: [registry] }),
    notifications: new Counter({
      name: "uab_notifications_total",
      help: "Notification deliveries, by channel and outcome",
      labelNames: ["channel", "outcome"],
      registers: [registry],
    }),
    upstoxRequests: new Counter({
      name: "uab_upstox_requests_total",
      help: "Upstox API responses, by host and HTTP status",
      labelNames: ["host", "status"],
      registers: [registry],
    }),
    upstoxThrottled: new Counter({
      name: "uab_upstox_throttled_total",
      help: "429 answers from Upstox (each one backed off, never hammered)",
      labelNames: ["host"],
      registers: [registry],
    }),
    upstoxRateLimitWaits: new Counter({
      name: "uab_upstox_rate_limit_waits_total",
      help: "Times a call waited for our own Upstox rate limiter, by category and priority (live quotes, background history)",
      labelNames: ["category", "priority"],
      registers: [registry],
    }),
    historyLoaded: new Counter({
      name: "uab_history_instruments_loaded_total",
      help: "Instruments whose candle history was loaded (warm-up for candle rules)",
      registers: [registry],
    }),
    historyCandles: new Counter({ name: "uab_history_candles_loaded_total", help: "One-minute candles stored by history warm-ups", registers: [registry] }),
    redisOutages: new Counter({ name: "uab_redis_outages_total", help: "Times the Redis connection was lost", registers: [registry] }),
    schedulesRestored: new Counter({
      name: "uab_schedules_restored_total",
      help: "Times the job schedules were found missing in Redis and registered again",
      registers: [registry],
    }),
    tokensExpired: new Counter({
      name: "uab_upstox_tokens_expired_total",
      help: "Upstox tokens found expired or revoked (counted once per token)",
      registers: [registry],
    }),
    feedTicks: new Counter({
      name: "uab_feed_ticks_total",
      help: "Ticks received from a streaming market feed, by feed",
      labelNames: ["feed"],
      registers: [registry],
    }),
    feedDecodeErrors: new Counter({
      name: "uab_feed_decode_errors_total",
      help: "Feed frames that could not be decoded, by feed",
      labelNames: ["feed"],
      registers: [registry],
    }),
    feedReconnects: new Counter({ name: "uab_feed_reconnects_total", help: "Feed sockets reconnected, by feed", labelNames: ["feed"], registers: [registry] }),
    feedFallbackSeconds: new Counter({
      name: "uab_feed_fallback_seconds_total",
      help: "Seconds of REST polling done because no market feed was live while MARKET_DATA_MODE=stream",
      registers: [registry],
    }),
    feedConnected: new Gauge({
      name: "uab_feed_connected",
      help: "1 while this process holds a connected feed, by feed (0 elsewhere)",
      labelNames: ["feed"],
      registers: [registry],
    }),
    tickToOutbox: new Histogram({
      name: "uab_tick_to_outbox_seconds",
      help: "From a tick's arrival to its evaluation committed (outbox rows written when it fired)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    portfolioUpdates: new Counter({
      name: "uab_portfolio_updates_total",
      help: "Portfolio stream updates received, by update type (order, position, holding, gtt_order)",
      labelNames: ["type"],
      registers: [registry],
    }),
    errors: new Counter({ name: "uab_errors_total", help: "Errors caught, by where they happened", labelNames: ["where"], registers: [registry] }),
    queueDepth: new Gauge({
      name: "uab_queue_depth",
      help: "Jobs waiting, active, delayed or failed, by queue",
      labelNames: ["queue", "state"],
      registers: [registry],
      async collect() {
        if (!sources) return;
        // Redis down must not turn /metrics into a 500: the series is left out of this scrape instead.
        this.reset();
        const counts = await sources.queueCounts().catch(() => undefined);
        if (!counts) return void m.errors.inc({ where: "metrics" });
        for (const [queue, byState] of Object.entries(counts)) for (const [state, n] of Object.entries(byState)) this.set({ queue, state }, n);
      },
    }),
    lastPollAge: new Gauge({
      name: "uab_last_poll_age_seconds",
      help: "Seconds since the last successful market poll (-1 if none yet, NaN if Redis cannot be read)",
      registers: [registry],
      async collect() {
        if (!sources) return;
        const age = await sources.lastPollAgeSeconds().then(
          (v) => v ?? -1,
          () => undefined,
        );
        if (age === undefined) {
          // Unknown, not "just polled": a reset gauge would read 0.
          this.set(Number.NaN);
          return void m.errors.inc({ where: "metrics" });
        }
        this.set(age);
      },
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
