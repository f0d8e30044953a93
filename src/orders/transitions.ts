import { normalizeStatus, type OrderSnapshot } from "./snapshot.js";

/**
 * Where an order is, as far as notifications care. Pure: no I/O, no clock.
 *
 * Two sources (the order-update webhook and polling the order book) report the same order,
 * late, repeatedly and in any order. Progress is therefore a high-water mark that only moves
 * forward: terminal > partially_filled > open > placed, and within partially_filled a larger
 * filled quantity. A snapshot behind the mark (a late "open" after "complete") changes
 * nothing and notifies nothing.
 */
export type OrderStage = "placed" | "open" | "partially_filled" | "filled" | "rejected" | "cancelled";

export type OrderNotificationKind = "order_placed" | "order_partially_filled" | "order_filled" | "order_rejected" | "order_cancelled";

/** What the notification logic needs of a snapshot. */
export type StageInput = Pick<OrderSnapshot, "orderId" | "status" | "quantity" | "filledQuantity">;

/** The stored high-water mark of an order: the furthest stage and the largest filled quantity seen. */
export interface OrderState {
  stage: OrderStage;
  filledQuantity: number;
}

export interface OrderNotification {
  /** The stage this notification announces ("placed" for order_placed, whether "placed" or "open" was seen first). */
  stage: OrderStage;
  kind: OrderNotificationKind;
  /** `order:<orderId>:<stage>[:<filledQty>]`; the outbox row adds `:<channel>`. */
  dedupKey: string;
}

/** REFERENCE §5.4, all 17 documented values. Terminal ones are mapped explicitly in stageOf. */
export const DOCUMENTED_STATUSES = [
  "put order req received",
  "validation pending",
  "open pending",
  "open",
  "trigger pending",
  "modify validation pending",
  "modify pending",
  "modified",
  "not modified",
  "cancel pending",
  "cancelled",
  "not cancelled",
  "complete",
  "rejected",
  "after market order req received",
  "modify after market order req received",
  "cancelled after market order",
] as const;

const TERMINAL_STAGE: Readonly<Record<string, OrderStage>> = {
  complete: "filled",
  rejected: "rejected",
  cancelled: "cancelled",
  "cancelled after market order": "cancelled",
};

const RANK: Readonly<Record<OrderStage, number>> = {
  placed: 0,
  open: 1,
  partially_filled: 2,
  filled: 3,
  rejected: 3,
  cancelled: 3,
};

const KIND: Readonly<Record<OrderStage, OrderNotificationKind>> = {
  placed: "order_placed",
  open: "order_placed",
  partially_filled: "order_partially_filled",
  filled: "order_filled",
  rejected: "order_rejected",
  cancelled: "order_cancelled",
};

export const isTerminalStage = (stage: OrderStage): boolean => RANK[stage] === 3;

/**
 * The stage of one snapshot.
 * - complete → filled; rejected → rejected; cancelled / cancelled after market order → cancelled.
 * - any non-terminal status with 0 < filled < quantity → partially_filled (Upstox shows a
 *   partial fill as "open" with filled_quantity > 0; a "modify pending" mid-fill is still one).
 * - open → open (also "open" with filled == quantity: fully traded but not yet "complete"; the
 *   "complete" that follows is what notifies).
 * - everything else → placed: accepted but not yet open at the exchange (put order req received,
 *   validation pending, open pending, trigger pending, after market order req received, modify
 *   and cancel pending/(not) modified/not cancelled, …). Unknown strings land here too on
 *   purpose: REFERENCE §5.4 says treat an unknown status as non-terminal and reconcile, and
 *   "placed" is the lowest non-terminal stage, so an unknown status can never move an order
 *   forward or backward or end it; the next known status (or a poll) reconciles.
 */
export function stageOf(s: Pick<StageInput, "status" | "quantity" | "filledQuantity">): OrderStage {
  const status = normalizeStatus(s.status);
  const terminal = TERMINAL_STAGE[status];
  if (terminal) return terminal;
  if (s.filledQuantity > 0 && s.filledQuantity < s.quantity) return "partially_filled";
  if (status === "open") return "open";
  return "placed";
}

/**
 * The notifications a snapshot causes, given the stored state before it (undefined: the
 * order was never seen). Rules:
 * - a stored terminal stage is final: nothing more, ever;
 * - a terminal snapshot notifies its stage once;
 * - a partial fill notifies each new, larger filled quantity (4/10 then 7/10 are two);
 * - "placed" and "open" both notify order_placed, only for the first snapshot of the order;
 * - stages never seen are not caught up on: an order first seen already complete (a poll
 *   that missed the webhook) notifies only "filled", not a stale "placed" as well.
 * The dedup key is stable per transition, so the outbox's UNIQUE key also guards against
 * two processes computing the same notification.
 */
export function nextNotifications(previous: OrderState | undefined, snapshot: StageInput): OrderNotification[] {
  if (previous && isTerminalStage(previous.stage)) return [];
  const stage = stageOf(snapshot);
  const key = `order:${snapshot.orderId}`;
  if (isTerminalStage(stage)) return [{ stage, kind: KIND[stage], dedupKey: `${key}:${stage}` }];
  if (stage === "partially_filled") {
    if (previous && snapshot.filledQuantity <= previous.filledQuantity) return [];
    return [{ stage, kind: KIND[stage], dedupKey: `${key}:${stage}:${snapshot.filledQuantity}` }];
  }
  // "placed" or "open": only the first sight of the order announces it.
  if (previous) return [];
  return [{ stage: "placed", kind: "order_placed", dedupKey: `${key}:placed` }];
}

/** The state after a snapshot: the furthest stage and the largest filled quantity; final once terminal. */
export function nextState(previous: OrderState | undefined, snapshot: StageInput): OrderState {
  const stage = stageOf(snapshot);
  if (!previous) return { stage, filledQuantity: snapshot.filledQuantity };
  if (isTerminalStage(previous.stage)) return previous;
  const filledQuantity = Math.max(previous.filledQuantity, snapshot.filledQuantity);
  if (isTerminalStage(stage)) return { stage, filledQuantity };
  return { stage: RANK[stage] >= RANK[previous.stage] ? stage : previous.stage, filledQuantity };
}

/**
 * True when the snapshot is older than the stored state, so its details (status text, price,
 * average price) must not overwrite the stored ones: less filled, or as filled but an earlier
 * stage. Once terminal, only a repeat of the same terminal stage is current (it may carry a
 * refined average price).
 */
export function isStale(previous: OrderState | undefined, snapshot: StageInput): boolean {
  if (!previous) return false;
  const stage = stageOf(snapshot);
  if (isTerminalStage(previous.stage)) return stage !== previous.stage;
  if (isTerminalStage(stage)) return false;
  if (snapshot.filledQuantity !== previous.filledQuantity) return snapshot.filledQuantity < previous.filledQuantity;
  return RANK[stage] < RANK[previous.stage];
}
