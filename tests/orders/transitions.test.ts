import { describe, expect, it } from "vitest";
import {
  DOCUMENTED_STATUSES,
  isStale,
  nextNotifications,
  nextState,
  stageOf,
  type OrderStage,
  type OrderState,
  type StageInput,
} from "../../src/orders/transitions.js";

const snap = (status: string, filledQuantity = 0, quantity = 10, orderId = "X1"): StageInput => ({ orderId, status, filledQuantity, quantity });

describe("stageOf", () => {
  const expected: Record<(typeof DOCUMENTED_STATUSES)[number], OrderStage> = {
    "put order req received": "placed",
    "validation pending": "placed",
    "open pending": "placed",
    open: "open",
    "trigger pending": "placed",
    "modify validation pending": "placed",
    "modify pending": "placed",
    modified: "placed",
    "not modified": "placed",
    "cancel pending": "placed",
    cancelled: "cancelled",
    "not cancelled": "placed",
    complete: "filled",
    rejected: "rejected",
    "after market order req received": "placed",
    "modify after market order req received": "placed",
    "cancelled after market order": "cancelled",
  };

  it.each(DOCUMENTED_STATUSES.map((s) => [s, expected[s]] as const))("%s with nothing filled → %s", (status, stage) => {
    expect(stageOf(snap(status))).toBe(stage);
  });

  it("covers all 17 statuses of REFERENCE §5.4", () => {
    expect(new Set(DOCUMENTED_STATUSES).size).toBe(17);
  });

  it("a non-terminal status with 0 < filled < quantity is a partial fill", () => {
    expect(stageOf(snap("open", 4))).toBe("partially_filled");
    expect(stageOf(snap("modify pending", 4))).toBe("partially_filled");
    expect(stageOf(snap("cancel pending", 9))).toBe("partially_filled");
  });

  it("open with everything filled but not yet complete stays open (the complete that follows notifies)", () => {
    expect(stageOf(snap("open", 10))).toBe("open");
  });

  it("terminal statuses win over the filled quantity", () => {
    expect(stageOf(snap("cancelled", 4))).toBe("cancelled");
    expect(stageOf(snap("complete", 10))).toBe("filled");
    expect(stageOf(snap("rejected", 0))).toBe("rejected");
  });

  it("unknown statuses are non-terminal, placed-level", () => {
    expect(stageOf(snap("some future status"))).toBe("placed");
    expect(stageOf(snap("some future status", 3))).toBe("partially_filled");
  });

  it("ignores case and extra spaces", () => {
    expect(stageOf(snap("  Complete "))).toBe("filled");
    expect(stageOf(snap("CANCELLED  AFTER MARKET ORDER"))).toBe("cancelled");
    expect(stageOf(snap("OPEN"))).toBe("open");
  });
});

/** Feeds snapshots through the pure functions as the repository does; returns every dedup key emitted. */
function replay(snapshots: StageInput[]): { keys: string[]; kinds: string[]; state: OrderState | undefined } {
  let state: OrderState | undefined;
  const keys: string[] = [];
  const kinds: string[] = [];
  for (const s of snapshots) {
    for (const n of nextNotifications(state, s)) {
      keys.push(n.dedupKey);
      kinds.push(n.kind);
    }
    if (!isStale(state, s)) state = nextState(state, s);
  }
  return { keys, kinds, state };
}

describe("nextNotifications", () => {
  it("the first sight of a placed or open order notifies order_placed once, keyed on placed", () => {
    expect(nextNotifications(undefined, snap("put order req received"))).toEqual([{ stage: "placed", kind: "order_placed", dedupKey: "order:X1:placed" }]);
    expect(nextNotifications(undefined, snap("open"))).toEqual([{ stage: "placed", kind: "order_placed", dedupKey: "order:X1:placed" }]);
    expect(nextNotifications({ stage: "placed", filledQuantity: 0 }, snap("open"))).toEqual([]);
    expect(nextNotifications({ stage: "open", filledQuantity: 0 }, snap("validation pending"))).toEqual([]);
  });

  it("each larger partial fill is news; the same or a smaller one is not", () => {
    const r = replay([snap("put order req received"), snap("open"), snap("open", 4), snap("open", 4), snap("open", 7), snap("open", 4), snap("complete", 10)]);
    expect(r.keys).toEqual(["order:X1:placed", "order:X1:partially_filled:4", "order:X1:partially_filled:7", "order:X1:filled"]);
    expect(r.kinds).toEqual(["order_placed", "order_partially_filled", "order_partially_filled", "order_filled"]);
  });

  it("terminal stages notify once and end the order", () => {
    expect(nextNotifications({ stage: "open", filledQuantity: 0 }, snap("rejected"))).toEqual([
      { stage: "rejected", kind: "order_rejected", dedupKey: "order:X1:rejected" },
    ]);
    expect(nextNotifications({ stage: "partially_filled", filledQuantity: 4 }, snap("cancelled", 4))).toEqual([
      { stage: "cancelled", kind: "order_cancelled", dedupKey: "order:X1:cancelled" },
    ]);
    expect(nextNotifications({ stage: "cancelled", filledQuantity: 0 }, snap("cancelled"))).toEqual([]);
    expect(nextNotifications({ stage: "filled", filledQuantity: 10 }, snap("open"))).toEqual([]);
    expect(nextNotifications({ stage: "filled", filledQuantity: 10 }, snap("open", 7))).toEqual([]);
    expect(nextNotifications({ stage: "filled", filledQuantity: 10 }, snap("cancelled"))).toEqual([]);
  });

  it("an order first seen already terminal or part-filled does not catch up on stale stages", () => {
    expect(replay([snap("complete", 10), snap("open"), snap("put order req received")]).kinds).toEqual(["order_filled"]);
    expect(replay([snap("open", 4), snap("put order req received"), snap("open")]).kinds).toEqual(["order_partially_filled"]);
  });

  it("a fully-filled but still open snapshot raises the mark without notifying", () => {
    const r = replay([snap("open", 4), snap("open", 10), snap("open", 7), snap("complete", 10)]);
    expect(r.kinds).toEqual(["order_partially_filled", "order_filled"]);
    expect(r.state).toEqual({ stage: "filled", filledQuantity: 10 });
  });

  it("never emits a dedup key twice, for every ordering of a partial-fill lifecycle", () => {
    const lifecycle = [snap("put order req received"), snap("open pending"), snap("open"), snap("open", 4), snap("open", 7), snap("complete", 10)];
    const perms = (xs: StageInput[]): StageInput[][] =>
      xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    for (const order of perms(lifecycle)) {
      const r = replay([...order, ...order]);
      expect(new Set(r.keys).size).toBe(r.keys.length);
      expect(r.kinds.filter((k) => k === "order_filled")).toHaveLength(1);
      expect(r.state).toEqual({ stage: "filled", filledQuantity: 10 });
    }
  });
});

describe("nextState / isStale", () => {
  it("only moves forward", () => {
    expect(nextState({ stage: "open", filledQuantity: 0 }, snap("validation pending"))).toEqual({ stage: "open", filledQuantity: 0 });
    expect(nextState({ stage: "partially_filled", filledQuantity: 7 }, snap("open", 4))).toEqual({ stage: "partially_filled", filledQuantity: 7 });
    expect(nextState({ stage: "filled", filledQuantity: 10 }, snap("open"))).toEqual({ stage: "filled", filledQuantity: 10 });
    expect(nextState({ stage: "partially_filled", filledQuantity: 4 }, snap("cancelled", 4))).toEqual({ stage: "cancelled", filledQuantity: 4 });
  });

  it("stale: less filled, or as filled at an earlier stage, or anything but a repeat after the end", () => {
    expect(isStale(undefined, snap("open"))).toBe(false);
    expect(isStale({ stage: "open", filledQuantity: 0 }, snap("put order req received"))).toBe(true);
    expect(isStale({ stage: "open", filledQuantity: 0 }, snap("open"))).toBe(false);
    expect(isStale({ stage: "partially_filled", filledQuantity: 7 }, snap("open", 4))).toBe(true);
    expect(isStale({ stage: "partially_filled", filledQuantity: 4 }, snap("open", 10))).toBe(false);
    expect(isStale({ stage: "filled", filledQuantity: 10 }, snap("open"))).toBe(true);
    expect(isStale({ stage: "filled", filledQuantity: 10 }, snap("complete", 10))).toBe(false);
    expect(isStale({ stage: "filled", filledQuantity: 10 }, snap("cancelled"))).toBe(true);
  });
});
