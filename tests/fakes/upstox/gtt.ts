import { badRequest, FakeHttpError } from "./errors.js";
import type { Instrument, InstrumentStore } from "./instruments.js";
import { addMonths, DAY_MS, istDayStart, istParts } from "./time.js";

/**
 * The fake's GTT book (REFERENCE §5.5): validation as Upstox documents it, rule statuses as
 * its samples show them (new ENTRY SCHEDULED, other legs PENDING; a failed ENTRY cancels the
 * other legs; a completed exit leg cancels the other one), timestamps in epoch microseconds.
 */

export const GTT_TYPES = ["SINGLE", "MULTIPLE"];
export const GTT_STRATEGIES = ["ENTRY", "TARGET", "STOPLOSS"] as const;
export type FakeGttStrategy = (typeof GTT_STRATEGIES)[number];
export const GTT_TRIGGER_TYPES = ["ABOVE", "BELOW", "IMMEDIATE"];
export const GTT_PRODUCTS = ["I", "D", "MTF"];
/** A leg in one of these does nothing more. */
export const FINAL_RULE_STATUSES = new Set(["COMPLETED", "CANCELLED", "FAILED", "EXPIRED"]);

/** A rule as the details endpoint and the gtt_order update show it (fixtures/webhook_gtt_update.json field order). */
export interface FakeGttRule {
  strategy: FakeGttStrategy;
  status: string;
  trigger_type: string;
  trigger_price: number;
  transaction_type: string;
  message: string;
  order_id: string | null;
  trailing_gap: number | null;
}

/** The details object (fixtures/gtt_order_details_v3.json field order). */
export interface FakeGtt {
  type: string;
  exchange: string;
  quantity: number;
  product: string;
  rules: FakeGttRule[];
  trading_symbol: string;
  instrument_token: string;
  gtt_order_id: string;
  /** Epoch µs. */
  expires_at: number;
  /** Epoch µs. */
  created_at: number;
}

interface Entry {
  userId: string;
  gtt: FakeGtt;
}

interface RuleInput {
  strategy: FakeGttStrategy;
  trigger_type: string;
  trigger_price: number;
  trailing_gap: number | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;
const isPosNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
const opposite = (side: string) => (side === "BUY" ? "SELL" : "BUY");
const micros = (ms: number) => ms * 1000;

/** Third-party sources disagree on what UDAPI1136 means (REFERENCE §5.5.3); the fake uses it for "not found". */
export const GTT_NOT_FOUND = (id: unknown) => new FakeHttpError(400, "UDAPI1136", "GTT order not found", "gtt_order_id", id ?? null);

/** UDAPI1134 / UDAPI1135 are the two documented GTT errors (DOC cancel-gtt-order). */
export function gttOrderId(v: unknown): string {
  if (v === undefined || v === null || v === "") throw badRequest("UDAPI1134", "gtt_order_id is required", "gtt_order_id", null);
  if (typeof v !== "string" || !v.startsWith("GTT-")) throw badRequest("UDAPI1135", "GTT order ID must start with 'GTT-'", "gtt_order_id", v);
  return v;
}

function gttType(v: unknown): string {
  if (typeof v !== "string" || !GTT_TYPES.includes(v)) throw badRequest("UDAPI1126", "Invalid GTT type, expected SINGLE or MULTIPLE", "type", v ?? null);
  return v;
}

function quantity(v: unknown, inst: Instrument): number {
  if (!isPosInt(v)) throw badRequest("UDAPI1052", "Quantity should be a whole number greater than zero", "quantity", v ?? null);
  if (v % inst.lotSize !== 0) throw badRequest("UDAPI100036", `Quantity must be a multiple of the lot size ${inst.lotSize}`, "quantity", v);
  return v;
}

/** SINGLE: exactly one ENTRY rule. MULTIPLE: 2-3 rules, ENTRY among them, no strategy twice, TARGET/STOPLOSS only IMMEDIATE. */
export function validateRules(type: string, v: unknown): RuleInput[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest("UDAPI100036", "rules are required", "rules", v ?? null);
  const rules = v.map((r, i): RuleInput => {
    if (!isObj(r)) throw badRequest("UDAPI100036", "Each rule must be an object", `rules[${i}]`, r);
    const strategy = r.strategy;
    if (typeof strategy !== "string" || !(GTT_STRATEGIES as readonly string[]).includes(strategy))
      throw badRequest("UDAPI100036", "Invalid strategy, expected ENTRY, TARGET or STOPLOSS", `rules[${i}].strategy`, strategy ?? null);
    if (typeof r.trigger_type !== "string" || !GTT_TRIGGER_TYPES.includes(r.trigger_type))
      throw badRequest("UDAPI100036", "Invalid trigger_type, expected ABOVE, BELOW or IMMEDIATE", `rules[${i}].trigger_type`, r.trigger_type ?? null);
    if (strategy !== "ENTRY" && r.trigger_type !== "IMMEDIATE")
      throw badRequest("UDAPI100036", `${strategy} rules take only the IMMEDIATE trigger type`, `rules[${i}].trigger_type`, r.trigger_type);
    if (!isPosNum(r.trigger_price))
      throw badRequest("UDAPI100036", "trigger_price must be greater than zero", `rules[${i}].trigger_price`, r.trigger_price ?? null);
    const gap = r.trailing_gap ?? null;
    if (gap !== null && (strategy !== "STOPLOSS" || !isPosNum(gap)))
      throw badRequest("UDAPI100036", "trailing_gap is a positive number on the STOPLOSS rule only", `rules[${i}].trailing_gap`, gap);
    return { strategy: strategy as FakeGttStrategy, trigger_type: r.trigger_type, trigger_price: r.trigger_price, trailing_gap: gap };
  });
  const strategies = rules.map((r) => r.strategy);
  if (new Set(strategies).size !== strategies.length) throw badRequest("UDAPI100036", "A strategy can appear only once in the rules", "rules", strategies);
  if (!strategies.includes("ENTRY")) throw badRequest("UDAPI100036", "Having an ENTRY rule is mandatory", "rules", strategies);
  if (type === "SINGLE" && rules.length !== 1) throw badRequest("UDAPI100036", "A SINGLE GTT takes exactly one rule, ENTRY", "rules", strategies);
  if (type === "MULTIPLE" && rules.length < 2)
    throw badRequest("UDAPI100036", "A MULTIPLE GTT takes 2 or 3 rules: ENTRY with TARGET and/or STOPLOSS", "rules", strategies);
  return rules;
}

/** Intraday GTTs last the day they were made; others a year, to 23:59:59 IST (REFERENCE §5.5.3 samples). */
export function gttExpiry(product: string, now: number): number {
  const day = istDayStart(now);
  const lastDay = product === "I" ? day : addMonths(day, 12);
  return micros(lastDay + DAY_MS - 1000);
}

const liveRules = (g: FakeGtt) => g.rules.filter((r) => !FINAL_RULE_STATUSES.has(r.status));

/** Done for good: no leg waits and one completed (the details endpoint leaves these out). */
export const isCompleted = (g: FakeGtt) => liveRules(g).length === 0 && g.rules.some((r) => r.status === "COMPLETED");

export class GttBook {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;

  constructor(private readonly instruments: InstrumentStore) {}

  private nextId(now: number): string {
    const p = istParts(now);
    const yymmdd = `${String(p.year % 100).padStart(2, "0")}${String(p.month).padStart(2, "0")}${String(p.day).padStart(2, "0")}`;
    return `GTT-CU${yymmdd}${String(++this.seq).padStart(8, "0")}`;
  }

  private newRules(inputs: RuleInput[], side: string): FakeGttRule[] {
    // ENTRY first, then TARGET, then STOPLOSS, as the details samples list them after placement.
    const order = (s: string) => (GTT_STRATEGIES as readonly string[]).indexOf(s);
    return [...inputs]
      .sort((a, b) => order(a.strategy) - order(b.strategy))
      .map((r) => ({
        strategy: r.strategy,
        status: r.strategy === "ENTRY" ? "SCHEDULED" : "PENDING",
        trigger_type: r.trigger_type,
        trigger_price: r.trigger_price,
        transaction_type: r.strategy === "ENTRY" ? side : opposite(side),
        message: "",
        order_id: null,
        trailing_gap: r.trailing_gap,
      }));
  }

  place(userId: string, body: unknown, now: number): FakeGtt {
    if (!isObj(body)) throw badRequest("UDAPI100036", "Invalid input: the request body must be a JSON object");
    const type = gttType(body.type);
    const token = body.instrument_token;
    if (token === undefined || token === null || token === "") throw badRequest("UDAPI1026", "Instrument key is required", "instrument_token", null);
    const inst = typeof token === "string" ? this.instruments.get(token) : undefined;
    if (!inst) throw badRequest("UDAPI1087", "Invalid instrument key", "instrument_token", token);
    if (inst.isIndex) throw badRequest("UDAPI100036", "GTT orders cannot be placed on an index", "instrument_token", token);
    const qty = quantity(body.quantity, inst);
    if (typeof body.product !== "string" || !GTT_PRODUCTS.includes(body.product))
      throw badRequest("UDAPI100036", "Invalid product, expected one of I, D, MTF", "product", body.product ?? null);
    const side = body.transaction_type;
    if (side !== "BUY" && side !== "SELL") throw badRequest("UDAPI100036", "Invalid transaction_type, expected BUY or SELL", "transaction_type", side ?? null);
    const rules = validateRules(type, body.rules);
    const gtt: FakeGtt = {
      type,
      exchange: inst.segment,
      quantity: qty,
      product: body.product,
      rules: this.newRules(rules, side),
      trading_symbol: inst.symbol,
      instrument_token: inst.key,
      gtt_order_id: this.nextId(now),
      expires_at: gttExpiry(body.product, now),
      // Whole seconds, as every sample has them.
      created_at: micros(Math.floor(now / 1000) * 1000),
    };
    this.entries.set(gtt.gtt_order_id, { userId, gtt });
    return structuredClone(gtt);
  }

  /**
   * Replaces type, quantity and rules. Once the ENTRY leg has completed (the GTT is open), its
   * ENTRY rule must be IMMEDIATE (UDAPI1150), the quantity cannot change, and only the exit
   * legs are replaced.
   */
  modify(userId: string, body: unknown): FakeGtt {
    if (!isObj(body)) throw badRequest("UDAPI100036", "Invalid input: the request body must be a JSON object");
    const e = this.owned(userId, body.gtt_order_id);
    const g = e.gtt;
    if (liveRules(g).length === 0) throw badRequest("UDAPI100036", "This GTT order is no longer active and cannot be modified", "gtt_order_id", g.gtt_order_id);
    const type = gttType(body.type);
    const qty = quantity(body.quantity, this.instruments.require(g.instrument_token));
    const inputs = validateRules(type, body.rules);
    const entry = g.rules.find((r) => r.strategy === "ENTRY")!;
    const side = entry.transaction_type;
    if (entry.status === "COMPLETED") {
      const newEntry = inputs.find((r) => r.strategy === "ENTRY")!;
      if (newEntry.trigger_type !== "IMMEDIATE")
        throw badRequest("UDAPI1150", "Only the IMMEDIATE trigger type is allowed for an open GTT order", "rules", newEntry.trigger_type);
      if (qty !== g.quantity) throw badRequest("UDAPI100036", "The quantity of an open GTT order cannot be modified", "quantity", qty);
      g.rules = [entry, ...this.newRules(inputs, side).filter((r) => r.strategy !== "ENTRY")];
    } else {
      if (entry.status !== "SCHEDULED")
        throw badRequest("UDAPI100036", `The GTT order is ${entry.status} and cannot be modified now`, "gtt_order_id", g.gtt_order_id);
      g.rules = this.newRules(inputs, side);
    }
    g.type = type;
    g.quantity = qty;
    return structuredClone(g);
  }

  cancel(userId: string, body: unknown): FakeGtt {
    if (!isObj(body)) throw badRequest("UDAPI1134", "gtt_order_id is required", "gtt_order_id", null);
    const g = this.owned(userId, body.gtt_order_id).gtt;
    const live = liveRules(g);
    if (live.length === 0) throw badRequest("UDAPI100036", "This GTT order is already completed, cancelled, failed or expired", "gtt_order_id", g.gtt_order_id);
    for (const r of live) r.status = "CANCELLED";
    return structuredClone(g);
  }

  /** The user's GTTs (one when `id` is given), completed ones left out. */
  details(userId: string, id: string | null): FakeGtt[] {
    if (id !== null) {
      const g = this.owned(userId, id).gtt;
      return isCompleted(g) ? [] : [structuredClone(g)];
    }
    return [...this.entries.values()].filter((e) => e.userId === userId && !isCompleted(e.gtt)).map((e) => structuredClone(e.gtt));
  }

  /** The user's GTT, or an Upstox error (another user's GTT is as unknown as a missing one). */
  private owned(userId: string, id: unknown): Entry {
    const e = this.entries.get(gttOrderId(id));
    if (!e || e.userId !== userId) throw GTT_NOT_FOUND(id);
    return e;
  }

  // --- test controls (the server places the child orders) ------------------------

  /** The GTT and its owner; throws on an unknown id. */
  entry(id: string): { userId: string; gtt: FakeGtt } {
    const e = this.entries.get(id);
    if (!e) throw new Error(`FakeUpstox: unknown GTT "${id}"`);
    return { userId: e.userId, gtt: structuredClone(e.gtt) };
  }

  /** The leg's price matched: TRIGGERED. ENTRY must be SCHEDULED; an exit leg PENDING after ENTRY completed. */
  startTrigger(id: string, strategy: FakeGttStrategy): FakeGtt {
    const g = this.entries.get(id)?.gtt;
    if (!g) throw new Error(`FakeUpstox.triggerGtt: unknown GTT "${id}"`);
    const rule = g.rules.find((r) => r.strategy === strategy);
    const entry = g.rules.find((r) => r.strategy === "ENTRY")!;
    const armed = strategy === "ENTRY" ? rule?.status === "SCHEDULED" : rule?.status === "PENDING" && entry.status === "COMPLETED";
    if (!rule || !armed)
      throw new Error(`FakeUpstox.triggerGtt: the ${strategy} leg of ${id} cannot trigger (${rule?.status ?? "absent"}, ENTRY ${entry.status})`);
    rule.status = "TRIGGERED";
    return structuredClone(g);
  }

  /**
   * The child order went to the exchange (COMPLETED) or was refused (FAILED with the reason).
   * A failed ENTRY cancels the other legs; a completed exit leg cancels the other exit (OCO).
   */
  finishTrigger(id: string, strategy: FakeGttStrategy, orderId: string, failure?: string): FakeGtt {
    const g = this.entries.get(id)!.gtt;
    const rule = g.rules.find((r) => r.strategy === strategy)!;
    rule.order_id = orderId;
    rule.status = failure === undefined ? "COMPLETED" : "FAILED";
    if (failure !== undefined) rule.message = failure;
    if (failure !== undefined || strategy !== "ENTRY") for (const r of liveRules(g)) r.status = "CANCELLED";
    return structuredClone(g);
  }

  /** Every leg still waiting EXPIRED; throws when none is. */
  expire(id: string): FakeGtt {
    const g = this.entries.get(id)?.gtt;
    if (!g) throw new Error(`FakeUpstox.expireGtt: unknown GTT "${id}"`);
    const live = liveRules(g);
    if (live.length === 0) throw new Error(`FakeUpstox.expireGtt: ${id} has no leg left to expire`);
    for (const r of live) r.status = "EXPIRED";
    return structuredClone(g);
  }

  all(): FakeGtt[] {
    return [...this.entries.values()].map((e) => structuredClone(e.gtt));
  }
}
