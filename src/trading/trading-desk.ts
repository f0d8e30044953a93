import type { AuditLog } from "../db/repositories/audit.js";
import type { User } from "../db/repositories/users.js";
import { CallCutOffError, isShutdown } from "../lifecycle/abort.js";
import type { Logger } from "../log/logger.js";
import { istInstant, istParts } from "../market/calendar.js";
import type { OrderRepository } from "../orders/order-repository.js";
import { RateLimitWaitTooLongError } from "../redis/rate-limit.js";
import type { UpstoxClient } from "../upstox/client.js";
import { OrderOutcomeUnknownError, traderMessage, UpstoxError, UpstoxRateLimitError, UpstoxResponseError, UpstoxTokenError } from "../upstox/errors.js";
import type { TokenStore, UpstoxSession } from "../upstox/token-store.js";
import type { Brokerage, Gtt, GttRuleRequest } from "../upstox/types.js";
import { summarise, type CardRequest, type GttPlaceRequest, type ModifyRequest, type PlaceRequest } from "./card-request.js";
import { effectiveLimits, refusal, type OwnLimits, type TradingLimits } from "./limits.js";
import { cardTag } from "../orders/card-tag.js";
import type { ClaimRefusal, OrderCard, OrderCards } from "./order-cards.js";
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

export type TakeResult = { ok: true; card: OrderCard } | { ok: false; why: ClaimRefusal; card?: OrderCard };

const LOGIN_ENDED_NOTHING_SENT = "Your Upstox login has ended, so nothing was sent: send /login, then try again.";

/** Why trading is not offered right now, in words; undefined when it is. */
export type TradingGate = string | undefined;

export interface TradingDeskDeps {
  config: { enabled: boolean; maxOrderValue: number; maxOrdersPerDay: number; cardTtlMs: number };
  clock: () => number;
  log: Logger;
  audit: AuditLog;
  cards: OrderCards;
  /** Orders the bot has seen, by the tag their card gave them (a report may beat Upstox's answer). */
  orders: Pick<OrderRepository, "idsByTag">;
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

const istDayStart = (now: number) => istInstant(istParts(new Date(now)).date, 0).getTime();
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

  /**
   * Whether trading may be offered (off, simulator, halted), checked at every card and every
   * Confirm. The halt stops new orders and changes; a cancellation only lowers risk, so it
   * still goes, and a read-only view (`view`) needs only an Upstox app.
   */
  gate(purpose: "new" | "cancel" | "view" = "new"): TradingGate {
    if (!this.d.upstox) return SIMULATOR_ONLY;
    if (purpose === "view") return undefined;
    if (!this.d.config.enabled) return TRADING_OFF;
    if (purpose === "new" && this.d.halt.haltedSince() !== undefined) return TRADING_HALTED;
    return undefined;
  }

  limitsOf(user: User): { limits: TradingLimits; own: OwnLimits } {
    const own = { maxOrderValue: user.prefs.maxOrderValue, maxOrdersPerDay: user.prefs.maxOrdersPerDay };
    return { limits: effectiveLimits(this.d.config, own), own };
  }

  ordersToday(user: User): number {
    return this.d.cards.placedSince(user.id, istDayStart(this.d.clock()));
  }

  /**
   * Why this order may not go (its value, or today's count for a new order or GTT), or
   * undefined. `beingConfirmed`: the card asking is already among today's (it was taken).
   */
  limitRefusal(user: User, value: number, opts: { newOrder: boolean; beingConfirmed?: boolean }): string | undefined {
    const { limits, own } = this.limitsOf(user);
    const ordersToday = opts.newOrder ? this.ordersToday(user) - (opts.beingConfirmed ? 1 : 0) : 0;
    return refusal({ value, ordersToday }, limits, own);
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
    const noPrice = { error: "no price to estimate them at" };
    const [margin, charges, funds] = await Promise.allSettled([
      client.getMargin(session, [
        { instrumentKey: o.instrumentKey, quantity: o.quantity, transactionType: o.side, product: o.product, ...(price !== undefined ? { price } : {}) },
      ]),
      price !== undefined
        ? client.getBrokerage(session, { instrumentKey: o.instrumentKey, quantity: o.quantity, product: o.product, transactionType: o.side, price })
        : Promise.resolve(undefined),
      client.getFunds(session),
    ]);
    for (const r of [margin, charges, funds])
      if (r.status === "rejected" && !(r.reason instanceof UpstoxError)) this.d.log.warn({ err: r.reason }, "a pre-trade figure failed");
    return {
      lastPrice: ltp,
      margin: margin.status === "fulfilled" ? { required: margin.value.requiredMargin } : { error: why(margin.reason) },
      charges:
        charges.status === "fulfilled"
          ? charges.value
            ? { total: charges.value.total, brokerage: charges.value.brokerage, taxes: sumTaxes(charges.value) }
            : noPrice
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

  /** Each GTT on its own: one that cannot be recorded is logged, and the rest still are. */
  private async recordGtts(user: User, gtts: readonly Gtt[]): Promise<void> {
    for (const g of gtts) {
      await this.d.recordGtt?.(user.id, g).catch((err: unknown) => this.d.log.warn({ err, gttOrderId: g.gttOrderId }, "could not record a GTT Upstox listed"));
    }
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

  cardExists(cardId: string): boolean {
    return this.d.cards.get(cardId) !== undefined;
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
   * Takes the card for its owner, open and unexpired, in one SQLite update, before anything
   * is sent: a second tap, a replay or another device finds it decided. Synchronous, so the
   * tap is answered at once; carryOut() then sends it.
   */
  take(cardId: string, user: User): TakeResult {
    const claim = this.d.cards.claim(cardId, user.id, this.d.clock());
    if (!claim.ok) {
      this.d.audit.record(user.telegramId, "trade.confirm_refused", cardId, { reason: claim.reason });
      // Another user's card is not shown to them, not even its state.
      return { ok: false, why: claim.reason, ...(claim.card && claim.reason !== "not_yours" ? { card: claim.card } : {}) };
    }
    this.d.audit.record(user.telegramId, "trade.confirm", claim.card.id, { summary: claim.card.summary });
    return { ok: true, card: claim.card };
  }

  /**
   * Sends a taken card and records what came of it. The switch, the halt and the limits are
   * checked again (time passed since the card was shown). Whatever happens, the card ends
   * decided: it is never sent twice, even when this throws.
   */
  async carryOut(card: OrderCard, user: User): Promise<{ card: OrderCard; outcome: ConfirmOutcome }> {
    let outcome: ConfirmOutcome;
    try {
      outcome = await this.send(card, user);
    } catch (err) {
      outcome = this.failure(card.request, err);
    }
    const status = outcome.kind === "refused" ? "failed" : outcome.kind === "unknown" ? "unknown" : "done";
    this.d.cards.finish(card.id, status, outcome, this.d.clock());
    this.d.audit.record(user.telegramId, "trade.outcome", card.id, outcome);
    this.d.log.info({ userId: user.id, card: card.id, outcome: outcome.kind }, `order card ${outcome.kind}: ${card.summary}`);
    return { card: { ...card, status, outcome }, outcome };
  }

  private async send(card: OrderCard, user: User): Promise<ConfirmOutcome> {
    const r = card.request;
    const gate = this.gate(r.action === "cancel" || r.action === "gtt_cancel" ? "cancel" : "new");
    if (gate) return { kind: "refused", reason: gate };
    if (r.action === "place" || r.action === "gtt_place" || r.action === "modify") {
      const over = this.limitRefusal(user, r.value, { newOrder: r.action !== "modify", beingConfirmed: true });
      if (over) return { kind: "refused", reason: over };
    }
    const session = this.d.upstox!.tokens.session(user.id);
    if (!session) return { kind: "refused", reason: LOGIN_ENDED_NOTHING_SENT };
    switch (r.action) {
      case "place":
        return this.place(session, card.id, r);
      case "modify":
        return this.modify(session, r);
      case "cancel":
        return { kind: "cancelled", orderId: await this.d.upstox!.client.cancelOrder(session, r.orderId) };
      case "gtt_place":
        return this.placeGtt(session, user, r);
      case "gtt_cancel":
        await this.d.upstox!.client.cancelGtt(session, r.gttOrderId);
        return { kind: "gtt_cancelled", gttOrderId: r.gttOrderId };
    }
  }

  private async place(session: UpstoxSession, cardId: string, r: PlaceRequest): Promise<ConfirmOutcome> {
    const tag = cardTag(cardId);
    let res: { orderIds: string[]; reconciled: boolean };
    try {
      res = await this.placeOrder(session, tag, r);
    } catch (err) {
      // Upstox's answer and the look-ups by tag failed, but the portfolio stream or the
      // postback may have reported the order meanwhile: then it is placed, and shown so.
      const seen = err instanceof OrderOutcomeUnknownError ? this.d.orders.idsByTag(tag) : [];
      if (seen.length) return { kind: "placed", orderIds: seen, reconciled: true };
      throw err;
    }
    return { kind: "placed", orderIds: res.orderIds, reconciled: res.reconciled };
  }

  private placeOrder(session: UpstoxSession, tag: string, r: PlaceRequest) {
    return this.d.upstox!.client.placeOrder(session, {
      instrumentKey: r.instrumentKey,
      quantity: r.quantity,
      transactionType: r.side,
      orderType: r.orderType,
      product: r.product,
      ...(r.price !== undefined ? { price: r.price } : {}),
      ...(r.triggerPrice !== undefined ? { triggerPrice: r.triggerPrice } : {}),
      tag,
    });
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
        .catch((err: unknown) => this.d.log.warn({ err, gttOrderId: id }, "could not read back a placed GTT"));
    }
    return { kind: "gtt_placed", gttOrderIds: ids };
  }

  /**
   * An error from a write, as an outcome. "unknown" when the request may have reached Upstox:
   * a placement whose answer and look-ups by tag failed, a 5xx, a timeout, an answer we could
   * not read, a call cut off by the shutdown. "refused" when nothing went out: Upstox said no,
   * a rate limit, an ended login, a wait for a slot the shutdown or the limiter ended.
   */
  private failure(r: CardRequest, err: unknown): ConfirmOutcome {
    const where = r.action === "gtt_place" || r.action === "gtt_cancel" ? "/gtts" : "/orders";
    const mayHaveGone = `It may or may not have gone through and was not sent again: check ${where} before trying again.`;
    if (err instanceof OrderOutcomeUnknownError)
      return {
        kind: "unknown",
        reason:
          "Upstox did not answer in time and no order with this card's tag has shown up yet. It was not sent again: /orders shows it if it went through, and you will be told here when Upstox reports it.",
      };
    if (err instanceof CallCutOffError) return { kind: "unknown", reason: `The bot was stopping while Upstox answered. ${mayHaveGone}` };
    if (isShutdown(err)) return { kind: "refused", reason: "The bot is restarting: nothing was sent. Try again in a minute." };
    if (err instanceof RateLimitWaitTooLongError)
      return { kind: "refused", reason: "Upstox's order budget is used up for now: nothing was sent. Try again in a minute." };
    if (err instanceof UpstoxTokenError) return { kind: "refused", reason: LOGIN_ENDED_NOTHING_SENT };
    if (err instanceof UpstoxRateLimitError) return { kind: "refused", reason: `${traderMessage(err)} Nothing was sent.` };
    if (err instanceof UpstoxResponseError) return { kind: "unknown", reason: `Upstox answered, but not in a way we could read. ${mayHaveGone}` };
    if (err instanceof UpstoxError && err.status !== undefined && err.status < 500) return { kind: "refused", reason: traderMessage(err) };
    if (err instanceof UpstoxError) return { kind: "unknown", reason: `${traderMessage(err)} ${mayHaveGone}` };
    this.d.log.error({ err, action: r.action }, "order card failed unexpectedly");
    return { kind: "unknown", reason: `Something went wrong on our side while sending it. ${mayHaveGone}` };
  }
}

/**
 * The order type after a change: the order's own, unless the change implies another. Market
 * drops the limit price (SL → SL-M, LIMIT → MARKET), a price adds one (SL-M → SL, MARKET →
 * LIMIT), a trigger makes it a stop-loss (LIMIT → SL, MARKET → SL-M).
 */
export function modifiedOrderType(current: string, change: { market: boolean; price: number | undefined; triggerPrice: number | undefined }): OrderType {
  let t = (["MARKET", "LIMIT", "SL", "SL-M"] as const).find((x) => x === current.toUpperCase()) ?? "LIMIT";
  if (change.triggerPrice !== undefined) t = t === "MARKET" ? "SL-M" : t === "LIMIT" ? "SL" : t;
  if (change.market) return t === "SL" || t === "SL-M" ? "SL-M" : "MARKET";
  if (change.price !== undefined) return t === "SL-M" ? "SL" : t === "MARKET" ? "LIMIT" : t;
  return t;
}
