import { randomUUID } from "node:crypto";
import type { Logger } from "../../log/logger.js";
import type { FeedHandlers, FeedState, MarketFeed } from "../../market/types.js";
import type { UpstoxClient } from "../client.js";
import type { UpstoxSession } from "../token-store.js";
import { decodeFeedResponse } from "./proto.js";
import { FeedSessionMissingError, ReconnectingSocket, type SocketTuning } from "./reconnecting-socket.js";
import {
  applyRequests,
  diffSubscription,
  planSubscription,
  type FeedMode,
  type FeedRequest,
  type SubscriptionLimits,
  type SubscriptionPlan,
} from "./subscription.js";

export interface UpstoxMarketFeedOptions extends SocketTuning {
  client: Pick<UpstoxClient, "authorizeMarketFeed">;
  /** Whose token authorizes the feed; read again before every connect. */
  session: () => UpstoxSession | undefined;
  log: Logger;
  limits?: SubscriptionLimits;
}

/** The request as Upstox reads it: UTF-8 JSON in a binary frame. */
export function encodeRequest(r: FeedRequest, guid: string = randomUUID()): Buffer {
  return Buffer.from(JSON.stringify({ guid, method: r.method, data: { mode: r.mode, instrumentKeys: r.instrumentKeys } }));
}

/**
 * Upstox's Market Data Feed V3 as a MarketFeed: one socket, the wanted instruments
 * subscribed on it (full mode up to 2000, else LTPC up to 5000, the rest left to REST), and
 * every protobuf frame decoded into ticks and segment statuses.
 */
export class UpstoxMarketFeed implements MarketFeed {
  readonly name = "upstox-market";
  private readonly socket: ReconnectingSocket;
  private readonly log: Logger;
  private handlers: FeedHandlers | undefined;
  private plan: SubscriptionPlan = { full: [], ltpc: [], overLimit: [] };
  /** What the open connection has been asked to carry; empty while there is none. */
  private readonly current = new Map<string, FeedMode>();
  private coveredKeys: ReadonlySet<string> = new Set();
  private decodeErrors = 0;
  private closed = false;

  constructor(private readonly opts: UpstoxMarketFeedOptions) {
    this.log = opts.log;
    this.socket = new ReconnectingSocket({
      name: this.name,
      authorize: () => this.authorize(),
      onOpen: () => this.resubscribe(),
      onMessage: (data, isBinary) => this.onFrame(data, isBinary),
      onStatus: (status) => {
        if (status !== "connected") this.forgetSubscriptions();
        this.notify();
      },
      stallMs: opts.stallMs,
      ...(opts.stableMs !== undefined ? { stableMs: opts.stableMs } : {}),
      log: opts.log,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.watchdogActive ? { watchdogActive: opts.watchdogActive } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.random ? { random: opts.random } : {}),
    });
  }

  start(handlers: FeedHandlers): void {
    if (this.handlers || this.closed) return;
    this.handlers = handlers;
    this.socket.start();
  }

  setInstruments(instrumentKeys: readonly string[]): void {
    const before = this.counts();
    this.plan = planSubscription(instrumentKeys, this.opts.limits);
    if (this.socket.status === "connected") this.sendDiff();
    if (this.counts() !== before) this.notify();
  }

  covered(): ReadonlySet<string> {
    return this.coveredKeys;
  }

  state(): FeedState {
    const s = this.socket;
    return {
      name: this.name,
      status: s.status,
      subscribed: this.coveredKeys.size,
      overLimit: this.plan.overLimit.length,
      lastMessageAt: s.lastMessageAt,
      since: s.since,
      reconnectsToday: s.reconnectsToday,
      decodeErrors: this.decodeErrors,
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    };
  }

  exactBars(instrumentKey: string): boolean {
    return this.current.get(instrumentKey) === "full";
  }

  close(): Promise<void> {
    this.closed = true;
    return this.socket.close();
  }

  private async authorize(): Promise<string> {
    const session = this.opts.session();
    if (!session) throw new FeedSessionMissingError("no linked Upstox account to authorize the market feed with");
    return this.opts.client.authorizeMarketFeed(session);
  }

  /** A new connection carries nothing: ask for the whole plan again. */
  private resubscribe(): void {
    this.current.clear();
    this.sendDiff();
    this.notify();
  }

  private sendDiff(): void {
    const requests = diffSubscription(this.current, this.plan);
    const sent: FeedRequest[] = [];
    for (const r of requests) {
      if (!this.socket.send(encodeRequest(r))) break;
      sent.push(r);
    }
    applyRequests(this.current, sent);
    this.coveredKeys = new Set(this.current.keys());
    if (sent.length) this.log.debug({ requests: sent.map((r) => `${r.method} ${r.mode} ×${r.instrumentKeys.length}`) }, "market feed subscription changed");
  }

  private forgetSubscriptions(): void {
    this.current.clear();
    if (this.coveredKeys.size) this.coveredKeys = new Set();
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      // The feed speaks protobuf only; a text frame is an error page or a protocol change.
      this.decodeFailed(`text frame of ${data.length} bytes`);
      return;
    }
    let decoded: ReturnType<typeof decodeFeedResponse>;
    try {
      decoded = decodeFeedResponse(data, performance.now());
    } catch (err) {
      this.decodeFailed((err as Error).message);
      return;
    }
    const handlers = this.handlers;
    if (!handlers) return;
    if (decoded.segmentStatus) handlers.onSegmentStatus?.(decoded.segmentStatus, decoded.currentTs);
    if (decoded.ticks.length) handlers.onTicks(decoded.ticks);
  }

  private decodeFailed(why: string): void {
    this.decodeErrors++;
    this.log.warn({ feed: this.name, decodeErrors: this.decodeErrors, why }, "market feed frame could not be decoded");
  }

  private counts(): string {
    return `${this.coveredKeys.size}/${this.plan.overLimit.length}`;
  }

  private notify(): void {
    try {
      this.handlers?.onStateChange?.(this.state());
    } catch (err) {
      this.log.error({ feed: this.name, err: (err as Error)?.message }, "market feed state handler threw");
    }
  }
}
