import type { Database } from "better-sqlite3";
import type { User, UserRepository } from "../db/repositories/users.js";
import { enqueueNotifications, type DeliveryPolicy, type Queues } from "../queue/queues.js";
import type { Channel, Firing, Notification, Outbox } from "./outbox.js";
import { channelsFor } from "./preferences.js";

/**
 * One notification to one user, before its channels are known. Each channel the user is
 * reached on becomes one outbox row, keyed `${dedupKey}:${channel}`: asking again for the
 * same notification finds those rows and writes nothing.
 */
export interface NotificationRequest {
  /** The recipient, or their id (an id nobody has notifies nobody). */
  user: User | number;
  /** The template, and which of the user's settings governs it (see prefKindOf). */
  kind: string;
  dedupKey: string;
  payload: Record<string, unknown>;
  /** Only these of the user's channels (a broadcast is Telegram-only). */
  only?: readonly Channel[];
  /** When the user's mute and settings are judged; the clock's now unless given. */
  now?: number;
}

export interface NotifierDeps {
  db: Database;
  outbox: Outbox;
  users: Pick<UserRepository, "get">;
  queues: Pick<Queues, "notify">;
  delivery: DeliveryPolicy;
  clock?: () => number;
}

/** Thrown by queue() and notify() inside an open SQLite transaction: a job must never outrun its row. */
export class QueuedBeforeCommitError extends Error {
  constructor() {
    super("notifications are queued after the transaction that wrote them has committed");
    this.name = "QueuedBeforeCommitError";
  }
}

/**
 * The one place that turns "tell this user" into delivery: it decides the channels from the
 * user's settings, writes the outbox rows (the source of truth, each with its unique dedup
 * key), and queues a notify job per row once the rows are committed.
 *
 * Code inside a SQLite transaction calls record() (synchronous, as better-sqlite3
 * transactions are: the rows commit or roll back with the caller's) and queue() with the ids
 * after its commit. Everything else calls notify(). A row whose job was never queued (a crash
 * in between) is found by the sweeper, which queues it again through queue().
 */
export class Notifier {
  private readonly clock: () => number;
  private readonly recordMany: (requests: readonly NotificationRequest[]) => number[];
  private readonly recordFallback: (user: User, rows: readonly Notification[]) => number[];

  constructor(private readonly deps: NotifierDeps) {
    this.clock = deps.clock ?? Date.now;
    // Nested in a caller's transaction, better-sqlite3 makes these savepoints of it.
    this.recordMany = deps.db.transaction((requests: readonly NotificationRequest[]) => {
      const ids: number[] = [];
      for (const r of requests) {
        const user = typeof r.user === "number" ? deps.users.get(r.user) : r.user;
        if (!user) continue;
        for (const channel of this.channels(user, r.kind, r.now)) {
          if (r.only && !r.only.includes(channel)) continue;
          ids.push(deps.outbox.enqueueRow({ userId: user.id, channel, kind: r.kind, dedupKey: `${r.dedupKey}:${channel}`, payload: r.payload }));
        }
      }
      return ids;
    });
    this.recordFallback = deps.db.transaction((user: User, rows: readonly Notification[]) =>
      rows.map((r) =>
        deps.outbox.enqueueRow({ userId: user.id, channel: "email", kind: r.kind, dedupKey: `${r.dedupKey}:fallback-email`, payload: r.payload }),
      ),
    );
  }

  /** Where a notification of `kind` reaches this user at `now`: none while muted or with the kind turned off. */
  channels(user: User, kind: string, now = this.clock()): Channel[] {
    return channelsFor(user, kind, now);
  }

  /**
   * Writes the rows of these notifications and returns their ids (existing rows' ids for a
   * dedup key already used), in request then channel order. Synchronous: inside a caller's
   * transaction the rows are part of it. Queue the ids with queue() after the commit.
   */
  record(requests: NotificationRequest | readonly NotificationRequest[]): number[] {
    return this.recordMany(isRequest(requests) ? [requests] : requests);
  }

  /**
   * An alert rule's firing: the signal, the rule's new state and one row per channel of its
   * owner, all or nothing (Outbox.recordFiring). Undefined when another evaluation recorded
   * this firing first. Channels are judged at the firing's time.
   */
  recordFiring(user: User, firing: Omit<Firing, "channels">): { signalId: number; notificationIds: number[] } | undefined {
    return this.deps.outbox.recordFiring({ ...firing, channels: this.channels(user, firing.kind ?? "price_alert", firing.firedAt) });
  }

  /**
   * Telegram gave up on these rows: the same notifications go by email when the user has a
   * verified address, whatever channel they chose (`<key>:fallback-email`, so once). Returns
   * the ids to queue; none when there is no address or the rows were not Telegram's.
   */
  recordEmailFallback(user: User, rows: readonly Notification[]): number[] {
    if (!user.email || !user.emailVerified || rows[0]?.channel !== "telegram") return [];
    return this.recordFallback(user, rows);
  }

  /**
   * Queues one notify job per row (job id `n-<row id>`: a row already queued is not queued
   * twice), with the delivery policy's attempts and backoff. Throws, queuing nothing, when
   * called inside an open transaction: the rows might still roll back.
   */
  queue(ids: readonly number[]): Promise<void> {
    if (this.deps.db.inTransaction) throw new QueuedBeforeCommitError();
    // A held row's job waits in the queue until the row is due, and a little more: a job
    // run a few ms early would find its row not yet due and leave it to the sweeper.
    const now = this.clock();
    const delayOf = (id: number) => {
      const until = this.deps.outbox.heldUntil(id);
      return until === undefined ? 0 : until - now + HELD_MARGIN_MS;
    };
    return enqueueNotifications(this.deps.queues, ids, this.deps.delivery, delayOf);
  }

  /** record() in a transaction of its own, then queue(): for callers not inside one. Returns the row ids. */
  notify(requests: NotificationRequest | readonly NotificationRequest[]): Promise<number[]> {
    if (this.deps.db.inTransaction) throw new QueuedBeforeCommitError();
    const ids = this.record(requests);
    return this.queue(ids).then(() => ids);
  }
}

const HELD_MARGIN_MS = 250;

const isRequest = (r: NotificationRequest | readonly NotificationRequest[]): r is NotificationRequest => !Array.isArray(r);
