import type { Services } from "../services.js";
import { whenUp } from "../redis/watch.js";
import { liveProcesses, type LiveProcess } from "../lifecycle/heartbeat.js";
import { isLive, type PublishedFeed } from "../market/stream/feed-status.js";

/** Pure assessment of service health from measured inputs; the HTTP layer only gathers them. */

export interface HealthInputs {
  now: number;
  startedAt: number;
  redis: { ok: boolean; latencyMs?: number; error?: string };
  sqlite: { ok: boolean; error?: string };
  lastPollAt: number | null;
  pollIntervalSeconds: number;
  marketOpen: boolean;
  pollingPaused: boolean;
  marketData: { source: string; linkedUsers: number; expiredTokens: number };
  /** History warm-ups for candle rules: queued or running, and failed (kept 10 minutes). Unknown while Redis is down. */
  history?: { pending: number; failed: number } | undefined;
  /** The bot's processes that are alive (heartbeats in Redis). Unknown while Redis is down. */
  processes?: LiveProcess[] | undefined;
  /** MARKET_DATA_MODE=stream: the feeds as their holder published them (none while no process holds them). */
  stream?: { feeds: PublishedFeed[]; stallSeconds: number } | undefined;
}

/** One feed in /healthz: what an operator needs to tell a live feed from a stuck one. */
export interface FeedHealth {
  name: string;
  ok: boolean;
  status: PublishedFeed["status"];
  holder: string;
  subscribed: number;
  overLimit: number;
  lastMessageAgeSeconds: number | null;
  reconnectsToday: number;
  decodeErrors: number;
  lastError?: string;
}

export interface HealthReport {
  status: "ok" | "unhealthy";
  checks: {
    redis: HealthInputs["redis"];
    sqlite: HealthInputs["sqlite"];
    marketPoll: {
      ok: boolean;
      state: "polling" | "streaming" | "market closed" | "paused" | "stale" | "waiting for first poll";
      lastPollAt: string | null;
      ageSeconds: number | null;
    };
    upstoxToken: { state: "simulator" | "no linked users" | "ok" | "some expired"; linkedUsers: number; expired: number };
    /** Progress of history loading; informative, never makes the bot unhealthy (live alerts do not wait for it). */
    history?: { state: "loading" | "done"; pending: number; failed: number };
    /** Informative: which processes (roles, hosts) are alive. */
    processes?: LiveProcess[];
    /** MARKET_DATA_MODE=stream: each feed's state; a feed down is not unhealthy while REST polling covers. */
    feeds?: FeedHealth[];
  };
}

export function assessHealth(i: HealthInputs): HealthReport {
  const age = i.lastPollAt === null ? null : Math.max(0, Math.round((i.now - i.lastPollAt) / 1000));
  // Three missed polls (plus slack for a slow Upstox) before we call polling stuck.
  const staleAfter = i.pollIntervalSeconds * 3 + 30;
  let state: HealthReport["checks"]["marketPoll"]["state"];
  let pollOk = true;
  if (i.pollingPaused) state = "paused";
  else if (!i.marketOpen) state = "market closed";
  else if (age === null) {
    state = "waiting for first poll";
    pollOk = (i.now - i.startedAt) / 1000 < staleAfter;
  } else if (age > staleAfter) {
    state = "stale";
    pollOk = false;
  } else state = "polling";

  // Market data works when the poll does or a market feed is live: only neither is unhealthy.
  const stallMs = (i.stream?.stallSeconds ?? 0) * 1000;
  const feeds = i.stream?.feeds.map((f): FeedHealth => {
    // Order updates come hours apart: a portfolio socket is fine while connected (its own pings keep it honest).
    const ok = f.name === "upstox-portfolio" ? f.status === "connected" : isLive(f, i.now, stallMs);
    return {
      name: f.name,
      ok,
      status: f.status,
      holder: f.holder,
      subscribed: f.subscribed,
      overLimit: f.overLimit,
      lastMessageAgeSeconds: f.lastMessageAt === null ? null : Math.max(0, Math.round((i.now - f.lastMessageAt) / 1000)),
      reconnectsToday: f.reconnectsToday,
      decodeErrors: f.decodeErrors,
      ...(f.lastError ? { lastError: f.lastError } : {}),
    };
  });
  const marketFeedLive = feeds?.some((f) => f.ok && f.name !== "upstox-portfolio") ?? false;
  if (marketFeedLive && (state === "stale" || state === "waiting for first poll" || state === "polling")) {
    state = "streaming";
    pollOk = true;
  }

  const md = i.marketData;
  const token: HealthReport["checks"]["upstoxToken"] = {
    state: md.source === "simulator" ? "simulator" : md.linkedUsers === 0 ? "no linked users" : md.expiredTokens > 0 ? "some expired" : "ok",
    linkedUsers: md.linkedUsers,
    expired: md.expiredTokens,
  };
  const ok = i.redis.ok && i.sqlite.ok && pollOk;
  return {
    status: ok ? "ok" : "unhealthy",
    checks: {
      redis: i.redis,
      sqlite: i.sqlite,
      marketPoll: { ok: pollOk, state, lastPollAt: i.lastPollAt === null ? null : new Date(i.lastPollAt).toISOString(), ageSeconds: age },
      upstoxToken: token,
      ...(i.processes ? { processes: i.processes } : {}),
      ...(feeds ? { feeds } : {}),
      ...(i.history ? { history: { state: i.history.pending > 0 ? ("loading" as const) : ("done" as const), ...i.history } } : {}),
    },
  };
}

/** What gathering health reads. */
export type HealthSources = Pick<Services, "clock" | "pollState" | "users" | "queues" | "config" | "marketOpen" | "quotes" | "redis" | "feedStatus">;

/**
 * Measures what /healthz reports (Redis, SQLite, the last poll, tokens, history progress)
 * and hands it to assessHealth. Every Redis read is bounded, so a Redis outage answers 503
 * at once instead of hanging.
 */
export async function gatherHealth(s: HealthSources, startedAt: number, redisReady: () => boolean, sqlitePing: { get(): unknown }): Promise<HealthReport> {
  const now = s.clock();
  const redis = await (async () => {
    const t0 = performance.now();
    try {
      await whenUp(redisReady, () => s.pollState.isPaused());
      return { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  })();
  let sqlite: { ok: boolean; error?: string } = { ok: true };
  try {
    sqlitePing.get();
  } catch (err) {
    sqlite = { ok: false, error: (err as Error).message };
  }
  const [lastPollAt, pollingPaused] = redis.ok
    ? await whenUp(redisReady, () => Promise.all([s.pollState.lastPollAt(), s.pollState.isPaused()])).catch(() => [null, false] as const)
    : [null, false];
  const counts = sqlite.ok ? s.users.counts() : { linked: 0, expired: 0 };
  const history = redis.ok
    ? await whenUp(redisReady, () => s.queues["warm-up-candles"].getJobCounts("waiting", "active", "delayed", "prioritized", "failed"))
        .then((c) => ({ pending: (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0), failed: c.failed ?? 0 }))
        .catch(() => undefined)
    : undefined;
  const processes = redis.ok ? await whenUp(redisReady, () => liveProcesses(s.redis, s.config.redis.prefix, Date.now())).catch(() => undefined) : undefined;
  const stream =
    s.config.marketData.mode === "stream"
      ? {
          feeds: redis.ok ? await whenUp(redisReady, () => s.feedStatus.read(now)).catch(() => []) : [],
          stallSeconds: s.config.marketData.stallSeconds,
        }
      : undefined;
  return assessHealth({
    now,
    stream,
    startedAt,
    redis,
    sqlite,
    lastPollAt,
    pollIntervalSeconds: s.config.pollIntervalSeconds,
    marketOpen: s.marketOpen(new Date(now)),
    pollingPaused,
    marketData: { source: s.quotes.name, linkedUsers: counts.linked, expiredTokens: counts.expired },
    history,
    processes,
  });
}
