/** A stock the trader holds moved more than their threshold today. {{dayChange}} is signed, for the whole holding. */
export const holdingMove = {
  telegram:
    "{{emoji}} <b>{{symbol}}</b> (you hold {{quantity}}) is {{direction}} {{changePct}}% today at <b>₹{{lastPrice}}</b> ({{dayChange}})\n" +
    "Previous close ₹{{closePrice}}. You asked to hear about moves of {{thresholdPct}}% or more.",
  subject: "{{symbol}} is {{direction}} {{changePct}}% today at ₹{{lastPrice}} ({{dayChange}})",
  text:
    "{{symbol}} (you hold {{quantity}}) is {{direction}} {{changePct}}% today at ₹{{lastPrice}} ({{dayChange}})\n" +
    "Previous close ₹{{closePrice}}. You asked to hear about moves of {{thresholdPct}}% or more.\n\n" +
    "You get this because portfolio alerts are on. Change them with /settings in the bot.\n" +
    "{{#unsubscribeUrl}}Unsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>{{emoji}} <b>{{symbol}}</b> (you hold {{quantity}}) is {{direction}} {{changePct}}% today at <b>₹{{lastPrice}}</b> ({{dayChange}})</p>" +
    "<p>Previous close ₹{{closePrice}}. You asked to hear about moves of {{thresholdPct}}% or more.</p>" +
    '<p style="color:#666;font-size:12px">You get this because portfolio alerts are on. Change them with /settings in the bot.' +
    '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>',
} as const;
