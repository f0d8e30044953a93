import type { Logger } from "../../log/logger.js";
import type { FeedState } from "../../market/types.js";
import type { PortfolioUpdateType, UpstoxClient } from "../client.js";
import type { UpstoxSession } from "../token-store.js";
import { FeedSessionMissingError, istDay, ReconnectingSocket, type SocketTuning } from "./reconnecting-socket.js";

export interface PortfolioUser {
  userId: number;
  /** Read again before every connect: a relinked user's new token is picked up. */
  session: () => UpstoxSession | undefined;
}

export interface PortfolioStreamsOptions extends SocketTuning {
  client: Pick<UpstoxClient, "authorizePortfolioFeed">;
  log: Logger;
  /** One parsed update (order, position, holding or GTT) of one of our users. */
  onUpdate: (userId: number, update: Record<string, unknown>) => void;
  onStateChange?: (state: FeedState) => void;
  updateTypes?: readonly PortfolioUpdateType[];
}

export const ALL_PORTFOLIO_UPDATES: readonly PortfolioUpdateType[] = ["order", "position", "holding", "gtt_order"];

interface Stream {
  user: PortfolioUser;
  socket: ReconnectingSocket;
}

/** A portfolio update is one JSON object per text frame; anything else is not one. */
export function parsePortfolioUpdate(data: Buffer): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString("utf8"));
  } catch {
    return undefined;
  }
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

/**
 * Upstox's Portfolio Stream Feed for every linked user: one socket each (the feed is per
 * user), kept up and authorized afresh on every connect; each update handed on with our
 * user id.
 */
export class PortfolioStreams {
  readonly name = "upstox-portfolio";
  private readonly streams = new Map<number, Stream>();
  /** Sockets of users removed, still closing: close() waits for them too. */
  private readonly closingSockets = new Set<Promise<void>>();
  private readonly now: () => number;
  private decodeErrors = 0;
  private lastErr: string | undefined;
  private status: FeedState["status"] = "connected";
  private since: number;
  /** Reconnects today of sockets since closed (their users unlinked), so the day's sum holds. */
  private retired = { day: 0, count: 0 };
  private stopping = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: PortfolioStreamsOptions) {
    this.now = opts.now ?? Date.now;
    this.since = this.now();
  }

  /** The whole set of users to stream for: new ones are connected, missing ones closed. */
  setUsers(users: ReadonlyArray<PortfolioUser>): void {
    if (this.stopping) return;
    const wanted = new Map(users.map((u) => [u.userId, u]));
    for (const [userId, stream] of this.streams) {
      if (wanted.has(userId)) continue;
      this.streams.delete(userId);
      this.retire(stream.socket);
    }
    for (const [userId, user] of wanted) {
      const existing = this.streams.get(userId);
      if (existing) {
        existing.user = user;
        continue;
      }
      const stream: Stream = { user, socket: this.socketFor(userId) };
      this.streams.set(userId, stream);
      stream.socket.start();
    }
    this.refresh();
  }

  state(): FeedState {
    const sockets = [...this.streams.values()].map((s) => s.socket);
    const day = istDay(this.now());
    const lastMessageAt = sockets.reduce<number | null>(
      (m, s) => (s.lastMessageAt !== null && (m === null || s.lastMessageAt > m) ? s.lastMessageAt : m),
      null,
    );
    return {
      name: this.name,
      status: this.status,
      subscribed: sockets.filter((s) => s.status === "connected").length,
      overLimit: 0,
      lastMessageAt,
      since: this.since,
      reconnectsToday: sockets.reduce((n, s) => n + s.reconnectsToday, 0) + (this.retired.day === day ? this.retired.count : 0),
      decodeErrors: this.decodeErrors,
      ...(this.lastErr !== undefined ? { lastError: this.lastErr } : {}),
    };
  }

  /** Idempotent; resolves once every socket is closed and no timer is left. */
  close(): Promise<void> {
    this.stopping = true;
    this.closing ??= (async () => {
      for (const stream of this.streams.values()) this.retire(stream.socket);
      this.streams.clear();
      await Promise.all(this.closingSockets);
      this.status = "stopped";
      this.since = this.now();
      this.notify();
    })();
    return this.closing;
  }

  private socketFor(userId: number): ReconnectingSocket {
    return new ReconnectingSocket({
      name: `${this.name}:${userId}`,
      authorize: () => this.authorize(userId),
      onMessage: (data) => this.onFrame(userId, data),
      onStatus: (_status, socket) => {
        if (socket.lastError !== undefined && socket.status !== "connected") this.lastErr = `user ${userId}: ${socket.lastError}`;
        this.refresh();
      },
      stallMs: this.opts.stallMs,
      keepAlivePings: true,
      ...(this.opts.stableMs !== undefined ? { stableMs: this.opts.stableMs } : {}),
      log: this.opts.log,
      ...(this.opts.now ? { now: this.opts.now } : {}),
      ...(this.opts.watchdogActive ? { watchdogActive: this.opts.watchdogActive } : {}),
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  private async authorize(userId: number): Promise<string> {
    const session = this.streams.get(userId)?.user.session();
    if (!session) throw new FeedSessionMissingError(`user ${userId} has no Upstox session`);
    return this.opts.client.authorizePortfolioFeed(session, this.opts.updateTypes ?? ALL_PORTFOLIO_UPDATES);
  }

  private onFrame(userId: number, data: Buffer): void {
    const update = parsePortfolioUpdate(data);
    if (!update) {
      this.decodeErrors++;
      // The payload may carry a trader's orders: its size only.
      this.opts.log.warn({ feed: this.name, userId, bytes: data.length, decodeErrors: this.decodeErrors }, "portfolio update is not a JSON object");
      return;
    }
    // A stream whose user was just removed may still deliver a frame before it closes.
    if (!this.streams.has(userId)) return;
    this.opts.onUpdate(userId, update);
  }

  private retire(socket: ReconnectingSocket): void {
    const day = istDay(this.now());
    if (this.retired.day !== day) this.retired = { day, count: 0 };
    this.retired.count += socket.reconnectsToday;
    const closing = socket.close();
    this.closingSockets.add(closing);
    void closing.finally(() => this.closingSockets.delete(closing));
  }

  /** Connected when every user is (vacuously so with none), down when nobody is. */
  private refresh(): void {
    if (this.stopping) return;
    const sockets = [...this.streams.values()].map((s) => s.socket);
    const connected = sockets.filter((s) => s.status === "connected").length;
    const status: FeedState["status"] = connected === sockets.length ? "connected" : connected === 0 ? "down" : "connecting";
    if (status !== this.status) {
      this.status = status;
      this.since = this.now();
    }
    this.notify();
  }

  private notify(): void {
    try {
      this.opts.onStateChange?.(this.state());
    } catch (err) {
      this.opts.log.error({ feed: this.name, err: (err as Error)?.message }, "portfolio feed state handler threw");
    }
  }
}
