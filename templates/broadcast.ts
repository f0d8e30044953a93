/** A message from the bot's admin to every user. {{text}} is the admin's own words. */
export const broadcast = {
  telegram: "📣 <b>Message from the admin</b>\n{{text}}",
  subject: "Message from the Upstox alert bot admin",
  text: "{{text}}\n{{#unsubscribeUrl}}\nUnsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px"><p>📣 <b>Message from the admin</b></p><p style="white-space:pre-wrap">{{text}}</p>' +
    '{{#unsubscribeUrl}}<p style="color:#666;font-size:12px"><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a></p>{{/unsubscribeUrl}}</div>',
} as const;
