/**
 * One of the trader's alerts was paused for a reason other than the runaway guard (which
 * says so inside the alert itself). {{description}} is why.
 */
export const rulePaused = {
  telegram: "⏸ <b>Alert #{{ruleId}}</b> on <b>{{symbol}}</b> was paused: {{description}}\nUse /alerts to see or resume it.",
  subject: "Alert #{{ruleId}} on {{symbol}} was paused",
  text:
    "Alert #{{ruleId}} on {{symbol}} was paused: {{description}}\nUse /alerts in the bot to see or resume it.\n" +
    "{{#unsubscribeUrl}}\nUnsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>⏸ <b>Alert #{{ruleId}}</b> on <b>{{symbol}}</b> was paused: {{description}}</p>" +
    "<p>Use <b>/alerts</b> in the bot to see or resume it.</p>" +
    '{{#unsubscribeUrl}}<p style="color:#666;font-size:12px"><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a></p>{{/unsubscribeUrl}}</div>',
} as const;
