/** A message from the bot's admin to every user. {{text}} is the admin's own words. */
export const broadcast = {
  telegram: "📣 <b>Message from the admin</b>\n{{text}}",
  subject: "Message from the Upstox alert bot admin",
  text: "{{text}}\n",
  html: '<div style="font-family:system-ui,sans-serif;font-size:15px"><p>📣 <b>Message from the admin</b></p><p style="white-space:pre-wrap">{{text}}</p></div>',
} as const;
