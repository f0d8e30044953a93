/**
 * A candle (indicator) rule fired on a closed candle (one minute, or the rule's timeframe):
 * what crossed, the values that made it fire, and which candle.
 */
export const indicatorAlert = {
  telegram: "📈 <b>{{symbol}}</b> {{headline}}\n{{valuesLine}}\nClose: <b>₹{{price}}</b> ({{barName}} candle of {{candleTime}} IST){{pausedNote}}",
  subject: "{{symbol}}: {{headline}}",
  text: "{{symbol}} {{headline}}\n{{valuesLine}}\nClose: Rs {{price}} ({{barName}} candle of {{candleTime}} IST){{pausedNote}}\n\nYou get this because of an alert you set. Manage alerts with /alerts in the bot.\n{{#unsubscribeUrl}}Unsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>📈 <b>{{symbol}}</b> {{headline}}</p>" +
    "<p>{{valuesLine}}<br>Close: <b>₹{{price}}</b> <small>({{barName}} candle of {{candleTime}} IST)</small>{{pausedNote}}</p>" +
    '<p style="color:#666;font-size:12px">You get this because of an alert you set. Manage alerts with /alerts in the bot.' +
    '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>',
} as const;
