/**
 * Order updates from Upstox, one kind per transition. The view gives every kind the same
 * values: side (BUY/SELL), quantity, filled, symbol, orderType, product (intraday, delivery,
 * MTF), priceText ("@ ₹1,450.00" or "at market"), avgPrice/value ("" when Upstox sent no
 * average), verb (bought/sold), reason (Upstox's message, or a fallback), statusMessage
 * ("" when none), orderId and time (IST).
 */
const wrap = (body: string) =>
  '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
  body +
  '<p style="color:#666;font-size:12px">Order {{orderId}} · {{time}} IST<br>You get this because order alerts are on. Change them with /settings in the bot.' +
  '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>';

const textFooter =
  "\n\nOrder {{orderId}} · {{time}} IST\nYou get this because order alerts are on. Change them with /settings in the bot.\n{{#unsubscribeUrl}}Unsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}";

const telegramFooter = "\n<i>Order {{orderId}} · {{time}} IST</i>";

/** Upstox accepted the order and it is open at the exchange. */
export const orderPlaced = {
  telegram: "🧾 <b>Order placed</b>: {{side}} {{quantity}} <b>{{symbol}}</b> {{priceText}} ({{orderType}}, {{product}})" + telegramFooter,
  subject: "Order placed: {{side}} {{quantity}} {{symbol}} {{priceText}}",
  text: "Order placed: {{side}} {{quantity}} {{symbol}} {{priceText}} ({{orderType}}, {{product}})" + textFooter,
  html: wrap("<p>🧾 <b>Order placed</b>: {{side}} {{quantity}} <b>{{symbol}}</b> {{priceText}} ({{orderType}}, {{product}})</p>"),
} as const;

/** Part of the order traded; the rest is still open. */
export const orderPartiallyFilled = {
  telegram:
    "◐ <b>Partly filled</b>: {{filled}} of {{quantity}} <b>{{symbol}}</b> {{verb}}{{#avgPrice}} at {{avgPrice}} avg{{/avgPrice}}\n{{pending}} still open ({{orderType}}, {{product}})" +
    telegramFooter,
  subject: "Partly filled: {{filled}} of {{quantity}} {{symbol}} {{verb}}{{#avgPrice}} at {{avgPrice}} avg{{/avgPrice}}",
  text:
    "Partly filled: {{filled}} of {{quantity}} {{symbol}} {{verb}}{{#avgPrice}} at {{avgPrice}} avg{{/avgPrice}}\n{{pending}} still open ({{orderType}}, {{product}})" +
    textFooter,
  html: wrap(
    "<p>◐ <b>Partly filled</b>: {{filled}} of {{quantity}} <b>{{symbol}}</b> {{verb}}{{#avgPrice}} at {{avgPrice}} avg{{/avgPrice}}<br>{{pending}} still open ({{orderType}}, {{product}})</p>",
  ),
} as const;

/** The whole order traded. */
export const orderFilled = {
  telegram:
    "✅ <b>Filled</b>: {{side}} {{filled}} <b>{{symbol}}</b>{{#avgPrice}} at {{avgPrice}} avg ({{value}}){{/avgPrice}}\n{{orderType}}, {{product}}" +
    telegramFooter,
  subject: "Filled: {{side}} {{filled}} {{symbol}}{{#avgPrice}} at {{avgPrice}} avg{{/avgPrice}}",
  text: "Filled: {{side}} {{filled}} {{symbol}}{{#avgPrice}} at {{avgPrice}} avg ({{value}}){{/avgPrice}}\n{{orderType}}, {{product}}" + textFooter,
  html: wrap(
    "<p>✅ <b>Filled</b>: {{side}} {{filled}} <b>{{symbol}}</b>{{#avgPrice}} at {{avgPrice}} avg ({{value}}){{/avgPrice}}<br>{{orderType}}, {{product}}</p>",
  ),
} as const;

/** Upstox or the exchange refused the order; {{reason}} is their message. */
export const orderRejected = {
  telegram: "❌ <b>Order rejected</b>: {{side}} {{quantity}} <b>{{symbol}}</b> — {{reason}}" + telegramFooter,
  subject: "Order rejected: {{side}} {{quantity}} {{symbol}}",
  text: "Order rejected: {{side}} {{quantity}} {{symbol}} — {{reason}}" + textFooter,
  html: wrap("<p>❌ <b>Order rejected</b>: {{side}} {{quantity}} <b>{{symbol}}</b> — {{reason}}</p>"),
} as const;

/** The order was cancelled (by the trader, or by the exchange, e.g. an unfilled IOC). */
export const orderCancelled = {
  telegram:
    "🚫 <b>Order cancelled</b>: {{side}} {{quantity}} <b>{{symbol}}</b>{{#partFilled}} ({{filled}} filled before cancelling){{/partFilled}}{{#statusMessage}}\nUpstox: {{statusMessage}}{{/statusMessage}}" +
    telegramFooter,
  subject: "Order cancelled: {{side}} {{quantity}} {{symbol}}{{#partFilled}} ({{filled}} filled before cancelling){{/partFilled}}",
  text:
    "Order cancelled: {{side}} {{quantity}} {{symbol}}{{#partFilled}} ({{filled}} filled before cancelling){{/partFilled}}{{#statusMessage}}\nUpstox: {{statusMessage}}{{/statusMessage}}" +
    textFooter,
  html: wrap(
    "<p>🚫 <b>Order cancelled</b>: {{side}} {{quantity}} <b>{{symbol}}</b>{{#partFilled}} ({{filled}} filled before cancelling){{/partFilled}}{{#statusMessage}}<br>Upstox: {{statusMessage}}{{/statusMessage}}</p>",
  ),
} as const;
