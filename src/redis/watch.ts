import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";
import { withTimeout } from "../lifecycle/shutdown.js";

/** How often a still-failing Redis is mentioned again while it stays down. */
export const STILL_DOWN_EVERY_MS = 60_000;
/** The same error from the same place is logged again at most this often while Redis is up. */
export const REPEATED_ERROR_EVERY_MS = 60_000;

export interface RedisWatch {
  /** Whether the shared connection is up (commands go through now). */
  up: () => boolean;
  /**
   * Logs an error from something that uses Redis (a worker, a queue): while Redis is down
   * it is the outage again, already told, so it goes to debug; otherwise it is logged, the
   * same message at most once a minute.
   */
  report(err: Error, where: string): void;
  close(): void;
}

/**
 * Tells an outage once: one warning when the connection is lost, one info line when it is
 * back (with how long it was gone), and a reminder a minute while it stays down. ioredis
 * and every BullMQ worker emit an error per reconnect attempt; none of those reach the log
 * as their own lines.
 */
export function watchRedis(connection: Redis, log: Logger, hooks: { onLost?: () => void } = {}, now: () => number = Date.now): RedisWatch {
  let lostAt: number | undefined;
  let lastReminder = 0;
  let attempts = 0;
  const recent = new Map<string, number>();

  const onError = (err: Error) => {
    attempts++;
    if (lostAt === undefined) {
      lostAt = now();
      lastReminder = lostAt;
      hooks.onLost?.();
      log.warn({ err: err.message }, "lost the connection to Redis: queues and polls wait until it is back");
      return;
    }
    if (now() - lastReminder >= STILL_DOWN_EVERY_MS) {
      lastReminder = now();
      log.warn({ err: err.message, downForSeconds: Math.round((now() - lostAt) / 1000), attempts }, "Redis is still unreachable");
    } else log.debug({ err: err.message }, "redis reconnect failed");
  };
  const onClose = () => {
    // A closed socket (Redis restarted) without an error event is a loss too.
    if (lostAt === undefined && connection.status !== "end") onError(new Error("connection closed"));
  };
  const onReady = () => {
    if (lostAt === undefined) return;
    log.info({ downForSeconds: Math.round((now() - lostAt) / 10) / 100, attempts }, "Redis is back");
    lostAt = undefined;
    attempts = 0;
    recent.clear();
  };
  connection.on("error", onError);
  connection.on("close", onClose);
  connection.on("ready", onReady);

  return {
    up: () => connection.status === "ready",
    report(err, where) {
      if (lostAt !== undefined || connection.status !== "ready") return void log.debug({ err: err.message, where }, "redis-related error while Redis is down");
      const key = `${where}:${err.message}`;
      const last = recent.get(key);
      if (last !== undefined && now() - last < REPEATED_ERROR_EVERY_MS) return void log.debug({ err: err.message, where }, "repeated error");
      recent.set(key, now());
      if (recent.size > 200) recent.delete(recent.keys().next().value!);
      log.error({ err, where }, `${where} error`);
    },
    close() {
      connection.off("error", onError);
      connection.off("close", onClose);
      connection.off("ready", onReady);
    },
  };
}

/** How long /healthz and /metrics wait for Redis before reporting it down. */
export const REDIS_CHECK_TIMEOUT_MS = 2000;

/**
 * A Redis call on behalf of /healthz or /metrics. The shared connection never fails a
 * command (BullMQ needs maxRetriesPerRequest: null): while Redis is down, commands wait in
 * the offline queue forever. So fail at once when not connected, and bound the wait.
 */
export function whenUp<T>(up: () => boolean, fn: () => Promise<T>): Promise<T> {
  if (!up()) return Promise.reject(new Error("redis is not connected"));
  return withTimeout(fn(), REDIS_CHECK_TIMEOUT_MS, "redis");
}
