/**
 * GTT updates from Upstox, told once each (src/orders/gtt-track.ts). The view gives every
 * kind the same values: symbol, side (the entry's BUY/SELL), quantity, product (intraday,
 * delivery, MTF), legLabel ("" for a single-leg GTT's entry, else "entry leg", "target leg",
 * "stop-loss leg"), legSide and legTrigger of the leg told about ("above ₹1,500.00",
 * "below …", "at …"), childOrderId ("" until Upstox placed one), reason (Upstox's message, or
 * a fallback), otherLegs (the other legs and where they stand, "" for a single leg), legs
 * (every leg with its trigger), expiredLegs, expiry ("" when unknown), afterEntry (a note when
 * the entry had triggered before the rest expired), gttOrderId and time (IST).
 */
const wrap = (body: string) =>
  '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
  body +
  '<p style="color:#666;font-size:12px">GTT {{gttOrderId}} · {{time}} IST<br>You get this because order alerts are on. Change them with /settings in the bot.' +
  '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>';

const textFooter =
  "\n\nGTT {{gttOrderId}} · {{time}} IST\nYou get this because order alerts are on. Change them with /settings in the bot.\n{{#unsubscribeUrl}}Unsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}";

const telegramFooter = "\n<i>GTT {{gttOrderId}} · {{time}} IST</i>";

const label = "{{#legLabel}} ({{legLabel}}){{/legLabel}}";
const child =
  "{{#childOrderId}}Order {{childOrderId}} went to the exchange; its fill is told separately.{{/childOrderId}}" +
  "{{^childOrderId}}Its order is on the way to the exchange; the fill is told separately.{{/childOrderId}}";

/** A leg's trigger was hit and Upstox placed (or is placing) its order. */
export const gttTriggered = {
  telegram: `🎯 <b>GTT triggered</b>${label}: {{legSide}} {{quantity}} <b>{{symbol}}</b>, trigger {{legTrigger}} ({{product}})\n${child}{{#otherLegs}}\n{{otherLegs}}{{/otherLegs}}${telegramFooter}`,
  subject: `GTT triggered${label}: {{legSide}} {{quantity}} {{symbol}}, trigger {{legTrigger}}`,
  text: `GTT triggered${label}: {{legSide}} {{quantity}} {{symbol}}, trigger {{legTrigger}} ({{product}})\n${child}{{#otherLegs}}\n{{otherLegs}}{{/otherLegs}}${textFooter}`,
  html: wrap(
    `<p>🎯 <b>GTT triggered</b>${label}: {{legSide}} {{quantity}} <b>{{symbol}}</b>, trigger {{legTrigger}} ({{product}})<br>${child}{{#otherLegs}}<br>{{otherLegs}}{{/otherLegs}}</p>`,
  ),
} as const;

/** A leg failed; {{reason}} is Upstox's message. */
export const gttFailed = {
  telegram: `⚠️ <b>GTT failed</b>${label}: {{legSide}} {{quantity}} <b>{{symbol}}</b>, trigger {{legTrigger}} — {{reason}}{{#otherLegs}}\n{{otherLegs}}{{/otherLegs}}${telegramFooter}`,
  subject: `GTT failed${label}: {{legSide}} {{quantity}} {{symbol}}, trigger {{legTrigger}}`,
  text: `GTT failed${label}: {{legSide}} {{quantity}} {{symbol}}, trigger {{legTrigger}} — {{reason}}{{#otherLegs}}\n{{otherLegs}}{{/otherLegs}}${textFooter}`,
  html: wrap(
    `<p>⚠️ <b>GTT failed</b>${label}: {{legSide}} {{quantity}} <b>{{symbol}}</b>, trigger {{legTrigger}} — {{reason}}{{#otherLegs}}<br>{{otherLegs}}{{/otherLegs}}</p>`,
  ),
} as const;

/** Every leg was cancelled before any triggered (by the trader, here or in Upstox's apps). */
export const gttCancelled = {
  telegram: `🚫 <b>GTT cancelled</b>: {{side}} {{quantity}} <b>{{symbol}}</b> ({{product}})\n{{legs}}${telegramFooter}`,
  subject: "GTT cancelled: {{side}} {{quantity}} {{symbol}}",
  text: `GTT cancelled: {{side}} {{quantity}} {{symbol}} ({{product}})\n{{legs}}${textFooter}`,
  html: wrap("<p>🚫 <b>GTT cancelled</b>: {{side}} {{quantity}} <b>{{symbol}}</b> ({{product}})<br>{{legs}}</p>"),
} as const;

/** The GTT ran out of time with legs that never triggered. */
export const gttExpired = {
  telegram: `⌛ <b>GTT expired</b>: {{side}} {{quantity}} <b>{{symbol}}</b> ({{product}})\n{{expiredLegs}} did not trigger{{#expiry}} by {{expiry}} IST{{/expiry}}.{{#afterEntry}}\n{{afterEntry}}{{/afterEntry}}${telegramFooter}`,
  subject: "GTT expired: {{side}} {{quantity}} {{symbol}}",
  text: `GTT expired: {{side}} {{quantity}} {{symbol}} ({{product}})\n{{expiredLegs}} did not trigger{{#expiry}} by {{expiry}} IST{{/expiry}}.{{#afterEntry}}\n{{afterEntry}}{{/afterEntry}}${textFooter}`,
  html: wrap(
    "<p>⌛ <b>GTT expired</b>: {{side}} {{quantity}} <b>{{symbol}}</b> ({{product}})<br>{{expiredLegs}} did not trigger{{#expiry}} by {{expiry}} IST{{/expiry}}.{{#afterEntry}}<br>{{afterEntry}}{{/afterEntry}}</p>",
  ),
} as const;
