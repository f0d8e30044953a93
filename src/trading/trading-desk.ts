import type { AuditLog } from "../db/repositories/audit.js";
import type { User } from "../db/repositories/users.js";
import type { Logger } from "../log/logger.js";
import { IST_OFFSET_MS } from "../market/calendar.js";
import type { UpstoxClient } from "../upstox/client.js";
import { OrderOutcomeUnknownError, traderMessage, UpstoxError, UpstoxRateLimitError, UpstoxTokenError } from "../upstox/errors.js";
import type { TokenStore, UpstoxSession } from "../upstox/token-store.js";
import type { Brokerage, Gtt, GttRuleRequest } from "../upstox/types.js";
import { summarise, type CardRequest, type GttPlaceRequest, type ModifyRequest, type PlaceRequest } from "./card-request.js";
import { effectiveLimits, refusal, type OwnLimits, type TradingLimits } from "./limits.js";
import { cardTag, type OrderCard, type OrderCards } from "./order-cards.js";
import type { OrderType, Product, Side } from "./parse-order.js";
import type { TradingHalt } from "./trading-halt.js";

/** What the card shows before the trader decides: Upstox's own numbers, or why one is missing. */
export interface PreTrade {
  lastPrice: number | undefined;
  margin: { required: number } | { error: string };
  charges: { total: number; brokerage: number; taxes: number } | { error: string };
  available: { amount: number } | { error: string };
}

export type ConfirmOutcome =
  | { kind: "placed"; orderIds: string[]; reconciled: boolean }
  | { kind: "modified"; orderId: string }
  | { kind: "cancelled"; orderId: string }
  | { kind: "gtt_placed"; gttOrderIds: string[] }
  | { kind: "gtt_cancelled"; gttOrderId: string }
  /** Upstox or our own checks said no; nothing was sent or Upstox refused it. */
  | { kind: "refused"; reason: string }
  /** The request may have reached Upstox: never sent again. */
  | { kind: "unknown"; reason: string };

export type ConfirmResult =
  { ok: true; card: OrderCard; outcome: ConfirmOutcome } | { ok: false; why: "missing" | "not_yours" | "expired" | "decided"; card?: OrderCard };

/** Why trading is not offered right now, in words; undefined when it is. */
export type TradingGate = string | undefined;

export interface TradingDeskDeps {
  config: { enabled: boolean; maxOrderValue: number; maxOrdersPerDay: number; cardTtlMs: number };
  clock: () => number;
  log: Logger;
  audit: AuditLog;
  cards: OrderCards;
  halt: TradingHalt;
  upstox: { client: UpstoxClient; tokens: TokenStore } | undefined;
  /**
   * Records a GTT of this trader as Upstox reports it: one just placed (its postbacks name no
   * user, so they find their owner by it) and each one /gtts lists (a poll: a trigger or
   * cancellation both pushes missed is told from it, once).
   */
  recordGtt?: (userId: number, gtt: Gtt) => Promise<void>;
}

export const TRADING_OFF =
  "Trading from chat is off on this bot: its operator turns it on with TRADING_ENABLED=true. /orders, /portfolio and /funds still show your account.";
export const TRADING_HALTED = "Trading from chat is halted by the admin right now: no new orders go out until they resume it.";
export const SIMULATOR_ONLY = "This bot runs on the built-in market simulator: there is no Upstox account to trade with.";

const istDayStart = (now: number) => Math.floor((now + IST_OFFSET_MS) / 86_400_000) * 86_400_000 - IST_OFFSET_MS;
const sumTaxes = (b: Brokerage) => b.gst + b.stt + b.stampDuty + b.otherCharges;
const why = (err: unknown) => (err instanceof UpstoxError ? traderMessage(err) : "unavailable");

/**
 * The shared layer trading from chat asks (freqtrade's rpc, for orders): opens confirmation
 * cards with Upstox's margin, charges and funds, and carries out a confirmed card exactly
 * once. Handlers only parse and format. Every card, confirm, dismissal and outcome is written
 * to the audit log.
 */
export class TradingDesk {
  constructor(private readonly d: TradingDeskDeps) {}

  /** Whether trading may be offered at all (off, simulator, halted), checked at every card and every Confirm. */
  gate(): TradingGate {
    if (!this.d.upstox) return SIMULATOR_ONLY;
    if (!this.d.config.enabled) return TRADING_OFF;
    if (this.d.halt.haltedSince() !== undefined) return TRADING_HALTED;
    return undefined;
  }

  limitsOf(user: User): { limits: TradingLimits; own: OwnLimits } {
    const own = { maxOrderValue: user.prefs.maxOrderValue, maxOrdersPerDay: user.prefs.maxOrdersPerDay };
    return { limits: effectiveLimits(this.d.config, own), own };
  }

  ordersToday(user: User): number {
    return this.d.cards.placedSince(user.id, istDayStart(this.d.clock()));
  }

  /** Why this order may not go (value or count over a limit), or undefined. */
  limitRefusal(user: User, value: number, extra = 0): string | undefined {
    const { limits, own } = this.limitsOf(user);
    return refusal({ value, ordersToday: this.ordersToday(user) + extra }, limits, own);
  }

  /** Upstox's numbers for a new order or GTT: margin, one side's charges, funds; each may be missing with its reason. */
  async preTrade(
    session: UpstoxSession,
    o: { instrumentKey: string; side: Side; quantity: number; product: Product; price: number | undefined },
  ): Promise<PreTrade> {
    const { client } = this.d.upstox!;
    const ltp = await client.getLtp(session, [o.instrumentKey]).then(
      (m) => m.get(o.instrumentKey)?.lastPrice,
      () => undefined,
    );
    const price = o.price ?? ltp;
    const [margin, charges, funds] = await Promise.allSettled([
      client.getMargin(session, [
        { instrumentKey: o.instrumentKey, quantity: o.quantity, transactionType: o.side, product: o.product, ...(price !== undefined ? { price } : {}) },
      ]),
      price !== undefined
        ? client.getBrokerage(session, { instrumentKey: o.instrumentKey, quantity: o.quantity, product: o.product, transactionType: o.side, price })
        : Promise.reject(new Error("no price to estimate charges at")),
      client.getFunds(session),
    ]);
    for (const r of [margin, charges, funds])
      if (r.status === "rejected" && !(r.reason instanceof UpstoxError)) this.d.log.warn({ err: r.reason }, "a pre-trade figure failed");
    return {
      lastPrice: ltp,
      margin: margin.status === "fulfilled" ? { required: margin.value.requiredMargin } : { error: why(margin.reason) },
      charges:
        charges.status === "fulfilled"
          ? { total: charges.value.total, brokerage: charges.value.brokerage, taxes: sumTaxes(charges.value) }
          : { error: why(charges.reason) },
      available:
        funds.status === "fulfilled"
          ? funds.value.equity
            ? { amount: funds.value.equity.availableMargin }
            : { error: "Upstox reported no equity funds" }
          : { error: why(funds.reason) },
    };
  }

  /** The trader's active GTTs, each recorded as a poll of its state. */
  async listGtts(user: User, session: UpstoxSession): Promise<Gtt[]> {
    const gtts = await this.d.upstox!.client.getGtts(session);
    await this.recordGtts(user, gtts);
    return gtts;
  }

  private async recordGtts(user: User, gtts: readonly Gtt[]): Promise<void> {
    for (const g of gtts) await this.d.recordGtt?.(user.id, g);
  }

  /** Stores the card and audits it. The caller has checked the gate and the limits. */
  open(user: User, request: CardRequest): OrderCard {
    const summary = summarise(request);
    const card = this.d.cards.create({ userId: user.id, request, summary, now: this.d.clock(), ttlMs: this.d.config.cardTtlMs });
    this.d.audit.record(user.telegramId, "trade.card", card.id, { summary });
    return card;
  }

  /** The admin's /halt: true when it was running. */
  halt(admin: number): boolean {
    const changed = this.d.halt.halt(this.d.clock());
    this.d.audit.record(admin, "trade.halt", null, { changed });
    if (changed) this.d.log.warn({ admin }, "trading from chat halted by an admin");
    return changed;
  }

  resume(admin: number): boolean {
    const changed = this.d.halt.resume();
    this.d.audit.record(admin, "trade.resume", null, { changed });
    if (changed) this.d.log.warn({ admin }, "trading from chat resumed by an admin");
    return changed;
  }

  haltedSince(): number | undefined {
    return this.d.halt.haltedSince();
  }

  attachMessage(card: OrderCard, chatId: number, messageId: number): void {
    this.d.cards.attachMessage(card.id, chatId, messageId);
  }

  /** The user's own card, whatever its state; undefined for another's or none. */
  ownCard(cardId: string, user: User): OrderCard | undefined {
    const card = this.d.cards.get(cardId);
    return card?.userId === user.id ? card : undefined;
  }

  dismiss(cardId: string, user: User): boolean {
    const ok = this.d.cards.dismiss(cardId, user.id, this.d.clock());
    if (ok) this.d.audit.record(user.telegramId, "trade.dismiss", cardId);
    return ok;
  }

  /**
   * Carries out a card once. The card is taken (owner, open, unexpired) in one SQLite update
   * before anything is sent, so a second tap finds it decided; the halt, the switch and the
   * limits are checked again after taking it, since time passed since it was shown.
   */
  async confirm(cardId: string, user: User): Promise<ConfirmResult> {
    const taken = this.take(cardId, user);
    return taken.ok ? this.carryOutTaken(taken.card, user) : taken;
  }

  /**
   * The first half of confirm(): takes the card, synchronously (one SQLite update), so the
   * tap can be answered at once; carryOutTaken() then sends it.
   */
  take(cardId: string, user: User): { ok: true; card: OrderCard } | Extract<ConfirmResult, { ok: false }> {
    const claim = this.d.cards.claim(cardId, user.id, this.d.clock());
    if (!claim.ok) {
      this.d.audit.record(user.telegramId, "trade.confirm_refused", cardId, { reason: claim.reason });
      // Another user's card is not shown to them, not even its state.
      return { ok: false, why: claim.reason, ...(claim.card && claim.reason !== "not_yours" ? { card: claim.card } : {}) };
    }
    this.d.audit.record(user.telegramId, "trade.confirm", claim.card.id, { summary: claim.card.summary });
    return { ok: true, card: claim.card };
  }

  async carryOutTaken(card: OrderCard, user: User): Promise<ConfirmResult> {
    const outcome = await this.carryOut(card, user);
    const status = outcome.kind === "refused" ? "failed" : outcome.kind === "unknown" ? "unknown" : "done";
    this.d.cards.finish(card.id, status, outcome, this.d.clock());
    this.d.audit.record(user.telegramId, "trade.outcome", card.id, outcome);
    this.d.log.info({ userId: user.id, card: card.id, outcome: outcome.kind }, `order card ${outcome.kind}: ${card.summary}`);
    return { ok: true, card: { ...card, status, outcome }, outcome };
  }

  private async carryOut(card: OrderCard, user: User): Promise<ConfirmOutcome> {
    const gate = this.gate();
    if (gate) return { kind: "refused", reason: gate };
    const r = card.request;
    if (r.action === "place" || r.action === "gtt_place" || r.action === "modify") {
      // This card is already counted among today's (it is being confirmed).
      const over = this.limitRefusal(user, r.value, r.action === "modify" ? 0 : -1);
      if (over) return { kind: "refused", reason: over };
    }
    const session = this.d.upstox!.tokens.session(user.id);
    if (!session) return { kind: "refused", reason: "Your Upstox login has ended: send /login, then try again." };
    try {
      switch (r.action) {
        case "place":
          return await this.place(session, card.id, r);
        case "modify":
          return await this.modify(session, r);
        case "cancel":
          return { kind: "cancelled", orderId: await this.d.upstox!.client.cancelOrder(session, r.orderId) };
        case "gtt_place":
          return await this.placeGtt(session, user, r);
        case "gtt_cancel":
          await this.d.upstox!.client.cancelGtt(session, r.gttOrderId);
          return { kind: "gtt_cancelled", gttOrderId: r.gttOrderId };
      }
    } catch (err) {
      return this.failure(r, err);
    }
  }

  private async place(session: UpstoxSession, cardId: string, r: PlaceRequest): Promise<ConfirmOutcome> {
    const res = await this.d.upstox!.client.placeOrder(session, {
      instrumentKey: r.instrumentKey,
      quantity: r.quantity,
      transactionType: r.side,
      orderType: r.orderType,
      product: r.product,
      ...(r.price !== undefined ? { price: r.price } : {}),
      ...(r.triggerPrice !== undefined ? { triggerPrice: r.triggerPrice } : {}),
      tag: cardTag(cardId),
    });
    return { kind: "placed", orderIds: res.orderIds, reconciled: res.reconciled };
  }

  private async modify(session: UpstoxSession, r: ModifyRequest): Promise<ConfirmOutcome> {
    const orderId = await this.d.upstox!.client.modifyOrder(session, {
      orderId: r.orderId,
      orderType: r.orderType,
      validity: r.validity === "IOC" ? "IOC" : "DAY",
      price: r.orderType === "MARKET" || r.orderType === "SL-M" ? 0 : r.price,
      triggerPrice: r.triggerPrice,
      quantity: r.quantity,
    });
    return { kind: "modified", orderId };
  }

  private async placeGtt(session: UpstoxSession, user: User, r: GttPlaceRequest): Promise<ConfirmOutcome> {
    const rules: GttRuleRequest[] = [{ strategy: "ENTRY", triggerType: r.direction, triggerPrice: r.trigger }];
    if (r.target !== undefined) rules.push({ strategy: "TARGET", triggerType: "IMMEDIATE", triggerPrice: r.target });
    if (r.stopLoss !== undefined) rules.push({ strategy: "STOPLOSS", triggerType: "IMMEDIATE", triggerPrice: r.stopLoss });
    const ids = await this.d.upstox!.client.placeGtt(session, {
      type: rules.length > 1 ? "MULTIPLE" : "SINGLE",
      quantity: r.quantity,
      product: r.product,
      instrumentKey: r.instrumentKey,
      transactionType: r.side,
      rules,
    });
    for (const id of ids) {
      await this.d
        .upstox!.client.getGtts(session, id)
        .then((gtts) => this.recordGtts(user, gtts))
        .catch((err: unknown) => this.d.log.warn({ err, gttOrderId: id }, "could not record a placed GTT"));
    }
    return { kind: "gtt_placed", gttOrderIds: ids };
  }

  /**
   * An error from a write, as an outcome. Only a placement's lost answer is "unknown" (the
   * client already looked the order up by its tag); a refusal, a rate limit or an ended login
   * means nothing went out. A GTT or modify whose answer was lost may have gone through.
   */
  private failure(r: CardRequest, err: unknown): ConfirmOutcome {
    if (err instanceof OrderOutcomeUnknownError)
      return {
        kind: "unknown",
        reason:
          "Upstox did not answer in time and no order with this card's tag has shown up yet. It was not sent again: /orders shows it if it went through, and you will be told here when Upstox reports it.",
      };
    if (err instanceof UpstoxTokenError) return { kind: "refused", reason: "Your Upstox login has ended: send /login, then try again." };
    if (err instanceof UpstoxRateLimitError) return { kind: "refused", reason: `${traderMessage(err)} Nothing was sent.` };
    if (err instanceof UpstoxError && err.status !== undefined && err.status < 500) return { kind: "refused", reason: traderMessage(err) };
    if (err instanceof UpstoxError) {
      const where = r.action === "gtt_place" || r.action === "gtt_cancel" ? "/gtts" : "/orders";
      return {
        kind: "unknown",
        reason: `${traderMessage(err)} It may or may not have gone through and was not sent again: check ${where} before trying again.`,
      };
    }
    this.d.log.error({ err, action: r.action }, "order card failed unexpectedly");
    return {
      kind: "unknown",
      reason: `Something went wrong on our side while sending it. It was not sent again: check ${r.action.startsWith("gtt") ? "/gtts" : "/orders"} before trying again.`,
    };
  }
}

/** The order type a modify keeps unless the trader asked for market or gave a trigger. */
export function modifiedOrderType(current: string, change: { market: boolean; price: number | undefined; triggerPrice: number | undefined }): OrderType {
  const known = (["MARKET", "LIMIT", "SL", "SL-M"] as const).find((t) => t === current.toUpperCase()) ?? "LIMIT";
  if (change.market) return known === "SL" || known === "SL-M" ? "SL-M" : "MARKET";
  if (change.price !== undefined) return known === "SL-M" ? "SL" : known === "MARKET" ? "LIMIT" : known;
  return known;
}
