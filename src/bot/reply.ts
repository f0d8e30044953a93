import { InlineKeyboard } from "grammy";
import { escapeHtml } from "../format/html.js";
import { splitMessage } from "../format/telegram.js";
import { usageOf, usageParts } from "./commands.js";
import type { BotContext } from "./context.js";

/** Sends HTML, split under Telegram's limit; buttons go on the last part. */
export async function replyHtml(ctx: BotContext, html: string, keyboard?: InlineKeyboard): Promise<void> {
  const parts = splitMessage(html);
  for (let i = 0; i < parts.length; i++) {
    await ctx.reply(parts[i]!, {
      parse_mode: "HTML",
      link_preview_options: { is_disabled: true },
      ...(keyboard && i === parts.length - 1 ? { reply_markup: keyboard } : {}),
    });
  }
}

/** The answer to a malformed command: what was wrong, and the command's usage (one line per form). */
export async function replyUsage(ctx: BotContext, command: string, problem?: string): Promise<void> {
  const why = problem ? `⚠️ ${escapeHtml(problem)}\n` : "";
  const { forms, note } = usageParts(command);
  if (forms.length === 1) return replyHtml(ctx, `${why}Usage: <code>${escapeHtml(usageOf(command))}</code>`);
  const lines = forms.map((f) => `<code>${escapeHtml(f)}</code>`);
  if (note) lines.push(`<i>${escapeHtml(note)}</i>`);
  await replyHtml(ctx, `${why}Usage:\n${lines.join("\n")}`);
}

export { InlineKeyboard };
