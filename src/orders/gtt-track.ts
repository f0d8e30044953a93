import type { Database } from "better-sqlite3";
import type { UserRepository } from "../db/repositories/users.js";
import type { Notifier } from "../notify/notifier.js";
import type { GttRepository } from "./gtt-repository.js";
import { gttNotifications, mergeRules } from "./gtt-transitions.js";
import type { GttRuleSnapshot, GttSnapshot } from "./gtt-update.js";

export interface GttTrackDeps {
  db: Database;
  gtts: GttRepository;
  /** Writes the rows inside this transaction; the caller queues the returned ids after it. */
  notifier: Pick<Notifier, "record">;
  users: Pick<UserRepository, "get">;
  now: number;
}

/** The payload of every gtt_* notification: all templates/gtt.ts needs, so rendering stays pure. */
export interface GttNotificationPayload {
  gttOrderId: string;
  symbol: string;
  instrumentKey: string;
  /** SINGLE or MULTIPLE. */
  type: string;
  quantity: number;
  product: string | null;
  /** The ENTRY leg's side. */
  transactionType: "BUY" | "SELL";
  /** The leg this notification is about (triggered, failed); null for the whole GTT. */
  strategy: string | null;
  /** Every leg as it stands after this update, ENTRY first as Upstox lists them. */
  rules: GttRuleSnapshot[];
  expiresAt: number | null;
  /** When the bot learnt of it, epoch ms (GTT updates carry no time of their own). */
  at: number;
}

/**
 * Records one report of a GTT and writes the notifications it newly calls for, all in one
 * IMMEDIATE transaction, so the postback, the portfolio stream and a poll arriving together
 * (even in two processes) tell each transition once. The rules are merged with the stored
 * ones (a late report never undoes a later one), and the dedup keys told are stored with the
 * GTT; the outbox's unique key is a second guard.
 *
 * `userId` is who the source says it belongs to (the portfolio stream's user); the postback
 * names nobody, so the GTT's stored owner decides. A GTT already stored keeps its owner. A
 * report of a GTT nobody is known to own records nothing. Returns the outbox row ids to queue
 * after the commit.
 */
export function recordGttSnapshot(deps: GttTrackDeps, userId: number | undefined, snapshot: GttSnapshot): number[] {
  const run = deps.db.transaction((): number[] => {
    const stored = deps.gtts.get(snapshot.gttOrderId);
    const ownerId = stored?.userId ?? userId;
    if (ownerId === undefined) return [];
    const owner = deps.users.get(ownerId);
    if (!owner) return [];
    const rules = mergeRules(stored?.rules, snapshot.rules);
    const told = stored?.told ?? [];
    const merged: GttSnapshot = { ...snapshot, rules, expiresAt: snapshot.expiresAt ?? stored?.expiresAt ?? null };
    const notifications = gttNotifications(merged, new Set(told), deps.now);
    const current = deps.gtts.upsert(ownerId, merged, [...told, ...notifications.map((n) => n.dedupKey)], deps.now);
    if (notifications.length === 0) return [];
    const base: Omit<GttNotificationPayload, "strategy"> = {
      gttOrderId: current.gttOrderId,
      symbol: current.symbol ?? current.instrumentKey,
      instrumentKey: current.instrumentKey,
      type: current.type,
      quantity: current.quantity,
      product: current.product,
      transactionType: current.transactionType,
      rules: current.rules,
      expiresAt: current.expiresAt,
      at: deps.now,
    };
    return deps.notifier.record(
      notifications.map((n) => ({ user: owner, kind: n.kind, dedupKey: n.dedupKey, payload: { ...base, strategy: n.strategy }, now: deps.now })),
    );
  });
  // BEGIN IMMEDIATE; inside a caller's transaction better-sqlite3 uses a savepoint instead.
  return run.immediate();
}
