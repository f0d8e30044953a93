import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { BLOCKED, badRequest, GETUPDATES_CONFLICT, METHOD_NOT_FOUND, TelegramApiError, tooManyRequests, UNAUTHORIZED, WEBHOOK_ACTIVE } from "./errors.js";
import { FloodLimiter, type FloodLimitOptions } from "./flood.js";
import { formatText, type FormattedText, type MessageEntity } from "./format.js";
import { boundaryOf, MultipartError, parseMultipart, type FormPart } from "./multipart.js";

export const DEFAULT_TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz";
export const DEFAULT_BOT_USERNAME = "test_alert_bot";

/** Largest request body accepted (Telegram: 50 MB uploads). */
const MAX_BODY = 52 * 1024 * 1024;
const MAX_DOCUMENT = 50 * 1024 * 1024;
const MAX_PHOTO = 10 * 1024 * 1024;

/** Update types Telegram sends when allowed_updates is empty or was never set. */
const NOT_BY_DEFAULT = new Set(["chat_member", "message_reaction", "message_reaction_count"]);

const CHAT_ACTIONS = new Set([
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
]);

const SCOPE_TYPES = new Set(["default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat", "chat_administrators", "chat_member"]);

export interface TelegramUserInput {
  id: number;
  username?: string;
  first_name?: string;
  last_name?: string;
  language_code?: string;
}

export interface SentFile {
  filename: string;
  bytes: number;
  content: Buffer;
  mimeType: string | undefined;
  /** The file_id Telegram returned (reusable in a later send). */
  fileId: string;
  /** Set when the file was given as an HTTP URL (nothing was downloaded: bytes 0). */
  url?: string;
}

export interface SentMessage {
  /** sendMessage | sendDocument | sendPhoto | editMessageText */
  method: string;
  chatId: number;
  /** The message sent, or for editMessageText the message edited. */
  messageId: number;
  /**
   * The text as Telegram stores and shows it: parse_mode applied, tags and escapes gone,
   * trimmed (Message.text). The parameter exactly as sent is `rawText`.
   */
  text?: string;
  rawText?: string;
  entities?: MessageEntity[];
  caption?: string;
  rawCaption?: string;
  captionEntities?: MessageEntity[];
  parseMode?: string;
  replyMarkup?: unknown;
  document?: SentFile;
  photo?: SentFile;
  /** `now()` when the call arrived. */
  at: number;
  /** The call's parameters (multipart fields as strings, JSON-valued fields parsed). */
  raw: Record<string, unknown>;
}

export interface CallbackAnswer {
  id: string;
  text?: string;
  showAlert?: boolean;
  url?: string;
  cacheTime?: number;
  at: number;
}

export interface CommandsCall {
  commands: Array<{ command: string; description: string }>;
  scope?: unknown;
  languageCode?: string;
}

export interface ApiCall {
  method: string;
  status: number;
  at: number;
  /** Error description when status ≠ 200. */
  description?: string;
  chatId?: number;
  /** A 429 from the flood limits: which one refused (an injected 429 has none). */
  floodLimit?: "chat" | "group" | "global";
}

export interface WebhookDelivery {
  updateId: number;
  /** HTTP status from the webhook; 0 when the connection failed. */
  status: number;
  at: number;
  error?: string;
}

export interface FailOptions {
  /** Method name (case-insensitive). Omitted: any method except getUpdates. */
  method?: string;
  status: 400 | 403 | 409 | 429 | 500 | 502;
  /** For 429 (default 1 s). */
  retryAfter?: number;
  /** Default 1. */
  count?: number;
  description?: string;
}

export interface FakeTelegramOptions {
  token?: string;
  botUsername?: string;
  botFirstName?: string;
  /** Default true. An object tunes the model (see flood.ts). */
  floodLimits?: boolean | FloodLimitOptions;
  /** Clock for flood limits, message dates and recorded times. Default Date.now. */
  now?: () => number;
  /** Sends to a chat no update ever came from get 400 "chat not found". Default false. */
  knownChatsOnly?: boolean;
  /** First delay before a failed webhook delivery is retried (doubles up to 5 s). Default 100 ms. */
  webhookRetryMs?: number;
}

interface ChatState {
  id: number;
  type: "private" | "group" | "supergroup";
  title?: string;
  user?: TelegramUserInput;
  known: boolean;
  nextMessageId: number;
  instance: string;
  messages: Map<number, StoredMessage>;
}

interface StoredMessage {
  fromBot: boolean;
  json: Record<string, unknown>;
}

interface QueuedUpdate {
  id: number;
  type: string;
  update: Record<string, unknown>;
}

interface PendingPoll {
  limit: number;
  timer: NodeJS.Timeout;
  finish: (result: unknown[] | TelegramApiError) => void;
}

interface FailInjection extends FailOptions {
  remaining: number;
}

type Params = Record<string, unknown>;
type Files = Map<string, FormPart>;
type Handler = (p: Params, files: Files, res: ServerResponse | undefined) => unknown;

interface Ok {
  result: unknown;
  description?: string;
}

const ok = (result: unknown, description?: string): Ok => ({ result, ...(description ? { description } : {}) });

/** A JSON-valued parameter: multipart and form bodies carry objects as JSON strings. */
function json(v: unknown): unknown {
  if (typeof v === "string" && /^\s*[[{]/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

function int(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "string" && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

const bool = (v: unknown): boolean => v === true || v === "true" || v === "1" || v === 1;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);

const MIME: Record<string, string> = {
  pdf: "application/pdf",
  csv: "text/csv",
  txt: "text/plain",
  json: "application/json",
  html: "text/html",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  zip: "application/zip",
  gz: "application/gzip",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

/** Width/height of a PNG, JPEG, GIF or WebP; undefined when the bytes are not an image. */
function imageSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString("ascii", 12, 16) === "IHDR")
    return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.length >= 10 && b.toString("ascii", 0, 3) === "GIF") return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  if (b.length >= 30 && b.toString("ascii", 0, 4) === "RIFF" && b.toString("ascii", 8, 12) === "WEBP") {
    const kind = b.toString("ascii", 12, 16);
    if (kind === "VP8X") return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
    if (kind === "VP8 ") return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (kind === "VP8L") {
      const bits = b.readUInt32LE(21);
      return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) {
        i++;
        continue;
      }
      const marker = b[i + 1]!;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        i += 2;
        continue;
      }
      i += 2 + b.readUInt16BE(i + 2);
    }
    return { width: 1, height: 1 }; // a JPEG we could not measure: still an image
  }
  return undefined;
}

/** Telegram's (undocumented) checks on reply_markup, the ones a bot trips over. */
function checkMarkup(markup: unknown): void {
  if (markup === undefined || markup === null) return;
  if (typeof markup !== "object") throw badRequest("can't parse reply keyboard markup JSON object");
  const kb = (markup as Record<string, unknown>).inline_keyboard;
  if (kb === undefined) return;
  if (!Array.isArray(kb)) throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array');
  for (const row of kb) {
    if (!Array.isArray(row)) throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
    for (const button of row) {
      if (typeof button !== "object" || button === null) throw badRequest("InlineKeyboardButton must be an Object");
      const b = button as Record<string, unknown>;
      if (typeof b.text !== "string") throw badRequest('can\'t find field "text"');
      if (b.text.length === 0) throw badRequest("BUTTON_TEXT_EMPTY"); // grammY never sends one, but a bot can build it
      const actions = [
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
      ];
      if (!actions.some((k) => b[k] !== undefined)) throw badRequest("text buttons are unallowed in the inline keyboard");
      if (b.callback_data !== undefined) {
        const bytes = typeof b.callback_data === "string" ? Buffer.byteLength(b.callback_data, "utf8") : 0;
        if (bytes < 1 || bytes > 64) throw badRequest("BUTTON_DATA_INVALID");
      }
      if (b.url !== undefined && (typeof b.url !== "string" || !/^(https?|tg):\/\/\S+$/i.test(b.url))) throw badRequest("BUTTON_URL_INVALID");
    }
  }
}

/**
 * A fake of api.telegram.org for a grammY bot: one real node:http server on 127.0.0.1
 * answering `POST /bot<token>/<method>` with Bot API shapes and errors, long polling fed by
 * the test, Telegram's flood limits (429 + retry_after), and everything the bot sent recorded.
 */
export class FakeTelegram {
  readonly apiRoot: string;
  readonly token: string;
  readonly botInfo: Record<string, unknown> & { id: number; username: string; first_name: string };
  /** Successful sendMessage / sendDocument / sendPhoto / editMessageText, in order. */
  readonly sent: SentMessage[] = [];
  readonly callbackAnswers: CallbackAnswer[] = [];
  /** setMyCommands calls. */
  readonly commands: CommandsCall[] = [];
  /** Every API call, in the order answered, with the HTTP status returned. */
  readonly calls: ApiCall[] = [];
  /** POSTs of updates to the webhook while one is set. */
  readonly webhookDeliveries: WebhookDelivery[] = [];
  /** Set by setWebhook, cleared by deleteWebhook. */
  webhook: { url: string; secretToken?: string } | undefined;

  private readonly now: () => number;
  private readonly flood: FloodLimiter | undefined;
  private readonly knownChatsOnly: boolean;
  private readonly webhookRetryMs: number;
  private readonly sockets = new Set<Socket>();
  private readonly handlers = new Map<string, { name: string; fn: Handler }>();
  private readonly chats = new Map<number, ChatState>();
  private readonly users = new Map<number, TelegramUserInput>();
  private readonly blocked = new Set<number>();
  private readonly fails: FailInjection[] = [];
  private readonly files = new Map<string, SentFile>();
  private readonly callbackQueries = new Map<string, { answered: boolean }>();
  private readonly commandSets = new Map<string, Array<{ command: string; description: string }>>();
  private readonly waiters = new Set<() => void>();
  private queue: QueuedUpdate[] = [];
  private nextUpdateId = 1;
  private nextCallbackId = 1;
  private allowedUpdates: Set<string> | undefined;
  private poll: PendingPoll | undefined;
  private flushScheduled = false;
  private webhookMeta: { maxConnections: number; allowedUpdates?: string[]; lastErrorDate?: number; lastErrorMessage?: string } = { maxConnections: 40 };
  private webhookLoop: Promise<void> | undefined;
  private webhookAbort: AbortController | undefined;
  private webhookSleep: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private closed = false;

  private constructor(
    private readonly server: http.Server,
    opts: FakeTelegramOptions,
  ) {
    this.token = opts.token ?? DEFAULT_TOKEN;
    this.now = opts.now ?? Date.now;
    this.knownChatsOnly = opts.knownChatsOnly ?? false;
    this.webhookRetryMs = opts.webhookRetryMs ?? 100;
    const limits = opts.floodLimits ?? true;
    this.flood = limits === false ? undefined : new FloodLimiter(limits === true ? {} : limits);
    const id = Number(this.token.split(":")[0]);
    this.botInfo = {
      id: Number.isSafeInteger(id) && id > 0 ? id : 123456,
      is_bot: true,
      first_name: opts.botFirstName ?? "Test Alert Bot",
      username: opts.botUsername ?? DEFAULT_BOT_USERNAME,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    };
    this.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res));
    this.registerMethods();
  }

  static async start(opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const server = http.createServer();
    // Longer than grammY's keep-alive agent keeps idle sockets, so the fake never drops one mid-test.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    server.requestTimeout = 0; // long polls
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new FakeTelegram(server, opts);
  }

  // --- feeding updates ---------------------------------------------------------------------

  /**
   * A user writes `text` (in their private chat by default). A leading "/command" (or
   * "/command@botusername") gets a bot_command entity, as do later ones after white space.
   * Resolves with the update_id once the update is queued (it does not wait for the bot).
   */
  async sendText(from: TelegramUserInput, text: string, opts: { chatId?: number; chatType?: "private" | "group" | "supergroup" } = {}): Promise<number> {
    const type = opts.chatType ?? (opts.chatId !== undefined && opts.chatId < 0 ? (opts.chatId < -1_000_000_000_000 ? "supergroup" : "group") : "private");
    const chatId = opts.chatId ?? (type === "private" ? from.id : -from.id);
    this.rememberUser(from);
    const chat = this.chatState(chatId, type === "private" ? { type, user: from } : { type });
    chat.known = true;
    const entities: MessageEntity[] = [];
    const re = /(^|\s)(\/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?)/g;
    for (let m = re.exec(text); m; m = re.exec(text)) entities.push({ type: "bot_command", offset: m.index + m[1]!.length, length: m[2]!.length });
    const message: Record<string, unknown> = {
      message_id: chat.nextMessageId++,
      from: this.userJson(from),
      chat: this.chatJson(chat),
      date: Math.floor(this.now() / 1000),
      text,
      ...(entities.length ? { entities } : {}),
    };
    chat.messages.set(message.message_id as number, { fromBot: false, json: message });
    return this.pushUpdate({ message });
  }

  /** A user presses an inline button with `data` under message `messageId` (in their private chat by default). */
  async pressButton(from: TelegramUserInput, opts: { messageId: number; chatId?: number; data: string }): Promise<string> {
    this.rememberUser(from);
    const chatId = opts.chatId ?? from.id;
    const chat = this.chatState(chatId, chatId === from.id ? { type: "private", user: from } : {});
    chat.known = true;
    const id = `${this.botInfo.id}${String(this.nextCallbackId++).padStart(9, "0")}`;
    this.callbackQueries.set(id, { answered: false });
    const stored = chat.messages.get(opts.messageId);
    const message = stored ? structuredClone(stored.json) : { message_id: opts.messageId, chat: this.chatJson(chat), date: 0 };
    this.pushUpdate({ callback_query: { id, from: this.userJson(from), message, chat_instance: chat.instance, data: opts.data } });
    return id;
  }

  /** Queues a raw update (its update_id is assigned here) and returns the update_id. */
  pushUpdate(update: Record<string, unknown>): number {
    const { update_id: _ignored, ...rest } = update;
    const type = Object.keys(rest)[0] ?? "unknown";
    const id = this.nextUpdateId++;
    this.queue.push({ id, type, update: rest });
    this.scheduleFlush();
    return id;
  }

  /** Updates queued and not yet confirmed by the bot (offset) or delivered to the webhook. */
  get pendingUpdateCount(): number {
    return this.queue.length;
  }

  /** True while a long-polling getUpdates is waiting for updates. */
  get isPolling(): boolean {
    return this.poll !== undefined;
  }

  // --- what the bot did ---------------------------------------------------------------------

  sentTo(chatId: number): SentMessage[] {
    return this.sent.filter((m) => m.chatId === chatId);
  }

  /** Resolves with everything sent to `chatId` once there are at least `n` entries. */
  waitForMessages(chatId: number, n: number, timeoutMs = 10_000): Promise<SentMessage[]> {
    return this.waitFor(
      () => {
        const msgs = this.sentTo(chatId);
        return msgs.length >= n ? msgs : undefined;
      },
      timeoutMs,
      () => {
        const msgs = this.sentTo(chatId);
        const failed = this.calls.filter((c) => c.status !== 200 && c.method !== "getUpdates").slice(-5);
        return (
          `waitForMessages: chat ${chatId} has ${msgs.length} of ${n} messages after ${timeoutMs} ms` +
          (msgs.length ? `; sent: ${msgs.map((m) => JSON.stringify((m.text ?? m.caption ?? m.method).slice(0, 80))).join(", ")}` : "") +
          (failed.length ? `; recent failed calls: ${failed.map((c) => `${c.method} ${c.status} ${c.description ?? ""}`.trim()).join("; ")}` : "")
        );
      },
    );
  }

  /** Resolves with the answer to callback query `id` (or the next answer at all) once given. */
  waitForCallbackAnswer(id?: string, timeoutMs = 10_000): Promise<CallbackAnswer> {
    const start = this.callbackAnswers.length;
    return this.waitFor(
      () => (id === undefined ? this.callbackAnswers[start] : this.callbackAnswers.find((a) => a.id === id)),
      timeoutMs,
      () => `waitForCallbackAnswer: no answer to ${id ?? "a new callback query"} after ${timeoutMs} ms`,
    );
  }

  /** The current state of a message in a chat (as Telegram would return it), if it exists. */
  message(chatId: number, messageId: number): Record<string, unknown> | undefined {
    const m = this.chats.get(chatId)?.messages.get(messageId);
    return m ? structuredClone(m.json) : undefined;
  }

  /** Forgets recorded sends, answers, commands, calls and deliveries (not chats or the queue). */
  clearRecords(): void {
    this.sent.length = 0;
    this.callbackAnswers.length = 0;
    this.commands.length = 0;
    this.calls.length = 0;
    this.webhookDeliveries.length = 0;
  }

  // --- failure injection --------------------------------------------------------------------

  /** Further sends (and edits, chat actions) into this chat get 403 "bot was blocked by the user". */
  blockUser(chatId: number): void {
    this.blocked.add(chatId);
  }

  unblockUser(chatId: number): void {
    this.blocked.delete(chatId);
  }

  /**
   * The next `count` calls of `method` (any method except getUpdates when omitted) fail with
   * `status` before anything happens. 429 carries parameters.retry_after (default 1).
   */
  private readonly stalls: Array<{ method: string; ms: number; remaining: number }> = [];

  failNext(opts: FailOptions): void {
    this.fails.push({ ...opts, remaining: opts.count ?? 1 });
  }

  /**
   * The next `count` calls of `method` hang for `ms` before they are handled, like a Bot API
   * that stopped answering. A caller that gave up meanwhile (closed its socket) gets nothing
   * done: the message is not sent.
   */
  stallNext(opts: { method: string; ms: number; count?: number }): void {
    this.stalls.push({ ...opts, remaining: opts.count ?? 1 });
  }

  /** Calls that were stalled and then dropped because the caller had gone. */
  readonly abandonedCalls: string[] = [];
  /** Calls hanging in a stall right now. */
  stalledNow = 0;

  /** Resets the flood-limit buckets and windows (e.g. between phases of a test). */
  resetFloodLimits(): void {
    this.flood?.reset();
  }

  // --- lifecycle ----------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) {
      const p = this.poll;
      this.poll = undefined;
      clearTimeout(p.timer);
      p.finish([]);
    }
    this.webhookAbort?.abort();
    if (this.webhookSleep) {
      clearTimeout(this.webhookSleep.timer);
      this.webhookSleep.resolve();
    }
    for (const w of [...this.waiters]) w();
    // Let the answered long poll reach its socket before the sockets go.
    await new Promise((r) => setImmediate(r));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
    });
    await this.webhookLoop;
  }

  // --- internals: waiting -------------------------------------------------------------------

  private waitFor<T>(check: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      if (this.closed) return reject(new Error(`${describe()} (FakeTelegram is closed)`));
      const waiter = () => {
        const v = check();
        if (v !== undefined) {
          cleanup();
          resolve(v);
        } else if (this.closed) {
          cleanup();
          reject(new Error(`${describe()} (FakeTelegram closed)`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(describe()));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  // --- internals: HTTP ----------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.now();
    let method = "";
    let status = 200;
    let body: unknown;
    let chatId: number | undefined;
    let floodLimit: ApiCall["floodLimit"];
    const headers: Record<string, string> = {};
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const m = /^\/bot([^/]*)\/([^/]*)$/.exec(url.pathname);
      if (!m) throw new TelegramApiError(404, "Not Found");
      method = decodeURIComponent(m[2]!);
      if (decodeURIComponent(m[1]!) !== this.token) throw UNAUTHORIZED();
      const h = this.handlers.get(method.toLowerCase());
      if (!h) throw METHOD_NOT_FOUND();
      method = h.name;
      const { params, files } = await this.readParams(req, url);
      chatId = int(params.chat_id);
      const out = (await this.invoke(h.name, h.fn, params, files, res)) as Ok;
      body = { ok: true, result: out.result, ...(out.description ? { description: out.description } : {}) };
    } catch (err) {
      const e = err instanceof TelegramApiError ? err : new TelegramApiError(500, `Internal Server Error: ${(err as Error).message}`);
      status = e.status;
      body = e.body();
      floodLimit = e.floodLimit;
      if (e.parameters?.retry_after !== undefined) headers["retry-after"] = String(e.parameters.retry_after);
    }
    this.calls.push({
      method,
      status,
      at,
      ...(status !== 200 ? { description: (body as { description: string }).description } : {}),
      ...(chatId !== undefined ? { chatId } : {}),
      ...(floodLimit ? { floodLimit } : {}),
    });
    this.notify();
    if (res.destroyed || res.writableEnded) return;
    const payload = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers });
    res.end(payload);
  }

  /** Runs a method: injected failures first, then the handler. */
  private async invoke(name: string, fn: Handler, params: Params, files: Files, res: ServerResponse | undefined): Promise<unknown> {
    const stall = this.stalls.findIndex((st) => st.remaining > 0 && st.method.toLowerCase() === name.toLowerCase());
    if (stall >= 0) {
      const st = this.stalls[stall]!;
      if (--st.remaining <= 0) this.stalls.splice(stall, 1);
      this.stalledNow++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, st.ms);
        res?.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.stalledNow--;
      if (!res || res.destroyed || res.writableEnded || res.socket?.destroyed) {
        this.abandonedCalls.push(name);
        throw new TelegramApiError(499, "client closed the request");
      }
    }
    const i = this.fails.findIndex((f) => f.remaining > 0 && (f.method === undefined ? name !== "getUpdates" : f.method.toLowerCase() === name.toLowerCase()));
    if (i >= 0) {
      const f = this.fails[i]!;
      if (--f.remaining <= 0) this.fails.splice(i, 1);
      if (f.status === 429) {
        const e = tooManyRequests(f.retryAfter ?? 1);
        throw f.description ? new TelegramApiError(429, f.description, e.parameters) : e;
      }
      const defaults: Record<number, string> = {
        400: "Bad Request: chat not found",
        403: "Forbidden: bot was blocked by the user",
        409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        500: "Internal Server Error",
        502: "Bad Gateway",
      };
      throw new TelegramApiError(f.status, f.description ?? defaults[f.status] ?? "Internal Server Error");
    }
    return fn(params, files, res);
  }

  private async readParams(req: IncomingMessage, url: URL): Promise<{ params: Params; files: Files }> {
    const params: Params = Object.fromEntries(url.searchParams);
    const files: Files = new Map();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new TelegramApiError(413, "Request Entity Too Large");
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    const type = (req.headers["content-type"] ?? "").toLowerCase();
    if (raw.length === 0) return { params, files };
    if (type.startsWith("application/json")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString("utf8"));
      } catch {
        throw badRequest("can't parse JSON object");
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw badRequest("JSON object expected");
      Object.assign(params, parsed);
    } else if (type.startsWith("application/x-www-form-urlencoded")) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(raw.toString("utf8"))));
    } else if (type.startsWith("multipart/form-data")) {
      const boundary = boundaryOf(req.headers["content-type"] ?? "");
      if (!boundary) throw badRequest("multipart boundary is missing");
      try {
        for (const part of parseMultipart(raw, boundary)) {
          if (part.filename !== undefined) files.set(part.name, part);
          else params[part.name] = part.data.toString("utf8");
        }
      } catch (err) {
        if (err instanceof MultipartError) throw badRequest(`can't parse multipart/form-data: ${err.message}`);
        throw err;
      }
    }
    return { params, files };
  }

  // --- internals: chats and messages ----------------------------------------------------------

  private rememberUser(u: TelegramUserInput): void {
    this.users.set(u.id, { ...this.users.get(u.id), ...u });
  }

  private userJson(u: TelegramUserInput): Record<string, unknown> {
    const known = { ...this.users.get(u.id), ...u };
    return {
      id: known.id,
      is_bot: false,
      first_name: known.first_name ?? `User${known.id}`,
      ...(known.last_name ? { last_name: known.last_name } : {}),
      ...(known.username ? { username: known.username } : {}),
      ...(known.language_code ? { language_code: known.language_code } : {}),
    };
  }

  private botJson(): Record<string, unknown> {
    return { id: this.botInfo.id, is_bot: true, first_name: this.botInfo.first_name, username: this.botInfo.username };
  }

  private chatState(id: number, init: { type?: ChatState["type"]; user?: TelegramUserInput } = {}): ChatState {
    let c = this.chats.get(id);
    if (!c) {
      const type = init.type ?? (id > 0 ? "private" : id < -1_000_000_000_000 ? "supergroup" : "group");
      c = {
        id,
        type,
        ...(type !== "private" ? { title: "Test group" } : {}),
        known: false,
        nextMessageId: 1,
        instance: String(BigInt.asIntN(64, BigInt(id) * 7919n + 1_234_567_890_123n)),
        messages: new Map(),
      };
      this.chats.set(id, c);
    }
    if (init.user) c.user = init.user;
    return c;
  }

  private chatJson(c: ChatState): Record<string, unknown> {
    if (c.type !== "private")
      return { id: c.id, title: c.title ?? "Test group", type: c.type, ...(c.type === "group" ? { all_members_are_administrators: false } : {}) };
    const u = this.users.get(c.id) ?? c.user;
    return {
      id: c.id,
      first_name: u?.first_name ?? `User${c.id}`,
      ...(u?.last_name ? { last_name: u.last_name } : {}),
      ...(u?.username ? { username: u.username } : {}),
      type: "private",
    };
  }

  /** chat_id → the chat; 400 as Telegram answers for a missing or unknown one. */
  private targetChat(p: Params): ChatState {
    if (p.chat_id === undefined || p.chat_id === "") throw badRequest("chat_id is empty");
    const id = int(p.chat_id);
    if (id === undefined || id === 0) throw badRequest("chat not found");
    const c = this.chats.get(id);
    if (!c && this.knownChatsOnly) throw badRequest("chat not found");
    return c ?? this.chatState(id);
  }

  private checkBlocked(chat: ChatState): void {
    if (this.blocked.has(chat.id)) throw BLOCKED();
  }

  private checkFlood(chat: ChatState): void {
    if (!this.flood) return;
    const r = this.flood.take(chat.id, this.now());
    if (!r.ok) throw tooManyRequests(r.retryAfter, r.limit);
  }

  private record(m: Omit<SentMessage, "at">, at: number): void {
    this.sent.push({ ...m, at });
  }

  private storeFile(part: { filename: string; data: Buffer; contentType: string | undefined; url?: string }, kind: "document" | "photo"): SentFile {
    const fileId = `${kind === "photo" ? "AgAC" : "BQAC"}AgUAAxkDAAI${randomBytes(18).toString("base64url")}`;
    const ext = part.filename.split(".").pop()?.toLowerCase() ?? "";
    const declared = part.contentType && part.contentType !== "application/octet-stream" ? part.contentType : undefined;
    const f: SentFile = {
      filename: part.filename,
      bytes: part.data.length,
      content: part.data,
      mimeType: declared ?? MIME[ext] ?? (kind === "photo" ? "image/jpeg" : "application/octet-stream"),
      fileId,
      ...(part.url ? { url: part.url } : {}),
    };
    this.files.set(fileId, f);
    return f;
  }

  /** The file in a sendDocument/sendPhoto call: attach://, a part named after the field, a file_id or a URL. */
  private resolveFile(kind: "document" | "photo", p: Params, files: Files): SentFile {
    const v = p[kind];
    let part: FormPart | undefined;
    if (typeof v === "string" && v.startsWith("attach://")) {
      part = files.get(v.slice("attach://".length));
      if (!part) throw badRequest(`wrong file identifier/HTTP URL specified`);
    } else if (v === undefined) {
      part = files.get(kind);
      if (!part) throw badRequest(`there is no ${kind} in the request`);
    } else if (typeof v === "string" && /^https?:\/\//i.test(v)) {
      const name = decodeURIComponent(new URL(v).pathname.split("/").pop() ?? "") || `${kind}.${kind === "photo" ? "jpg" : "dat"}`;
      return this.storeFile({ filename: name, data: Buffer.alloc(0), contentType: undefined, url: v }, kind);
    } else if (typeof v === "string") {
      const known = this.files.get(v);
      if (!known) throw badRequest("wrong file identifier/HTTP URL specified");
      return known;
    } else throw badRequest(`there is no ${kind} in the request`);
    if (part.data.length === 0) throw badRequest("file must be non-empty");
    if (part.data.length > (kind === "photo" ? MAX_PHOTO : MAX_DOCUMENT)) throw new TelegramApiError(413, "Request Entity Too Large");
    if (kind === "photo" && !imageSize(part.data)) throw badRequest("IMAGE_PROCESS_FAILED");
    return this.storeFile({ filename: part.filename ?? `${kind}.${kind === "photo" ? "jpg" : "dat"}`, data: part.data, contentType: part.contentType }, kind);
  }

  private fileJson(f: SentFile, kind: "document" | "photo"): unknown {
    const unique = `AgAD${f.fileId.slice(-10)}`;
    if (kind === "document") return { file_name: f.filename, mime_type: f.mimeType, file_id: f.fileId, file_unique_id: unique, file_size: f.bytes };
    const size = imageSize(f.content) ?? { width: 0, height: 0 };
    const scale = Math.min(1, 1280 / Math.max(size.width, size.height, 1));
    return [{ file_id: f.fileId, file_unique_id: unique, file_size: f.bytes, width: Math.round(size.width * scale), height: Math.round(size.height * scale) }];
  }

  /** The message object a send returns, stored for edits and button presses. */
  private newBotMessage(chat: ChatState, content: Record<string, unknown>): Record<string, unknown> {
    const message: Record<string, unknown> = {
      message_id: chat.nextMessageId++,
      from: this.botJson(),
      chat: this.chatJson(chat),
      date: Math.floor(this.now() / 1000),
      ...content,
    };
    chat.messages.set(message.message_id as number, { fromBot: true, json: message });
    return message;
  }

  private static inlineMarkup(markup: unknown): Record<string, unknown> {
    return markup && typeof markup === "object" && "inline_keyboard" in markup ? { reply_markup: markup } : {};
  }

  private static textContent(f: FormattedText, key: "text" | "caption"): Record<string, unknown> {
    const entitiesKey = key === "text" ? "entities" : "caption_entities";
    return { ...(f.text ? { [key]: f.text } : {}), ...(f.entities.length ? { [entitiesKey]: f.entities } : {}) };
  }

  // --- internals: updates ----------------------------------------------------------------------

  private isAllowed(type: string): boolean {
    return this.allowedUpdates ? this.allowedUpdates.has(type) : !NOT_BY_DEFAULT.has(type);
  }

  /** Drops updates of types the bot did not ask for, then returns up to `limit` of the rest. */
  private deliverable(limit: number): Array<Record<string, unknown>> {
    this.queue = this.queue.filter((u) => this.isAllowed(u.type));
    return this.queue.slice(0, limit).map((u) => ({ update_id: u.id, ...structuredClone(u.update) }));
  }

  private confirm(offset: number): void {
    if (offset > 0) this.queue = this.queue.filter((u) => u.id >= offset);
    else if (offset < 0) this.queue = this.queue.slice(offset);
  }

  private scheduleFlush(): void {
    if (this.webhook) {
      this.startWebhookLoop();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the current tick, so updates pushed together go out in one batch.
    setImmediate(() => {
      this.flushScheduled = false;
      const p = this.poll;
      if (!p || this.closed) return;
      const batch = this.deliverable(p.limit);
      if (batch.length === 0) return;
      this.poll = undefined;
      clearTimeout(p.timer);
      p.finish(batch);
    });
  }

  private getUpdates(p: Params, res: ServerResponse | undefined): unknown {
    if (this.webhook) throw WEBHOOK_ACTIVE();
    const offset = int(p.offset);
    const limit = Math.min(100, Math.max(1, int(p.limit) ?? 100));
    const timeout = Math.max(0, int(p.timeout) ?? 0);
    const allowed = json(p.allowed_updates);
    if (Array.isArray(allowed)) this.allowedUpdates = allowed.length > 0 ? new Set(allowed.map(String)) : undefined;
    if (offset !== undefined) this.confirm(offset);
    const batch = this.deliverable(limit);
    if (batch.length > 0 || timeout === 0 || this.closed) return ok(batch);
    // Like the Bot API server: a new long poll ends the one already waiting, which gets 409.
    if (this.poll) {
      const prev = this.poll;
      this.poll = undefined;
      clearTimeout(prev.timer);
      prev.finish(GETUPDATES_CONFLICT());
    }
    return new Promise<Ok>((resolve, reject) => {
      const poll: PendingPoll = {
        limit,
        timer: setTimeout(() => {
          if (this.poll === poll) this.poll = undefined;
          poll.finish([]);
        }, timeout * 1000),
        finish: (r) => (r instanceof TelegramApiError ? reject(r) : resolve(ok(r))),
      };
      this.poll = poll;
      // The client gave up (grammY aborts the poll on bot.stop()): forget it.
      res?.on("close", () => {
        if (this.poll !== poll) return;
        this.poll = undefined;
        clearTimeout(poll.timer);
        poll.finish([]);
      });
    });
  }

  // --- internals: webhook --------------------------------------------------------------------

  private startWebhookLoop(): void {
    if (this.webhookLoop || this.closed) return;
    this.webhookLoop = this.deliverToWebhook().finally(() => {
      this.webhookLoop = undefined;
      // An update may have arrived while the loop was finishing.
      if (this.webhook && !this.closed && this.deliverable(1).length > 0) this.startWebhookLoop();
    });
  }

  /** One update at a time, in order (max_connections is not modelled), retried until 2xx. */
  private async deliverToWebhook(): Promise<void> {
    let delay = this.webhookRetryMs;
    while (!this.closed && this.webhook) {
      const [update] = this.deliverable(1);
      if (!update) return;
      const hook = this.webhook;
      const updateId = update.update_id as number;
      let status = 0;
      let error: string | undefined;
      let reply = "";
      const ac = new AbortController();
      this.webhookAbort = ac;
      const timer = setTimeout(() => ac.abort(), 30_000);
      try {
        const r = await fetch(hook.url, {
          method: "POST",
          headers: { "content-type": "application/json", ...(hook.secretToken ? { "x-telegram-bot-api-secret-token": hook.secretToken } : {}) },
          body: JSON.stringify(update),
          signal: ac.signal,
        });
        status = r.status;
        reply = await r.text();
        if (status < 200 || status > 299) error = `Wrong response from the webhook: ${status} ${r.statusText}`.trim();
      } catch (err) {
        error = ac.signal.aborted ? "Read timeout expired" : `Connection refused (${(err as Error).message})`;
      } finally {
        clearTimeout(timer);
        this.webhookAbort = undefined;
      }
      if (this.closed) return;
      this.webhookDeliveries.push({ updateId, status, at: this.now(), ...(error ? { error } : {}) });
      this.notify();
      if (!error) {
        this.queue = this.queue.filter((u) => u.id !== updateId);
        delay = this.webhookRetryMs;
        await this.webhookReply(reply);
        continue;
      }
      this.webhookMeta.lastErrorDate = Math.floor(this.now() / 1000);
      this.webhookMeta.lastErrorMessage = error;
      await new Promise<void>((resolve) => {
        this.webhookSleep = { timer: setTimeout(resolve, delay), resolve };
      });
      this.webhookSleep = undefined;
      delay = Math.min(delay * 2, 5000);
    }
  }

  /** A webhook may answer with a method call in its response body; Telegram runs it. */
  private async webhookReply(body: string): Promise<void> {
    let p: unknown;
    try {
      p = JSON.parse(body);
    } catch {
      return;
    }
    if (typeof p !== "object" || p === null || typeof (p as Params).method !== "string") return;
    const { method, ...params } = p as Params;
    const h = this.handlers.get(String(method).toLowerCase());
    let status = 200;
    let description: string | undefined;
    if (!h) [status, description] = [404, "Not Found: method not found"];
    else {
      try {
        await this.invoke(h.name, h.fn, params, new Map(), undefined);
      } catch (err) {
        const e = err instanceof TelegramApiError ? err : new TelegramApiError(500, "Internal Server Error");
        [status, description] = [e.status, e.description];
      }
    }
    this.calls.push({ method: h?.name ?? String(method), status, at: this.now(), ...(description ? { description } : {}) });
    this.notify();
  }

  // --- methods ---------------------------------------------------------------------------------

  private registerMethods(): void {
    const on = (name: string, fn: Handler) => this.handlers.set(name.toLowerCase(), { name, fn });

    on("getMe", () => ok(structuredClone(this.botInfo)));
    on("logOut", () => ok(true));
    on("close", () => ok(true));

    on("getUpdates", (p, _f, res) => this.getUpdates(p, res));

    on("setWebhook", (p) => {
      const url = str(p.url) ?? "";
      if (url === "") return this.deleteWebhook(p);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw badRequest("bad webhook: Failed to resolve host: Name or service not known");
      }
      // Telegram insists on HTTPS; the fake also takes http:// so tests can point it at 127.0.0.1.
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw badRequest("bad webhook: An HTTPS URL must be provided for webhook");
      const secret = str(p.secret_token);
      if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw badRequest("secret token contains unallowed characters");
      const max = int(p.max_connections);
      if (max !== undefined && (max < 1 || max > 100)) throw badRequest("bad webhook: max_connections must be between 1 and 100");
      if (bool(p.drop_pending_updates)) this.queue = [];
      const allowed = json(p.allowed_updates);
      if (Array.isArray(allowed)) this.allowedUpdates = allowed.length > 0 ? new Set(allowed.map(String)) : undefined;
      if (this.poll) {
        const prev = this.poll;
        this.poll = undefined;
        clearTimeout(prev.timer);
        prev.finish(new TelegramApiError(409, "Conflict: terminated by setWebhook request"));
      }
      const same = this.webhook?.url === url && this.webhook?.secretToken === secret;
      this.webhook = { url, ...(secret !== undefined ? { secretToken: secret } : {}) };
      this.webhookMeta = { maxConnections: max ?? 40, ...(Array.isArray(allowed) ? { allowedUpdates: allowed.map(String) } : {}) };
      this.startWebhookLoop();
      return ok(true, same ? "Webhook is already set" : "Webhook was set");
    });
    on("deleteWebhook", (p) => this.deleteWebhook(p));
    on("getWebhookInfo", () =>
      ok({
        url: this.webhook?.url ?? "",
        has_custom_certificate: false,
        pending_update_count: this.queue.length,
        ...(this.webhook && this.webhookMeta.lastErrorDate
          ? { last_error_date: this.webhookMeta.lastErrorDate, last_error_message: this.webhookMeta.lastErrorMessage }
          : {}),
        ...(this.webhook ? { max_connections: this.webhookMeta.maxConnections } : {}),
        ...(this.webhook && this.webhookMeta.allowedUpdates ? { allowed_updates: this.webhookMeta.allowedUpdates } : {}),
      }),
    );

    on("setMyCommands", (p) => {
      const commands = json(p.commands);
      if (!Array.isArray(commands)) throw badRequest('field "commands" must be an Array');
      if (commands.length > 100) throw badRequest("BOT_COMMANDS_TOO_MUCH");
      const list: Array<{ command: string; description: string }> = [];
      for (const c of commands) {
        const cmd = (c ?? {}) as Params;
        const command = str(cmd.command) ?? "";
        const description = str(cmd.description) ?? "";
        if (!/^[a-z0-9_]{1,32}$/.test(command)) throw badRequest("BOT_COMMAND_INVALID");
        if (description.trim().length === 0 || description.length > 256) throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
        list.push({ command, description });
      }
      const scope = this.scopeOf(p);
      const languageCode = str(p.language_code);
      if (languageCode !== undefined && languageCode !== "" && !/^[a-z]{2}$/.test(languageCode)) throw badRequest("LANG_CODE_INVALID");
      this.commandSets.set(this.commandsKey(scope, languageCode), list);
      this.commands.push({ commands: list, ...(scope !== undefined ? { scope } : {}), ...(languageCode ? { languageCode } : {}) });
      return ok(true);
    });
    on("deleteMyCommands", (p) => {
      this.commandSets.delete(this.commandsKey(this.scopeOf(p), str(p.language_code)));
      return ok(true);
    });
    on("getMyCommands", (p) => ok(structuredClone(this.commandSets.get(this.commandsKey(this.scopeOf(p), str(p.language_code))) ?? [])));

    on("sendMessage", (p) => {
      const chat = this.targetChat(p);
      const f = formatText(p.text, p.parse_mode, "text", json(p.entities));
      const markup = json(p.reply_markup);
      checkMarkup(markup);
      this.checkBlocked(chat);
      this.checkFlood(chat);
      const at = this.now();
      const message = this.newBotMessage(chat, { ...FakeTelegram.textContent(f, "text"), ...this.linkPreview(p), ...FakeTelegram.inlineMarkup(markup) });
      this.record(
        {
          method: "sendMessage",
          chatId: chat.id,
          messageId: message.message_id as number,
          text: f.text,
          rawText: String(p.text),
          entities: f.entities,
          ...(p.parse_mode ? { parseMode: String(p.parse_mode) } : {}),
          ...(markup !== undefined ? { replyMarkup: markup } : {}),
          raw: this.rawParams(p),
        },
        at,
      );
      return ok(structuredClone(message));
    });

    const sendFile = (kind: "document" | "photo") => (p: Params, files: Files) => {
      const chat = this.targetChat(p);
      const f = formatText(p.caption, p.parse_mode, "caption", json(p.caption_entities));
      const markup = json(p.reply_markup);
      checkMarkup(markup);
      const file = this.resolveFile(kind, p, files);
      this.checkBlocked(chat);
      this.checkFlood(chat);
      const at = this.now();
      const message = this.newBotMessage(chat, {
        [kind]: this.fileJson(file, kind),
        ...FakeTelegram.textContent(f, "caption"),
        ...FakeTelegram.inlineMarkup(markup),
      });
      this.record(
        {
          method: kind === "document" ? "sendDocument" : "sendPhoto",
          chatId: chat.id,
          messageId: message.message_id as number,
          ...(p.caption !== undefined ? { caption: f.text, rawCaption: String(p.caption), captionEntities: f.entities } : {}),
          ...(p.parse_mode ? { parseMode: String(p.parse_mode) } : {}),
          ...(markup !== undefined ? { replyMarkup: markup } : {}),
          [kind]: file,
          raw: this.rawParams(p),
        },
        at,
      );
      return ok(structuredClone(message));
    };
    on("sendDocument", sendFile("document"));
    on("sendPhoto", sendFile("photo"));

    on("sendChatAction", (p) => {
      const chat = this.targetChat(p);
      if (!CHAT_ACTIONS.has(str(p.action) ?? "")) throw badRequest("wrong parameter action in request");
      this.checkBlocked(chat);
      return ok(true);
    });

    on("editMessageText", (p) => {
      if (p.inline_message_id !== undefined) {
        formatText(p.text, p.parse_mode, "text", json(p.entities));
        checkMarkup(json(p.reply_markup));
        return ok(true);
      }
      const { chat, stored } = this.editable(p);
      if (stored.json.text === undefined) throw badRequest("there is no text in the message to edit");
      const f = formatText(p.text, p.parse_mode, "text", json(p.entities));
      const markup = json(p.reply_markup);
      checkMarkup(markup);
      const next: Record<string, unknown> = { ...stored.json };
      delete next.text;
      delete next.entities;
      delete next.reply_markup;
      delete next.link_preview_options;
      Object.assign(next, FakeTelegram.textContent(f, "text"), this.linkPreview(p), FakeTelegram.inlineMarkup(markup));
      this.checkModified(stored.json, next);
      this.checkBlocked(chat);
      const at = this.now();
      next.edit_date = Math.floor(at / 1000);
      stored.json = next;
      this.record(
        {
          method: "editMessageText",
          chatId: chat.id,
          messageId: next.message_id as number,
          text: f.text,
          rawText: String(p.text),
          entities: f.entities,
          ...(p.parse_mode ? { parseMode: String(p.parse_mode) } : {}),
          ...(markup !== undefined ? { replyMarkup: markup } : {}),
          raw: this.rawParams(p),
        },
        at,
      );
      return ok(structuredClone(next));
    });

    on("editMessageReplyMarkup", (p) => {
      const markup = json(p.reply_markup);
      checkMarkup(markup);
      if (p.inline_message_id !== undefined) return ok(true);
      const { chat, stored } = this.editable(p);
      const next: Record<string, unknown> = { ...stored.json };
      delete next.reply_markup;
      Object.assign(next, FakeTelegram.inlineMarkup(markup));
      this.checkModified(stored.json, next);
      this.checkBlocked(chat);
      next.edit_date = Math.floor(this.now() / 1000);
      stored.json = next;
      return ok(structuredClone(next));
    });

    on("deleteMessage", (p) => {
      const chat = this.targetChat(p);
      const id = int(p.message_id);
      if (id === undefined) throw badRequest("message identifier is not specified");
      if (!chat.messages.delete(id)) throw badRequest("message to delete not found");
      return ok(true);
    });

    on("getChat", (p) => {
      const chat = this.targetChat(p);
      if (!chat.known && !chat.messages.size) throw badRequest("chat not found");
      return ok(this.chatJson(chat));
    });

    on("answerCallbackQuery", (p) => {
      const id = str(p.callback_query_id);
      const q = id === undefined ? undefined : this.callbackQueries.get(id);
      if (!q || q.answered) throw badRequest("query is too old and response timeout expired or query ID is invalid");
      q.answered = true;
      const text = str(p.text);
      const cacheTime = int(p.cache_time);
      this.callbackAnswers.push({
        id: id!,
        ...(text !== undefined ? { text } : {}),
        ...(p.show_alert !== undefined ? { showAlert: bool(p.show_alert) } : {}),
        ...(p.url !== undefined ? { url: String(p.url) } : {}),
        ...(cacheTime !== undefined ? { cacheTime } : {}),
        at: this.now(),
      });
      return ok(true);
    });
  }

  private deleteWebhook(p: Params): Ok {
    if (bool(p.drop_pending_updates)) this.queue = [];
    const had = this.webhook !== undefined;
    this.webhook = undefined;
    this.webhookAbort?.abort();
    return ok(true, had ? "Webhook was deleted" : "Webhook is already deleted");
  }

  private scopeOf(p: Params): unknown {
    const scope = json(p.scope);
    if (scope === undefined) return undefined;
    if (typeof scope !== "object" || scope === null) throw badRequest("can't parse BotCommandScope JSON object");
    const type = str((scope as Params).type);
    if (!type || !SCOPE_TYPES.has(type)) throw badRequest("wrong bot command scope type specified");
    if (["chat", "chat_administrators", "chat_member"].includes(type) && int((scope as Params).chat_id) === undefined) throw badRequest("chat_id is empty");
    if (type === "chat_member" && int((scope as Params).user_id) === undefined) throw badRequest("user_id is empty");
    return scope;
  }

  private commandsKey(scope: unknown, lang: string | undefined): string {
    const s = scope as Params | undefined;
    const norm = !s || s.type === "default" ? "default" : `${String(s.type)}:${String(int(s.chat_id) ?? "")}:${String(int(s.user_id) ?? "")}`;
    return `${norm}|${lang ?? ""}`;
  }

  private linkPreview(p: Params): Record<string, unknown> {
    const o = json(p.link_preview_options);
    return o && typeof o === "object" ? { link_preview_options: o } : {};
  }

  private editable(p: Params): { chat: ChatState; stored: StoredMessage } {
    const chat = this.targetChat(p);
    const id = int(p.message_id);
    if (id === undefined) throw badRequest("message identifier is not specified");
    const stored = chat.messages.get(id);
    if (!stored) throw badRequest("message to edit not found");
    if (!stored.fromBot) throw badRequest("message can't be edited");
    return { chat, stored };
  }

  private checkModified(before: Record<string, unknown>, after: Record<string, unknown>): void {
    const key = (m: Record<string, unknown>) => JSON.stringify([m.text, m.entities ?? [], m.caption, m.caption_entities ?? [], m.reply_markup ?? null]);
    if (key(before) === key(after)) {
      throw badRequest(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      );
    }
  }

  private rawParams(p: Params): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p))
      out[k] = ["reply_markup", "entities", "caption_entities", "link_preview_options", "reply_parameters"].includes(k) ? json(v) : v;
    return out;
  }
}
