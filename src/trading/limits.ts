import { rupees } from "../format/money.js";

/**
 * The ceilings an order is checked against: the operator's (TRADING_MAX_ORDER_VALUE,
 * TRADING_MAX_ORDERS_PER_DAY), lowered by the trader's own (/limits) but never raised. Pure.
 */
export interface TradingLimits {
  maxOrderValue: number;
  maxOrdersPerDay: number;
}

/** A trader's own limits, kept in their prefs; absent means the operator's. */
export interface OwnLimits {
  maxOrderValue?: number | undefined;
  maxOrdersPerDay?: number | undefined;
}

export function effectiveLimits(operator: TradingLimits, own: OwnLimits): TradingLimits {
  return {
    maxOrderValue: Math.min(operator.maxOrderValue, own.maxOrderValue ?? Infinity),
    maxOrdersPerDay: Math.min(operator.maxOrdersPerDay, own.maxOrdersPerDay ?? Infinity),
  };
}

/** Quantity × unit price, to the paisa: what the value limit judges. */
export const orderValue = (unitPrice: number, quantity: number): number => Math.round(unitPrice * quantity * 100) / 100;

/** Why a new order may not go, in the trader's words, or undefined when it may. */
export function refusal(check: { value: number; ordersToday: number }, limits: TradingLimits, own: OwnLimits): string | undefined {
  if (check.value > limits.maxOrderValue) {
    const whose =
      own.maxOrderValue !== undefined && own.maxOrderValue <= limits.maxOrderValue ? "your own limit (/limits)" : "the limit this bot's operator set";
    return `This order is worth about ${rupees(check.value)}, over ${whose} of ${rupees(limits.maxOrderValue)} an order.`;
  }
  if (check.ordersToday >= limits.maxOrdersPerDay) {
    const whose =
      own.maxOrdersPerDay !== undefined && own.maxOrdersPerDay <= limits.maxOrdersPerDay ? "your own limit (/limits)" : "the limit this bot's operator set";
    return `You have placed ${check.ordersToday} orders from chat today, ${whose} of ${limits.maxOrdersPerDay} a day.`;
  }
  return undefined;
}
