/** Upstox refused a user's token (every login ends at 03:30 IST, or the user revoked it). */
export const tokenExpired = {
  telegram:
    "🔑 <b>Your Upstox login has expired</b>\nUpstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.\nSend /login to link your account.",
  subject: "Your Upstox login has expired",
  text: "Your Upstox login has expired.\n\nUpstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.\nSend /login to the bot to link your account.\n{{#unsubscribeUrl}}\nUnsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>🔑 <b>Your Upstox login has expired</b></p>" +
    "<p>Upstox ends every login at 3:30 AM IST. Alerts that need your account (portfolio, orders) are paused until you log in again.</p>" +
    "<p>Send <b>/login</b> to the bot to link your account.</p>" +
    '{{#unsubscribeUrl}}<p style="color:#666;font-size:12px"><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a></p>{{/unsubscribeUrl}}</div>',
} as const;
