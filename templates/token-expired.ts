/**
 * Upstox refused a user's token. Usually the daily 03:30 IST expiry; {{reason}} is Upstox's
 * own message when the refusal was something else (revoked, invalid), and "" otherwise.
 */
export const tokenExpired = {
  telegram:
    "🔑 {{^reason}}<b>Your Upstox login has expired</b>\nUpstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.\nSend /login to link your account.{{/reason}}" +
    "{{#reason}}Upstox refused your login: {{reason}}. Use /login to link again.\nAlerts that need your account (portfolio, orders) are paused until you do.{{/reason}}",
  subject: "{{^reason}}Your Upstox login has expired{{/reason}}{{#reason}}Upstox refused your login{{/reason}}",
  text:
    "{{^reason}}Your Upstox login has expired.\n\nUpstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.\nSend /login to the bot to link your account.\n{{/reason}}" +
    "{{#reason}}Upstox refused your login: {{reason}}. Use /login to link again.\n\nAlerts that need your account (portfolio, orders) are paused until you do.\n{{/reason}}" +
    "{{#unsubscribeUrl}}\nUnsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "{{^reason}}<p>🔑 <b>Your Upstox login has expired</b></p>" +
    "<p>Upstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.</p>" +
    "<p>Send <b>/login</b> to the bot to link your account.</p>{{/reason}}" +
    "{{#reason}}<p>🔑 Upstox refused your login: {{reason}}. Use /login to link again.</p>" +
    "<p>Alerts that need your account (portfolio, orders) are paused until you do.</p>{{/reason}}" +
    '{{#unsubscribeUrl}}<p style="color:#666;font-size:12px"><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a></p>{{/unsubscribeUrl}}</div>',
} as const;
