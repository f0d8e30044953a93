import http from "node:http";
import type { AddressInfo } from "node:net";
import { deflateSync } from "node:zlib";
import { Api, Bot, GrammyError, InlineKeyboard, InputFile } from "grammy";
import { afterEach, describe, expect, it } from "vitest";
import { FakeTelegram, parseHtml, parseMarkdownV2, type FakeTelegramOptions } from "./telegram/index.js";

const USER = { id: 1001, username: "asha", first_name: "Asha" };
const OTHER = { id: 1002, first_name: "Ravi" };

let tg: FakeTelegram;
const bots: Bot[] = [];
const polls: Array<Promise<void>> = [];

async function fake(opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  tg = await FakeTelegram.start(opts);
  return tg;
}

function newBot(): Bot {
  const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
  bot.catch((err) => {
    throw err.error;
  });
  bots.push(bot);
  return bot;
}

/** bot.start() in the background; the returned promise settles when polling ends. */
function startPolling(bot: Bot): Promise<void> {
  const p = bot.start();
  polls.push(p.catch(() => undefined));
  return p;
}

/** The GrammyError a call fails with (fails the test if it succeeds). */
async function apiError(call: Promise<unknown>): Promise<GrammyError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(GrammyError);
    return err as GrammyError;
  }
  throw new Error("expected the call to fail");
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A minimal valid PNG (w×h, 8-bit grey). */
function png(w: number, h: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const raw = Buffer.alloc((w + 1) * h);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

afterEach(async () => {
  for (const b of bots.splice(0)) if (b.isRunning()) await b.stop();
  await Promise.all(polls.splice(0));
  await tg?.close();
});

describe("fake Telegram: a grammY bot long polling", () => {
  it("answers /ping with pong", async () => {
    await fake();
    const bot = newBot();
    bot.command("ping", (ctx) => ctx.reply("pong"));
    const polling = startPolling(bot);
    const updateId = await tg.sendText(USER, "/ping");
    expect(updateId).toBe(1);
    const [reply] = await tg.waitForMessages(USER.id, 1);
    expect(reply).toMatchObject({ method: "sendMessage", chatId: USER.id, text: "pong", messageId: 2 });
    // Telegram shapes on the way: getMe (init), deleteWebhook (start), long polls.
    expect(tg.calls.map((c) => c.method)).toEqual(expect.arrayContaining(["getMe", "deleteWebhook", "getUpdates", "sendMessage"]));
    expect(tg.calls.every((c) => c.status === 200)).toBe(true);
    await bot.stop();
    await polling;
    // bot.stop() confirmed the update: nothing left to deliver.
    expect(tg.pendingUpdateCount).toBe(0);
  });

  it("takes /ping@botusername in a group and ignores a command for another bot", async () => {
    await fake({ botUsername: "alerts_test_bot" });
    const bot = newBot();
    bot.command("ping", (ctx) => ctx.reply(`pong ${ctx.chat.type}`));
    void startPolling(bot);
    await tg.sendText(USER, "/ping@other_bot", { chatId: -5001, chatType: "group" });
    await tg.sendText(USER, "/ping@alerts_test_bot", { chatId: -5001, chatType: "group" });
    const msgs = await tg.waitForMessages(-5001, 1);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toBe("pong group");
    expect(bot.botInfo.username).toBe("alerts_test_bot");
  });

  it("delivers a button press; the bot answers it and edits the message", async () => {
    await fake();
    const bot = newBot();
    bot.command("ask", (ctx) => ctx.reply("Delete alert #7?", { reply_markup: new InlineKeyboard().text("Yes", "del:7").text("No", "keep:7") }));
    bot.callbackQuery(/^del:(\d+)$/, async (ctx) => {
      await ctx.answerCallbackQuery({ text: `Alert #${ctx.match[1]} deleted.` });
      await ctx.editMessageText("Deleted.");
    });
    void startPolling(bot);
    await tg.sendText(USER, "/ask");
    const [question] = await tg.waitForMessages(USER.id, 1);
    expect(JSON.stringify(question!.replyMarkup)).toContain("del:7");
    const queryId = await tg.pressButton(USER, { messageId: question!.messageId, data: "del:7" });
    const answer = await tg.waitForCallbackAnswer(queryId);
    expect(answer.text).toBe("Alert #7 deleted.");
    const [, edit] = await tg.waitForMessages(USER.id, 2);
    expect(edit).toMatchObject({ method: "editMessageText", messageId: question!.messageId, text: "Deleted." });
    const now = tg.message(USER.id, question!.messageId)!;
    expect(now.text).toBe("Deleted.");
    expect(now.reply_markup).toBeUndefined(); // editing without reply_markup drops the keyboard
    expect(now.edit_date).toBeTypeOf("number");

    // A query is answered once; unknown ids are refused the same way.
    for (const id of [queryId, "999"]) {
      const e = await apiError(bot.api.answerCallbackQuery(id));
      expect(e.error_code).toBe(400);
      expect(e.description).toBe("Bad Request: query is too old and response timeout expired or query ID is invalid");
    }
    // Same text again: not modified.
    const same = await apiError(bot.api.editMessageText(USER.id, question!.messageId, "Deleted."));
    expect(same.description).toMatch(/^Bad Request: message is not modified/);
    expect((await apiError(bot.api.editMessageText(USER.id, 999, "x"))).description).toBe("Bad Request: message to edit not found");
  });

  it("ends the earlier long poll with 409 when another getUpdates arrives, as the Bot API server does", async () => {
    await fake();
    const bot = newBot();
    const polling = startPolling(bot);
    await until(() => tg.isPolling);
    const intruder = new Api(tg.token, { apiRoot: tg.apiRoot });
    const started = Date.now();
    const second = intruder.getUpdates({ timeout: 1 });
    const e = await apiError(polling);
    expect(e.error_code).toBe(409);
    expect(e.description).toBe("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
    expect(await second).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(tg.calls.filter((c) => c.method === "getUpdates").map((c) => c.status)).toContain(409);
  });
});

describe("fake Telegram: getUpdates", () => {
  it("holds a long poll until an update arrives, honours offset, limit and allowed_updates", async () => {
    await fake();
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    const t0 = Date.now();
    const waiting = api.getUpdates({ timeout: 10 });
    await until(() => tg.isPolling);
    await tg.sendText(USER, "hello");
    const [u] = await waiting;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(u!.message!.text).toBe("hello");
    expect(u!.message!.entities).toBeUndefined();

    await tg.sendText(USER, "/alert RELIANCE above 1500");
    tg.pushUpdate({ message_reaction: { chat: { id: USER.id, type: "private" }, message_id: 1, date: 0, old_reaction: [], new_reaction: [] } });
    await tg.pressButton(USER, { messageId: 1, data: "x" });
    // Not confirmed yet: the first update comes again; limit cuts the batch.
    const again = await api.getUpdates({ limit: 2 });
    expect(again.map((x) => x.update_id)).toEqual([1, 2]);
    expect(again[1]!.message!.entities).toEqual([{ type: "bot_command", offset: 0, length: 6 }]);
    // offset confirms; message_reaction is not sent by default.
    const rest = await api.getUpdates({ offset: 2 });
    expect(rest.map((x) => x.update_id)).toEqual([2, 4]);
    expect(rest[1]!.callback_query!.data).toBe("x");
    // allowed_updates: only callback queries from now on (and remembered when omitted).
    await tg.sendText(USER, "ignored");
    await tg.pressButton(USER, { messageId: 1, data: "y" });
    const only = await api.getUpdates({ offset: 5, allowed_updates: ["callback_query"] });
    expect(only.map((x) => x.callback_query?.data)).toEqual(["y"]);
    await tg.sendText(USER, "still ignored");
    expect(await api.getUpdates({ offset: 7 })).toEqual([]);
  });

  it("close() answers a pending long poll at once and drops the sockets", async () => {
    await fake();
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    const waiting = api.getUpdates({ timeout: 30 });
    await until(() => tg.isPolling);
    const t0 = Date.now();
    await tg.close();
    expect(await waiting).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("refuses a wrong token with 401 and an unknown method with 404", async () => {
    await fake();
    const wrong = await fetch(`${tg.apiRoot}/bot123:WRONG/getMe`, { method: "POST" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ ok: false, error_code: 401, description: "Unauthorized" });
    const unknown = await fetch(`${tg.apiRoot}/bot${tg.token}/sendTelepathy`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ ok: false, error_code: 404, description: "Not Found: method not found" });
    // Method names are case-insensitive, GET with a query string works.
    const me = await fetch(`${tg.apiRoot}/bot${tg.token}/GETME`);
    expect(await me.json()).toMatchObject({ ok: true, result: { id: 123456, is_bot: true, username: "test_alert_bot", can_join_groups: true } });
  });

  it("refuses getUpdates while a webhook is set and POSTs updates to the webhook with the secret token", async () => {
    await fake();
    const got: Array<{ secret: string | undefined; body: any }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    let failFirst = true;
    const hook = http.createServer((req, res) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        if (failFirst) {
          failFirst = false;
          res.writeHead(502).end();
          return;
        }
        got.push({ secret: req.headers["x-telegram-bot-api-secret-token"] as string | undefined, body: JSON.parse(data) });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: "sendMessage", chat_id: USER.id, text: "via webhook reply" }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    try {
      const api = new Api(tg.token, { apiRoot: tg.apiRoot });
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/telegram/webhook`;
      expect(await api.setWebhook(url, { secret_token: "s3cret_token-1" })).toBe(true);
      expect(tg.webhook).toEqual({ url, secretToken: "s3cret_token-1" });
      expect((await apiError(api.getUpdates())).error_code).toBe(409);
      expect((await apiError(api.setWebhook(url, { secret_token: "bad token!" }))).description).toBe("Bad Request: secret token contains unallowed characters");
      await tg.sendText(USER, "/help");
      await until(() => tg.webhookDeliveries.length === 2);
      expect(got).toHaveLength(1);
      expect(got[0]!.secret).toBe("s3cret_token-1");
      expect(got[0]!.body.message.text).toBe("/help");
      // The first attempt got 502 and was retried; the reply in the response body was run.
      expect(tg.webhookDeliveries.map((d) => d.status)).toEqual([502, 200]);
      const [viaReply] = await tg.waitForMessages(USER.id, 1);
      expect(viaReply!.text).toBe("via webhook reply");
      expect((await api.getWebhookInfo()).last_error_message).toMatch(/502/);
      expect(await api.deleteWebhook()).toBe(true);
      expect(tg.webhook).toBeUndefined();
      expect(await api.getUpdates()).toEqual([]);
    } finally {
      hook.closeAllConnections();
      await new Promise((r) => hook.close(r));
    }
  });
});

describe("fake Telegram: validation", () => {
  it("parses HTML like Telegram and refuses malformed HTML with can't parse entities", async () => {
    await fake({ floodLimits: false });
    const api = newBot().api;
    const m = await api.sendMessage(USER.id, '⚠️ <b>RELIANCE</b> &lt;today&gt; <a href="https://x.test/?a=1&amp;b=2">link</a> <code>/alert</code>', {
      parse_mode: "HTML",
    });
    expect(m.text).toBe("⚠️ RELIANCE <today> link /alert");
    expect(m.entities).toEqual([
      { type: "bold", offset: 3, length: 8 },
      { type: "text_link", offset: 20, length: 4, url: "https://x.test/?a=1&b=2" },
      { type: "code", offset: 25, length: 6 },
    ]);
    const [rec] = tg.sentTo(USER.id);
    expect(rec!.text).toBe("⚠️ RELIANCE <today> link /alert");
    expect(rec!.rawText).toContain("<b>RELIANCE</b>");
    expect(rec!.parseMode).toBe("HTML");

    const bad: Array<[string, string]> = [
      ["<b>bold", `Can't find end tag corresponding to start tag "b"`],
      ["line<br>break", `Unsupported start tag "br" at byte offset 4`],
      ["price < 1500", `Unsupported start tag "" at byte offset 6`],
      ["1500<2000", "Unclosed start tag at byte offset 4"],
      ["<b><i>x</b></i>", `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`],
      ["x</b>", "Unexpected end tag at byte offset 1"],
      ['<span class="red">x</span>', `Tag "span" must have class "tg-spoiler" at byte offset 0`],
      ["<p>para</p>", `Unsupported start tag "p" at byte offset 0`],
    ];
    for (const [text, why] of bad) {
      const e = await apiError(api.sendMessage(USER.id, text, { parse_mode: "HTML" }));
      expect(e.error_code).toBe(400);
      expect(e.description).toBe(`Bad Request: can't parse entities: ${why}`);
    }
    // Without parse_mode the same text is fine, tags and all.
    expect((await api.sendMessage(USER.id, "price < 1500 <b>")).text).toBe("price < 1500 <b>");
    // Supported extras.
    const ok = parseHtml(
      '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">p</span><pre><code class="language-ts">x</code></pre><blockquote expandable>q</blockquote><s>d</s>',
    );
    expect(ok.entities.map((e) => e.type)).toEqual(["spoiler", "spoiler", "pre", "expandable_blockquote", "strikethrough"]);
    expect(ok.entities[2]!.language).toBe("ts");
    expect(sentCount()).toBe(2);
    // MarkdownV2 reserved characters.
    expect(() => parseMarkdownV2("Price 1500.50")).toThrow("Character '.' is reserved and must be escaped with the preceding '\\'");
    expect(parseMarkdownV2("*Price* 1500\\.50 __u__").entities).toEqual([
      { type: "bold", offset: 0, length: 5 },
      { type: "underline", offset: 14, length: 1 },
    ]);
    expect((await apiError(api.sendMessage(USER.id, "*bold", { parse_mode: "MarkdownV2" }))).description).toBe(
      "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0",
    );
  });

  it("enforces 1-4096 characters after entity parsing", async () => {
    await fake({ floodLimits: false });
    const api = newBot().api;
    await api.sendMessage(USER.id, "a".repeat(4096));
    expect((await apiError(api.sendMessage(USER.id, "a".repeat(4097)))).description).toBe("Bad Request: message is too long");
    // Tags and escapes do not count; the characters they stand for do.
    await api.sendMessage(USER.id, `<b>${"a".repeat(4096)}</b>`, { parse_mode: "HTML" });
    await api.sendMessage(USER.id, "&amp;".repeat(4096), { parse_mode: "HTML" });
    expect((await apiError(api.sendMessage(USER.id, "&lt;".repeat(4097), { parse_mode: "HTML" }))).description).toBe("Bad Request: message is too long");
    // Characters, not UTF-16 units: 4096 emoji fit.
    await api.sendMessage(USER.id, "📈".repeat(4096));
    expect((await apiError(api.sendMessage(USER.id, ""))).description).toBe("Bad Request: message text is empty");
    expect((await apiError(api.sendMessage(USER.id, "  \n "))).description).toBe("Bad Request: message text is empty");
    expect((await apiError(api.sendMessage(USER.id, "<b></b>", { parse_mode: "HTML" }))).description).toBe("Bad Request: message text is empty");
    expect(sentCount()).toBe(4);
  });

  it("refuses callback_data outside 1-64 bytes", async () => {
    await fake({ floodLimits: false });
    const api = newBot().api;
    await api.sendMessage(USER.id, "ok", { reply_markup: new InlineKeyboard().text("64", "x".repeat(64)) });
    const e = await apiError(api.sendMessage(USER.id, "too long", { reply_markup: new InlineKeyboard().text("65", "é".repeat(33)) }));
    expect(e.description).toBe("Bad Request: BUTTON_DATA_INVALID");
    const empty = await apiError(api.sendMessage(USER.id, "empty", { reply_markup: { inline_keyboard: [[{ text: "e", callback_data: "" }]] } }));
    expect(empty.description).toBe("Bad Request: BUTTON_DATA_INVALID");
  });
});

describe("fake Telegram: limits and failures", () => {
  it("answers rapid messages into one chat with 429 and retry_after", async () => {
    await fake();
    const api = newBot().api;
    const results = [];
    for (let i = 0; i < 6; i++)
      results.push(
        await api.sendMessage(USER.id, `msg ${i}`).then(
          () => "ok",
          (e: unknown) => e,
        ),
      );
    const errors = results.filter((r): r is GrammyError => r instanceof GrammyError);
    expect(results.slice(0, 3)).toEqual(["ok", "ok", "ok"]);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]!.error_code).toBe(429);
    expect(errors[0]!.parameters.retry_after).toBeGreaterThanOrEqual(1);
    expect(errors[0]!.description).toBe(`Too Many Requests: retry after ${errors[0]!.parameters.retry_after}`);
    // Refused sends are not recorded; other chats are not affected.
    expect(tg.sentTo(USER.id)).toHaveLength(results.filter((r) => r === "ok").length);
    await api.sendMessage(OTHER.id, "fine");
  });

  it("models 1/s per chat with a burst of 3, 30/s overall and 20/min per group on the injected clock", async () => {
    let clock = 1_700_000_000_000;
    await fake({ now: () => clock });
    const api = newBot().api;
    for (let i = 0; i < 3; i++) await api.sendMessage(USER.id, `burst ${i}`);
    let e = await apiError(api.sendMessage(USER.id, "one too many"));
    expect(e.parameters.retry_after).toBe(1);
    clock += 400;
    e = await apiError(api.sendMessage(USER.id, "still too early"));
    expect(e.parameters.retry_after).toBe(1);
    clock += 600;
    await api.sendMessage(USER.id, "after a second");
    // Edits and callback answers do not count.
    const m = tg.sentTo(USER.id)[0]!;
    await api.editMessageText(USER.id, m.messageId, "edited");

    // 30 a second across chats.
    clock += 10_000;
    for (let i = 0; i < 30; i++) await api.sendMessage(2000 + i, "bulk");
    e = await apiError(api.sendMessage(3000, "the 31st"));
    expect(e.error_code).toBe(429);
    clock += 1000;
    await api.sendMessage(3000, "next second");

    // 20 a minute into a group, even at one a second.
    clock += 60_000;
    for (let i = 0; i < 20; i++) {
      await api.sendMessage(-4001, `group ${i}`);
      clock += 1000;
    }
    e = await apiError(api.sendMessage(-4001, "the 21st"));
    expect(e.parameters.retry_after).toBe(40);
  });

  it("answers 403 once the user blocked the bot", async () => {
    await fake();
    const api = newBot().api;
    await api.sendMessage(USER.id, "before");
    tg.blockUser(USER.id);
    const e = await apiError(api.sendMessage(USER.id, "after"));
    expect(e.error_code).toBe(403);
    expect(e.description).toBe("Forbidden: bot was blocked by the user");
    expect((await apiError(api.sendChatAction(USER.id, "typing"))).error_code).toBe(403);
    expect((await apiError(api.sendDocument(USER.id, new InputFile(Buffer.from("x"), "a.txt")))).error_code).toBe(403);
    expect(tg.sentTo(USER.id).map((m) => m.text)).toEqual(["before"]);
    expect(tg.calls.filter((c) => c.status === 403)).toHaveLength(3);
    tg.unblockUser(USER.id);
    await api.sendMessage(USER.id, "again");
  });

  it("failNext injects 500 and 429 for a method, then behaves", async () => {
    await fake({ floodLimits: false });
    const api = newBot().api;
    tg.failNext({ method: "sendMessage", status: 500 });
    tg.failNext({ method: "sendMessage", status: 429, retryAfter: 7 });
    expect((await apiError(api.sendMessage(USER.id, "a"))).error_code).toBe(500);
    const e = await apiError(api.sendMessage(USER.id, "b"));
    expect([e.error_code, e.parameters.retry_after]).toEqual([429, 7]);
    await api.sendMessage(USER.id, "c");
    expect(tg.sentTo(USER.id).map((m) => m.text)).toEqual(["c"]);
  });
});

describe("fake Telegram: files and commands", () => {
  it("records sendDocument with an InputFile(Buffer): filename, bytes, content", async () => {
    await fake({ floodLimits: false });
    const bot = newBot();
    const content = Buffer.from("SQLite format 3\u0000" + "x".repeat(5000));
    const m = await bot.api.sendDocument(USER.id, new InputFile(content, "bot-20250115.sqlite"), { caption: "<b>Backup</b> done", parse_mode: "HTML" });
    expect(m.document).toMatchObject({ file_name: "bot-20250115.sqlite", file_size: content.length });
    const [doc] = tg.sentTo(USER.id);
    expect(doc!.method).toBe("sendDocument");
    expect(doc!.document!.filename).toBe("bot-20250115.sqlite");
    expect(doc!.document!.bytes).toBe(content.length);
    expect(doc!.document!.content.equals(content)).toBe(true);
    expect(doc!.caption).toBe("Backup done");
    expect(doc!.raw.chat_id).toBe(String(USER.id));

    // No filename: grammY names it after the field; a returned file_id can be sent again.
    await bot.api.sendDocument(OTHER.id, new InputFile(Buffer.from("abc")));
    expect(tg.sentTo(OTHER.id)[0]!.document!.filename).toBe("document.dat");
    await bot.api.sendDocument(OTHER.id, m.document.file_id);
    expect(tg.sentTo(OTHER.id)[1]!.document!.bytes).toBe(content.length);
    expect((await apiError(bot.api.sendDocument(OTHER.id, new InputFile(Buffer.alloc(0), "empty.txt")))).description).toBe(
      "Bad Request: file must be non-empty",
    );

    // sendPhoto measures the image; bytes that are no image are refused.
    const p = await bot.api.sendPhoto(OTHER.id, new InputFile(png(640, 320), "chart.png"), { caption: "RELIANCE" });
    expect(p.photo[0]).toMatchObject({ width: 640, height: 320 });
    expect(tg.sentTo(OTHER.id).at(-1)!.photo!.filename).toBe("chart.png");
    expect((await apiError(bot.api.sendPhoto(OTHER.id, new InputFile(Buffer.from("not an image"), "x.png")))).description).toBe(
      "Bad Request: IMAGE_PROCESS_FAILED",
    );

    // A standard (quoted) multipart body, as curl or fetch's FormData send it.
    const form = new FormData();
    form.set("chat_id", String(USER.id + 5));
    form.set("document", new Blob([Buffer.from("a;b\r\n--c")]), "report Q1.csv");
    const res = await fetch(`${tg.apiRoot}/bot${tg.token}/sendDocument`, { method: "POST", body: form });
    expect(res.status).toBe(200);
    const viaForm = tg.sentTo(USER.id + 5)[0]!;
    expect(viaForm.document!.filename).toBe("report Q1.csv");
    expect(viaForm.document!.content.toString()).toBe("a;b\r\n--c");
  });

  it("records setMyCommands with its scope and serves getMyCommands", async () => {
    await fake();
    const api = newBot().api;
    await api.setMyCommands([{ command: "start", description: "Start" }], { scope: { type: "all_private_chats" } });
    await api.setMyCommands(
      [
        { command: "start", description: "Start" },
        { command: "pause", description: "Pause polling" },
      ],
      { scope: { type: "chat", chat_id: 999 } },
    );
    expect(tg.commands).toEqual([
      { commands: [{ command: "start", description: "Start" }], scope: { type: "all_private_chats" } },
      {
        commands: [
          { command: "start", description: "Start" },
          { command: "pause", description: "Pause polling" },
        ],
        scope: { type: "chat", chat_id: 999 },
      },
    ]);
    expect((await api.getMyCommands({ scope: { type: "chat", chat_id: 999 } })).map((c) => c.command)).toEqual(["start", "pause"]);
    expect(await api.getMyCommands()).toEqual([]);
    expect((await apiError(api.setMyCommands([{ command: "Bad-Name", description: "x" }]))).description).toBe("Bad Request: BOT_COMMAND_INVALID");
    await api.deleteMyCommands({ scope: { type: "chat", chat_id: 999 } });
    expect(await api.getMyCommands({ scope: { type: "chat", chat_id: 999 } })).toEqual([]);
  });
});

function sentCount(): number {
  return tg.sent.length;
}
