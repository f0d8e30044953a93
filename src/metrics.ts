import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

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
    notifications: new Counter({ name: "uab_notifications_total", help: "Notification deliveries, by channel and outcome", labelNames: ["channel", "outcome"], registers: [registry] }),
    errors: new Counter({ name: "uab_errors_total", help: "Errors caught, by where they happened", labelNames: ["where"], registers: [registry] }),
    queueDepth: new Gauge({
      name: "uab_queue_depth",
      help: "Jobs waiting, active, delayed or failed, by queue",
      labelNames: ["queue", "state"],
      registers: [registry],
      async collect() {
        if (!sources) return;
        for (const [queue, counts] of Object.entries(await sources.queueCounts()))
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
      },
    }),
    lastPollAge: new Gauge({
      name: "uab_last_poll_age_seconds",
      help: "Seconds since the last successful market poll (-1 if none yet)",
      registers: [registry],
      async collect() {
        if (!sources) return;
        this.set((await sources.lastPollAgeSeconds()) ?? -1);
      },
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
