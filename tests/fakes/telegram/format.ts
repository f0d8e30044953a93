/**
 * Text formatting as the Bot API applies it: parse_mode HTML / MarkdownV2 / Markdown turned
 * into plain text + entities, with the errors (and their wording) of tdlib's parse_html /
 * parse_markdown_v2 / parse_markdown, which is what api.telegram.org runs. Offsets and lengths
 * of entities are in UTF-16 code units, like Telegram's; byte offsets in errors are UTF-8.
 */
import { badRequest, type TelegramApiError } from "./errors.js";

export interface MessageEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

export interface FormattedText {
  text: string;
  entities: MessageEntity[];
}

export const TEXT_MAX = 4096;
export const CAPTION_MAX = 1024;

const parseError = (why: string): TelegramApiError => badRequest(`can't parse entities: ${why}`);

const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\0" || c === "\v";
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);
const isAlpha = (c: string | undefined): boolean => c !== undefined && /^[a-zA-Z]$/.test(c);
const isAlnum = (c: string | undefined): boolean => isAlpha(c) || isDigit(c);

/** UTF-8 byte offset of UTF-16 index `i` in `s` (tdlib reports byte offsets). */
const byteOffset = (s: string, i: number): number => Buffer.byteLength(s.slice(0, i), "utf8");

/** Length in Unicode code points: what "4096 characters" counts (tdlib's utf8_length). */
export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

// --- HTML ------------------------------------------------------------------------------

const HTML_TAGS = new Set(["a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"]);

/** tdlib's decode_html_entity: &lt; &gt; &amp; &quot; and numeric references, ';' optional. */
function decodeEntity(text: string, pos: number): { ch: string; next: number } | undefined {
  if (text[pos] !== "&") return undefined;
  let end = pos + 1;
  let code = 0;
  if (text[pos + 1] === "#") {
    end++;
    if (text[pos + 2] === "x") {
      end++;
      while (isHex(text[end])) code = code * 16 + parseInt(text[end++]!, 16);
    } else {
      while (isDigit(text[end])) code = code * 10 + Number(text[end++]);
    }
    if (code === 0 || code >= 0x10ffff || end - pos >= 10) return undefined;
    if (code >= 0xd800 && code <= 0xdfff) return undefined;
  } else {
    while (isAlpha(text[end])) end++;
    const name = text.slice(pos + 1, end);
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };
    const ch = named[name];
    if (ch === undefined) return undefined;
    code = ch.codePointAt(0)!;
  }
  return { ch: String.fromCodePoint(code), next: text[end] === ";" ? end + 1 : end };
}

interface OpenTag {
  tag: string;
  start: number; // offset in the output (UTF-16)
  url?: string;
  language?: string;
  spoilerClass?: string;
  emojiId?: string;
  expandable?: boolean;
  innerLanguage?: string;
}

export function parseHtml(text: string): FormattedText {
  const out: string[] = [];
  let outLen = 0;
  const entities: MessageEntity[] = [];
  const open: OpenTag[] = [];
  const n = text.length;
  let i = 0;
  const push = (s: string) => {
    out.push(s);
    outLen += s.length;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === "&") {
      const e = decodeEntity(text, i);
      if (e) {
        push(e.ch);
        i = e.next;
        continue;
      }
    }
    if (c !== "<") {
      push(c);
      i++;
      continue;
    }
    const begin = i++;
    if (text[i] !== "/") {
      // a start tag
      while (i < n && !isSpace(text[i]) && text[i] !== ">") i++;
      if (i >= n) throw parseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`);
      const tag = text.slice(begin + 1, i).toLowerCase();
      if (!HTML_TAGS.has(tag)) throw parseError(`Unsupported start tag "${tag}" at byte offset ${byteOffset(text, begin)}`);
      const t: OpenTag = { tag, start: outLen };
      while (text[i] !== ">") {
        while (i < n && isSpace(text[i])) i++;
        if (i >= n) throw parseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`);
        if (text[i] === ">") break;
        const nameStart = i;
        while (i < n && !isSpace(text[i]) && text[i] !== "=" && text[i] !== ">") i++;
        const name = text.slice(nameStart, i).toLowerCase();
        if (name === "") throw parseError(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(text, begin)}`);
        while (i < n && isSpace(text[i])) i++;
        if (text[i] !== "=") {
          if (tag === "blockquote" && name === "expandable") {
            t.expandable = true;
            continue;
          }
          if (i >= n) throw parseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`);
          throw parseError(`Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteOffset(text, begin)}`);
        }
        i++;
        while (i < n && isSpace(text[i])) i++;
        if (i >= n) throw parseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`);
        let value = "";
        if (text[i] !== "'" && text[i] !== '"') {
          // a name token: letters, digits, periods, hyphens
          const tokenStart = i;
          while (isAlnum(text[i]) || text[i] === "." || text[i] === "-") i++;
          value = text.slice(tokenStart, i).toLowerCase();
          if (i < n && !isSpace(text[i]) && text[i] !== ">") throw parseError(`Unexpected end of name token at byte offset ${byteOffset(text, tokenStart)}`);
        } else {
          const quote = text[i++]!;
          while (i < n && text[i] !== quote) {
            const e = text[i] === "&" ? decodeEntity(text, i) : undefined;
            if (e) {
              value += e.ch;
              i = e.next;
            } else value += text[i++];
          }
          if (text[i] === quote) i++;
        }
        if (i >= n) throw parseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`);
        if (tag === "a" && name === "href") t.url = value;
        else if (tag === "code" && name === "class" && value.startsWith("language-")) t.language = value.slice("language-".length);
        else if (tag === "span" && name === "class" && value.startsWith("tg-")) t.spoilerClass = value.slice(3);
        else if (tag === "tg-emoji" && name === "emoji-id") t.emojiId = value;
        else if (tag === "blockquote" && name === "expandable") t.expandable = true;
        // other attributes are ignored, as Telegram does
      }
      if (tag === "span" && t.spoilerClass !== "spoiler") throw parseError(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(text, begin)}`);
      open.push(t);
      i++; // '>'
    } else {
      // an end tag
      if (open.length === 0) throw parseError(`Unexpected end tag at byte offset ${byteOffset(text, begin)}`);
      i++;
      while (i < n && !isSpace(text[i]) && text[i] !== ">") i++;
      const endName = text.slice(begin + 2, i).toLowerCase();
      while (i < n && isSpace(text[i])) i++;
      if (text[i] !== ">") throw parseError(`Unclosed end tag at byte offset ${byteOffset(text, begin)}`);
      const t = open[open.length - 1]!;
      if (endName !== "" && endName !== t.tag) {
        throw parseError(`Unmatched end tag at byte offset ${byteOffset(text, begin)}, expected "</${t.tag}>", found "</${endName}>"`);
      }
      open.pop();
      i++;
      const length = outLen - t.start;
      const parent = open[open.length - 1];
      if (t.tag === "tg-emoji" && !/^[1-9]\d*$/.test(t.emojiId ?? "")) throw badRequest("can't parse entities: Invalid custom emoji identifier specified");
      if (t.tag === "code" && parent?.tag === "pre" && parent.start === t.start) {
        // <pre><code class="language-x">: one pre entity with a language
        if (t.language) parent.innerLanguage = t.language;
        continue;
      }
      if (length === 0) continue;
      const e: MessageEntity = { type: "", offset: t.start, length };
      switch (t.tag) {
        case "b":
        case "strong":
          e.type = "bold";
          break;
        case "i":
        case "em":
          e.type = "italic";
          break;
        case "u":
        case "ins":
          e.type = "underline";
          break;
        case "s":
        case "strike":
        case "del":
          e.type = "strikethrough";
          break;
        case "tg-spoiler":
        case "span":
          e.type = "spoiler";
          break;
        case "code":
          e.type = "code";
          break;
        case "pre":
          e.type = "pre";
          if (t.innerLanguage) e.language = t.innerLanguage;
          break;
        case "blockquote":
          e.type = t.expandable ? "expandable_blockquote" : "blockquote";
          break;
        case "tg-emoji":
          e.type = "custom_emoji";
          e.custom_emoji_id = t.emojiId!;
          break;
        case "a": {
          const url = t.url ?? out.join("").slice(t.start);
          if (!url) continue;
          e.type = "text_link";
          e.url = url;
          break;
        }
      }
      entities.push(e);
    }
  }
  if (open.length > 0) throw parseError(`Can't find end tag corresponding to start tag "${open[open.length - 1]!.tag}"`);
  return { text: out.join(""), entities: sortEntities(entities) };
}

// --- MarkdownV2 --------------------------------------------------------------------------

type MdType = "Bold" | "Italic" | "Underline" | "Strikethrough" | "Spoiler" | "Code" | "Pre" | "PreCode" | "TextUrl" | "CustomEmoji";

const MD_ENTITY: Record<MdType, string> = {
  Bold: "bold",
  Italic: "italic",
  Underline: "underline",
  Strikethrough: "strikethrough",
  Spoiler: "spoiler",
  Code: "code",
  Pre: "pre",
  PreCode: "pre",
  TextUrl: "text_link",
  CustomEmoji: "custom_emoji",
};

/**
 * tdlib's parse_markdown_v2, including "Character 'X' is reserved and must be escaped with
 * the preceding '\'" and "Can't find end of Bold entity at byte offset N". Block quotes ('>'
 * at a line start) are accepted and turned into a blockquote entity per run of quoted lines.
 */
export function parseMarkdownV2(text: string): FormattedText {
  let out = "";
  const entities: MessageEntity[] = [];
  const open: Array<{ type: MdType; start: number; byte: number; arg: string }> = [];
  let quoteStart = -1;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    const inCode = open.length > 0 && ["Code", "Pre", "PreCode"].includes(open[open.length - 1]!.type);
    const lineStart = i === 0 || text[i - 1] === "\n";
    if (lineStart && !inCode) {
      if (c === ">" || (c === "*" && text[i + 1] === "*" && text[i + 2] === ">")) {
        if (quoteStart < 0) quoteStart = out.length;
        if (c === "*") i += 2;
        continue;
      }
      if (quoteStart >= 0 && i > 0) {
        // the quote ended on the previous line (without its trailing newline)
        const end = out.endsWith("\n") ? out.length - 1 : out.length;
        if (end > quoteStart) entities.push({ type: "blockquote", offset: quoteStart, length: end - quoteStart });
        quoteStart = -1;
      }
    }
    if (c === "\\" && i + 1 < n && text.charCodeAt(i + 1) > 0 && text.charCodeAt(i + 1) <= 126) {
      out += text[++i];
      continue;
    }
    const reserved = inCode ? "`" : "_*[]()~`>#+-=|{}.!";
    if (!reserved.includes(c)) {
      out += c;
      continue;
    }
    const top = open[open.length - 1];
    let isEnd = false;
    if (top) {
      switch (top.type) {
        case "Bold":
          isEnd = c === "*";
          break;
        case "Italic":
          isEnd = c === "_" && text[i + 1] !== "_";
          break;
        case "Code":
          isEnd = c === "`";
          break;
        case "Pre":
        case "PreCode":
          isEnd = c === "`" && text[i + 1] === "`" && text[i + 2] === "`";
          break;
        case "TextUrl":
        case "CustomEmoji":
          isEnd = c === "]";
          break;
        case "Underline":
          isEnd = c === "_" && text[i + 1] === "_";
          break;
        case "Strikethrough":
          isEnd = c === "~";
          break;
        case "Spoiler":
          isEnd = c === "|" && text[i + 1] === "|";
          break;
      }
    }
    const reservedError = () => parseError(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
    if (!isEnd) {
      const byte = byteOffset(text, i);
      let type: MdType;
      let arg = "";
      switch (c) {
        case "_":
          if (text[i + 1] === "_") {
            type = "Underline";
            i++;
          } else type = "Italic";
          break;
        case "*":
          type = "Bold";
          break;
        case "~":
          type = "Strikethrough";
          break;
        case "|":
          if (text[i + 1] !== "|") throw reservedError();
          i++;
          type = "Spoiler";
          break;
        case "[":
          type = "TextUrl";
          break;
        case "`":
          if (text[i + 1] === "`" && text[i + 2] === "`") {
            i += 3;
            type = "Pre";
            let langEnd = i;
            while (langEnd < n && !isSpace(text[langEnd]) && text[langEnd] !== "`") langEnd++;
            if (i !== langEnd && langEnd < n && text[langEnd] !== "`") {
              type = "PreCode";
              arg = text.slice(i, langEnd);
              i = langEnd;
            }
            if (text[i] === "\n" || text[i] === "\r") {
              if ((text[i + 1] === "\n" || text[i + 1] === "\r") && text[i] !== text[i + 1]) i += 2;
              else i++;
            }
            i--;
          } else type = "Code";
          break;
        case "!":
          if (text[i + 1] === "[") {
            i++;
            type = "CustomEmoji";
            break;
          }
          throw reservedError();
        default:
          throw reservedError();
      }
      open.push({ type, start: out.length, byte, arg });
      continue;
    }
    const t = open.pop()!;
    const e: MessageEntity = { type: MD_ENTITY[t.type], offset: t.start, length: out.length - t.start };
    switch (t.type) {
      case "Underline":
      case "Spoiler":
        i++;
        break;
      case "Pre":
      case "PreCode":
        i += 2;
        if (t.type === "PreCode") e.language = t.arg;
        break;
      case "TextUrl": {
        let url = "";
        if (text[i + 1] !== "(") url = out.slice(t.start);
        else {
          i += 2;
          const urlBegin = i;
          while (i < n && text[i] !== ")") {
            if (text[i] === "\\" && i + 1 < n && text.charCodeAt(i + 1) > 0 && text.charCodeAt(i + 1) <= 126) {
              url += text[i + 1];
              i += 2;
              continue;
            }
            url += text[i++];
          }
          if (text[i] !== ")") throw parseError(`Can't find end of a URL at byte offset ${byteOffset(text, urlBegin)}`);
        }
        e.url = url;
        break;
      }
      case "CustomEmoji": {
        if (text[i + 1] !== "(") throw parseError("Custom emoji entity must contain a tg://emoji URL");
        i += 2;
        const urlBegin = i;
        let url = "";
        while (i < n && text[i] !== ")") url += text[i++];
        if (text[i] !== ")") throw parseError(`Can't find end of a custom emoji URL at byte offset ${byteOffset(text, urlBegin)}`);
        const id = /^tg:\/\/emoji\?id=([1-9]\d*)$/.exec(url)?.[1];
        if (!id) throw parseError("Invalid custom emoji URL specified");
        e.custom_emoji_id = id;
        break;
      }
    }
    if (e.length > 0 && (e.type !== "text_link" || e.url)) entities.push(e);
  }
  if (open.length > 0) {
    const t = open[open.length - 1]!;
    throw parseError(`Can't find end of ${t.type} entity at byte offset ${t.byte}`);
  }
  if (quoteStart >= 0 && out.length > quoteStart) entities.push({ type: "blockquote", offset: quoteStart, length: out.length - quoteStart });
  return { text: out, entities: sortEntities(entities) };
}

// --- legacy Markdown -----------------------------------------------------------------------

/** tdlib's parse_markdown (v1): *bold* _italic_ `code` ```pre``` [text](url); no nesting. */
export function parseMarkdown(text: string): FormattedText {
  let out = "";
  const entities: MessageEntity[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    if (c === "\\" && "_*`[".includes(text[i + 1] ?? "\0")) {
      out += text[++i];
      continue;
    }
    if (!"_*`[".includes(c)) {
      out += c;
      continue;
    }
    const beginByte = byteOffset(text, i);
    const endChar = c === "[" ? "]" : c;
    let language = "";
    let isPre = false;
    if (c === "`" && text[i + 1] === "`" && text[i + 2] === "`") {
      i += 3;
      isPre = true;
      let langEnd = i;
      while (langEnd < n && !isSpace(text[langEnd]) && text[langEnd] !== "`") langEnd++;
      if (i !== langEnd && langEnd < n && text[langEnd] !== "`") {
        language = text.slice(i, langEnd);
        i = langEnd;
      }
      if (text[i] === "\n" || text[i] === "\r") i++;
    } else i++;
    const start = out.length;
    while (i < n && (text[i] !== endChar || (isPre && !(text[i + 1] === "`" && text[i + 2] === "`")))) {
      if (text[i] === "\\" && (text[i + 1] === endChar || (endChar === "]" && text[i + 1] === "]"))) i++;
      out += text[i++];
    }
    if (i >= n) throw parseError(`Can't find end of the entity starting at byte offset ${beginByte}`);
    if (isPre) i += 2;
    const length = out.length - start;
    if (c === "[") {
      let url = "";
      if (text[i + 1] === "(") {
        i += 2;
        while (i < n && text[i] !== ")") url += text[i++];
        if (i >= n) throw parseError(`Can't find end of a URL at byte offset ${beginByte}`);
      }
      if (length > 0 && url) entities.push({ type: "text_link", offset: start, length, url });
      continue;
    }
    if (length === 0) continue;
    const type = isPre ? "pre" : c === "*" ? "bold" : c === "_" ? "italic" : "code";
    entities.push({ type, offset: start, length, ...(language ? { language } : {}) });
  }
  return { text: out, entities: sortEntities(entities) };
}

// --- the whole pipeline -----------------------------------------------------------------

function sortEntities(entities: MessageEntity[]): MessageEntity[] {
  return entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
}

/** Telegram trims leading and trailing white space (entities shift and clip with it). */
function trim(f: FormattedText): FormattedText {
  const lead = f.text.length - f.text.trimStart().length;
  const text = f.text.trim();
  const entities: MessageEntity[] = [];
  for (const e of f.entities) {
    const start = Math.max(0, e.offset - lead);
    const end = Math.min(text.length, e.offset + e.length - lead);
    if (end > start) entities.push({ ...e, offset: start, length: end - start });
  }
  return { text, entities };
}

/**
 * Applies parse_mode (or passes explicit entities through) and validates the result.
 * `kind` picks the limit and the error wording: message text (1-4096) or caption (0-1024).
 */
export function formatText(raw: unknown, parseMode: unknown, kind: "text" | "caption", explicitEntities?: unknown): FormattedText {
  if (raw === undefined || raw === null) {
    if (kind === "text") throw badRequest("message text is empty");
    return { text: "", entities: [] };
  }
  const text = String(raw);
  let f: FormattedText;
  const mode = parseMode === undefined || parseMode === null || parseMode === "" ? undefined : String(parseMode);
  if (mode === undefined) {
    f = { text, entities: Array.isArray(explicitEntities) ? (explicitEntities as MessageEntity[]) : [] };
  } else if (mode.toLowerCase() === "html") f = parseHtml(text);
  else if (mode.toLowerCase() === "markdownv2") f = parseMarkdownV2(text);
  else if (mode.toLowerCase() === "markdown") f = parseMarkdown(text);
  else throw badRequest(`unsupported parse_mode`);
  f = trim(f);
  if (kind === "text") {
    if (f.text.length === 0) throw badRequest("message text is empty");
    if (codePoints(f.text) > TEXT_MAX) throw badRequest("message is too long");
  } else if (codePoints(f.text) > CAPTION_MAX) throw badRequest("message caption is too long");
  return f;
}
