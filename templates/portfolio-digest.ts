/**
 * Morning ("before open") and evening ("after close") portfolio digest. Lists are
 * {{#holdings}}…{{/holdings}} sections repeated per item; Telegram gets tgHoldings and
 * tgPositions, which render cuts short (tgHoldingsMore / tgPositionsMore say how many were
 * left out) so the message stays under Telegram's 4,096 characters. Email lists everything.
 */
export const portfolioDigest = {
  telegram:
    "{{emoji}} <b>Portfolio {{title}}</b> · {{date}}\n" +
    "{{dayPnlLabel}}: <b>{{dayPnl}}</b>\n\n" +
    "<b>Holdings</b>{{#holdingsCount}} ({{holdingsCount}}){{/holdingsCount}}" +
    "{{#tgHoldings}}\n• <b>{{symbol}}</b> ×{{quantity}} at ₹{{lastPrice}} · P&amp;L {{pnl}} · {{dayLabel}} {{dayChange}}{{#dayChangePct}} ({{dayChangePct}}){{/dayChangePct}}{{/tgHoldings}}" +
    "{{#tgHoldingsMore}}\n…and {{tgHoldingsMore}} more (/portfolio lists them all){{/tgHoldingsMore}}" +
    "{{^holdings}}\nNo holdings.{{/holdings}}" +
    "{{#positionsCount}}\n\n<b>Positions</b> ({{positionsCount}}){{/positionsCount}}" +
    "{{#tgPositions}}\n• <b>{{symbol}}</b> {{side}} · {{product}} · P&amp;L {{pnl}}{{/tgPositions}}" +
    "{{#tgPositionsMore}}\n…and {{tgPositionsMore}} more{{/tgPositionsMore}}" +
    "\n\nValue: <b>₹{{totalValue}}</b> · Total P&amp;L: <b>{{totalPnl}}</b>",
  subject: "Portfolio {{title}} · {{date}} · {{dayPnlLabel}} {{dayPnl}}",
  text:
    "Portfolio {{title}} · {{date}}\n" +
    "{{dayPnlLabel}}: {{dayPnl}}\n\n" +
    "Holdings{{#holdingsCount}} ({{holdingsCount}}){{/holdingsCount}}\n" +
    "{{#holdings}}- {{symbol}} ×{{quantity}} · avg ₹{{averagePrice}} · last ₹{{lastPrice}} · P&L {{pnl}} · {{dayLabel}} {{dayChange}}{{#dayChangePct}} ({{dayChangePct}}){{/dayChangePct}}\n{{/holdings}}" +
    "{{^holdings}}No holdings.\n{{/holdings}}" +
    "{{#positionsCount}}\nPositions ({{positionsCount}})\n{{/positionsCount}}" +
    "{{#positions}}- {{symbol}} {{side}} · {{product}} · P&L {{pnl}}\n{{/positions}}" +
    "\nValue: ₹{{totalValue}}\nTotal P&L: {{totalPnl}}\n\n" +
    "You get this because portfolio alerts are on. Change them with /settings in the bot.\n" +
    "{{#unsubscribeUrl}}Unsubscribe: {{unsubscribeUrl}}\n{{/unsubscribeUrl}}",
  html:
    '<div style="font-family:system-ui,sans-serif;font-size:15px">' +
    "<p>{{emoji}} <b>Portfolio {{title}}</b> · {{date}}<br>{{dayPnlLabel}}: <b>{{dayPnl}}</b></p>" +
    '<h3 style="font-size:15px;margin:16px 0 4px">Holdings{{#holdingsCount}} ({{holdingsCount}}){{/holdingsCount}}</h3>' +
    "{{^holdings}}<p>No holdings.</p>{{/holdings}}" +
    '{{#holdingsCount}}<table cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-size:14px">' +
    '<thead><tr style="border-bottom:1px solid #ccc;text-align:right"><th style="text-align:left">Symbol</th><th>Qty</th><th>Avg</th><th>Last</th><th>P&amp;L</th><th>{{dayLabelCap}}</th></tr></thead>' +
    "<tbody>{{/holdingsCount}}" +
    '{{#holdings}}<tr style="border-bottom:1px solid #eee;text-align:right"><td style="text-align:left"><b>{{symbol}}</b></td><td>{{quantity}}</td><td>₹{{averagePrice}}</td><td>₹{{lastPrice}}</td><td>{{pnl}}</td><td>{{dayChange}}{{#dayChangePct}}<br><small>{{dayChangePct}}</small>{{/dayChangePct}}</td></tr>{{/holdings}}' +
    "{{#holdingsCount}}</tbody></table>{{/holdingsCount}}" +
    '{{#positionsCount}}<h3 style="font-size:15px;margin:16px 0 4px">Positions ({{positionsCount}})</h3>' +
    '<table cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-size:14px">' +
    '<thead><tr style="border-bottom:1px solid #ccc;text-align:right"><th style="text-align:left">Symbol</th><th style="text-align:left">Product</th><th>Qty</th><th>P&amp;L</th></tr></thead>' +
    "<tbody>{{/positionsCount}}" +
    '{{#positions}}<tr style="border-bottom:1px solid #eee;text-align:right"><td style="text-align:left"><b>{{symbol}}</b></td><td style="text-align:left">{{product}}</td><td>{{side}}</td><td>{{pnl}}</td></tr>{{/positions}}' +
    "{{#positionsCount}}</tbody></table>{{/positionsCount}}" +
    "<p>Value: <b>₹{{totalValue}}</b><br>Total P&amp;L: <b>{{totalPnl}}</b></p>" +
    '<p style="color:#666;font-size:12px">You get this because portfolio alerts are on. Change them with /settings in the bot.' +
    '{{#unsubscribeUrl}}<br><a href="{{unsubscribeUrl}}" style="color:#666">Unsubscribe from these emails</a>{{/unsubscribeUrl}}</p></div>',
} as const;
