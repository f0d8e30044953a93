import { hostname } from "node:os";
import type { Redis } from "ioredis";
import cron, { type ScheduledTask } from "node-cron";

/** How often each process says it is alive, and how long a silent one still counts. */
export const HEARTBEAT_PATTERN = "*/5 * * * * *";
export const HEARTBEAT_TTL_MS = 15_000;

export interface LiveProcess {
  id: string;
  role: string;
  host: string;
  pid: number;
  startedAt: string;
  /** Seconds since its last heartbeat. */
  seenSecondsAgo: number;
}

/**
 * A per-process schedule (node-cron: it must run in every process, unlike the cluster's
 * BullMQ schedules): every 5 s this process refreshes a key with a 15 s expiry, so /healthz
 * and /stats can list the processes that are alive, and a dead one drops off by itself.
 */
export class Heartbeat {
  private task: ScheduledTask | undefined;
  readonly id: string;
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly info: { role: string; startedAt: number },
  ) {
    this.id = `${hostname()}:${process.pid}`;
    this.key = `${prefix}:process:${this.id}`;
  }

  /** Skipped while Redis is down (beats would only pile up in the offline queue), except the first. */
  private beat(first = false): Promise<unknown> {
    if (!first && this.redis.status !== "ready") return Promise.resolve();
    const value = JSON.stringify({
      role: this.info.role,
      host: hostname(),
      pid: process.pid,
      startedAt: new Date(this.info.startedAt).toISOString(),
      at: Date.now(),
    });
    return this.redis.set(this.key, value, "PX", HEARTBEAT_TTL_MS);
  }

  async start(): Promise<void> {
    await this.beat(true);
    this.task = cron.schedule(HEARTBEAT_PATTERN, () => void this.beat().catch(() => {}), { name: "heartbeat", noOverlap: true });
  }

  /** Stops beating and takes this process off the list at once. */
  async stop(): Promise<void> {
    await this.task?.destroy();
    if (this.redis.status === "ready") await this.redis.del(this.key).catch(() => {});
  }
}

/** The processes whose heartbeat has not expired, oldest start first. */
export async function liveProcesses(redis: Redis, prefix: string, now = Date.now()): Promise<LiveProcess[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}:process:*`, "COUNT", 200);
    cursor = next;
    keys.push(...found);
  } while (cursor !== "0");
  if (!keys.length) return [];
  const values = await redis.mget(...keys);
  const out: LiveProcess[] = [];
  values.forEach((raw, i) => {
    if (!raw) return;
    const v = JSON.parse(raw) as { role: string; host: string; pid: number; startedAt: string; at: number };
    out.push({
      id: keys[i]!.slice(`${prefix}:process:`.length),
      role: v.role,
      host: v.host,
      pid: v.pid,
      startedAt: v.startedAt,
      seenSecondsAgo: Math.max(0, Math.round((now - v.at) / 1000)),
    });
  });
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
