/**
 * Morning reminder (before 09:15 IST) to a trader whose Upstox login ended at 03:30.
 * {{loginUrl}} is "" when there is no link to give; the message then says to send /login.
 */
export const tokenExpiring = {
  telegram:
    "🔑 <b>Good morning</b> — log in to Upstox before the market opens at 9:15 so your portfolio and order alerts keep working.\n" +
    '{{#loginUrl}}<a href="{{loginUrl}}">Log in to Upstox</a>{{/loginUrl}}{{^loginUrl}}Send /login to link your account.{{/loginUrl}}\n' +
    "<i>Your last login ended at {{expiredAt}} IST.</i>",
  subject: "Log in to Upstox before 9:15 to keep your alerts working",
  text:
    "Good morning — log in to Upstox before the market opens at 9:15 so your portfolio and order alerts keep working.\n\n" +
    "{{#loginUrl}}Log in here: {{loginUrl}}\n{{/loginUrl}}{{^loginUrl}}Send /login to the bot to link your account.\n{{/loginUrl}}" +
    "Your last login ended at {{expiredAt}} IST (Upstox ends every login at 3:30 AM).\n" +
    "{{#unsubscribeUrl}}\nUnsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>🔑 <b>Good morning</b> — log in to Upstox before the market opens at 9:15 so your portfolio and order alerts keep working.</p>" +
    '{{#loginUrl}}<p><a href="{{loginUrl}}" style="font-weight:bold">Log in to Upstox</a></p>{{/loginUrl}}' +
    "{{^loginUrl}}<p>Send <b>/login</b> to the bot to link your account.</p>{{/loginUrl}}" +
    '<p style="color:#666;font-size:12px">Your last login ended at {{expiredAt}} IST (Upstox ends every login at 3:30 AM).' +
    '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>',
} as const;
