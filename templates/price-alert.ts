/**
 * A price rule fired. Placeholders are {{name}}; src/notify/render escapes every value for
 * the HTML variants, so templates stay plain text with markup.
 */
export const priceAlert = {
  telegram: "🔔 <b>{{symbol}}</b> {{headline}}\nLast price: <b>₹{{price}}</b> ({{changePct}} today)\n<i>{{time}} IST</i>{{pausedNote}}",
  subject: "{{symbol}} {{headline}} (₹{{price}})",
  text: "{{symbol}} {{headline}}\nLast price: Rs {{price}} ({{changePct}} today)\nTime: {{time}} IST{{pausedNote}}\n\nYou get this because of an alert you set. Manage alerts with /alerts in the bot.\n{{#unsubscribeUrl}}Unsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>🔔 <b>{{symbol}}</b> {{headline}}</p>" +
    "<p>Last price: <b>₹{{price}}</b> ({{changePct}} today)<br><small>{{time}} IST</small>{{pausedNote}}</p>" +
    '<p style="color:#666;font-size:12px">You get this because of an alert you set. Manage alerts with /alerts in the bot.' +
    '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>',
} as const;
