import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApp, type RunningApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { createLogger } from "../src/log/logger.js";
import { enqueueNotifications } from "../src/queue/queues.js";
import type { Services } from "../src/services.js";
import { DEFAULT_FLOOD_LIMITS, FakeTelegram, type ApiCall, type SentMessage } from "../tests/fakes/telegram/index.js";
import { deletePrefix, TEST_REDIS_URL } from "../tests/support/env.js";
import type { BenchResult } from "./report.js";

/**
 * Outbox rows to Telegram through the real app (the worker role: BullMQ workers on Redis, the
 * SQLite outbox, the shared Redis limiter, the per-chat holders) against the fake Bot API with
 * its flood limits on: 30 sends in any second overall, one a second into a chat (a bucket of
 * three for short bursts), 429 with retry_after beyond that.
 *
 * Each row is a broadcast of ~2,100 characters, so two never fit one Telegram message and
 * every row is its own send (short alerts into one chat are grouped into one message, and the
 * figures would say nothing about the send rate). Each row carries its own marker, so what
 * the fake received is checked row by row: lost (never arrived), duplicated (arrived twice),
 * out of order within its chat.
 *
 * Two scenarios, one after the other on the same app:
 * - the global limit binds: 2,000 rows to 600 chats (about three each, far apart);
 * - the chat limit binds: 25 rows into each of 8 chats at once (8 a second in all, far below 30).
 */
export async function benchDelivery(opts: { concurrency?: number } = {}): Promise<BenchResult[]> {
  // The default a user gets (WORKER_CONCURRENCY, 16), unless a caller asks for another.
  const concurrency = opts.concurrency ?? 16;
  const dataDir = mkdtempSync(path.join(tmpdir(), "uab-bench-delivery-"));
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const tg = await FakeTelegram.start({ floodLimits: true });
  let app: RunningApp | undefined;
  try {
    const config = loadConfig({
      NODE_ENV: "test",
      LOG_LEVEL: "silent",
      HTTP_PORT: "0",
      DATA_DIR: dataDir,
      QUEUE_PREFIX: prefix,
      REDIS_URL: TEST_REDIS_URL,
      POLL_INTERVAL: "3600",
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      WORKER_CONCURRENCY: String(concurrency),
    });
    // The worker role: the queue workers only (no schedulers, HTTP or chat bot to disturb the figures).
    app = await startApp(config, { role: "worker", demo: false, log: createLogger({ level: "silent", format: "json" }) });
    const s = app.services;
    const results: BenchResult[] = [];

    const global = await scenario(s, tg, { name: "global", rows: 2000, chats: 600, firstChat: 900_000 });
    results.push(
      {
        name: `sends/s ÷ the fake's ${DEFAULT_FLOOD_LIMITS.globalPerSecond}/s: 2,000 rows to 600 chats, concurrency ${concurrency} (${global.rate.toFixed(2)} msg/s, ${global.sends} sends in ${global.spanS.toFixed(1)} s)`,
        value: global.rate / DEFAULT_FLOOD_LIMITS.globalPerSecond,
        unit: "×",
        goal: 0.95,
        better: "higher",
      },
      { name: "global: rows lost (never reached the fake, or not marked sent)", value: global.lost, unit: "rows", goal: 0, better: "lower" },
      { name: "global: rows delivered twice", value: global.duplicates, unit: "rows", goal: 0, better: "lower" },
      { name: "global: HTTP 429 from the global limit (each wastes a slot)", value: global.refused.global, unit: "× 429", better: "lower" },
      { name: "global: HTTP 429 from the chat limit", value: global.refused.chat, unit: "× 429", better: "lower" },
    );

    tg.resetFloodLimits();
    const chat = await scenario(s, tg, { name: "chat", rows: 200, chats: 8, firstChat: 910_000 });
    results.push(
      {
        name: `chat: slowest chat's sends/s, 25 rows into each of 8 chats (Telegram allows 1/s; fastest ${chat.chatRates.max.toFixed(3)})`,
        value: chat.chatRates.min,
        unit: "msg/s",
        goal: 0.9,
        better: "higher",
      },
      { name: "chat: HTTP 429 from the chat limit", value: chat.refused.chat, unit: "× 429", goal: 0, better: "lower" },
      { name: "chat: most sends into one chat in any 1 s (the fake's bucket allows 3)", value: chat.maxChatPerSecond, unit: "sends", better: "lower" },
      { name: "chat: rows lost (never reached the fake, or not marked sent)", value: chat.lost, unit: "rows", goal: 0, better: "lower" },
      { name: "chat: rows delivered twice", value: chat.duplicates, unit: "rows", goal: 0, better: "lower" },
      { name: "chat: rows out of order within their chat", value: chat.outOfOrder, unit: "rows", goal: 0, better: "lower" },
      { name: `chat: whole burst delivered in (25 rows a chat at 1/s)`, value: chat.spanS, unit: "s", better: "lower" },
    );
    return results;
  } finally {
    await app?.stop().catch(() => {});
    await tg.close();
    await deletePrefix(prefix).catch(() => 0);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface ScenarioResult {
  sends: number;
  spanS: number;
  rate: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  refused: { global: number; chat: number; other: number };
  chatRates: { min: number; max: number };
  maxChatPerSecond: number;
}

const FILLER = "Markets will close early on the day of the budget session. ".repeat(36);
const marker = (scenario: string, i: number) => `[${scenario}-${String(i).padStart(5, "0")}]`;
const MARKER = /\[([a-z]+)-(\d{5})\]/g;

/** Writes `rows` long broadcasts round-robin over `chats` new users, queues them all at once and waits until all are sent. */
async function scenario(s: Services, tg: FakeTelegram, o: { name: string; rows: number; chats: number; firstChat: number }): Promise<ScenarioResult> {
  tg.clearRecords();
  const ids = s.db.transaction(() => {
    const users = Array.from({ length: o.chats }, (_, k) => s.users.create({ telegramId: o.firstChat + k, channels: "telegram" }));
    return Array.from({ length: o.rows }, (_, i) =>
      s.outbox.enqueueRow({
        userId: users[i % o.chats]!.id,
        channel: "telegram",
        kind: "broadcast",
        dedupKey: `bench:${o.name}:${i}`,
        payload: { text: `${marker(o.name, i)} ${FILLER}` },
      }),
    );
  })();
  const sentRows = s.db.prepare(`SELECT COUNT(*) AS n FROM notifications WHERE dedup_key LIKE 'bench:${o.name}:%' AND status = 'sent'`);
  const countSent = () => (sentRows.get() as { n: number }).n;

  await enqueueNotifications(s.queues, ids, s.delivery);
  // Twice the time the binding limit allows, plus start-up: anything not sent by then counts as lost.
  const perChat = Math.ceil(o.rows / o.chats);
  const expectedS = Math.max(o.rows / DEFAULT_FLOOD_LIMITS.globalPerSecond, perChat / DEFAULT_FLOOD_LIMITS.chatPerSecond);
  const deadline = Date.now() + expectedS * 2000 + 30_000;
  while (countSent() < o.rows && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  // Jobs of rows their chat's holder already sent are still finishing: let them, so a late duplicate would show.
  await new Promise((r) => setTimeout(r, 3000));

  const sends = tg.sent.filter((m) => m.method === "sendMessage").sort((a, b) => a.at - b.at);
  const received = tally(sends, o.name, o.rows, o.firstChat, o.chats);
  const spanS = sends.length > 1 ? (sends.at(-1)!.at - sends[0]!.at) / 1000 : NaN;
  return {
    sends: sends.length,
    spanS,
    rate: (sends.length - 1) / spanS,
    lost: Math.max(o.rows - countSent(), received.missing),
    duplicates: received.duplicates,
    outOfOrder: received.outOfOrder,
    refused: refusals(tg.calls),
    ...chatPace(sends),
  };
}

/** Row by row, from what the fake received: how many never arrived, arrived twice, or overtook an earlier row of their chat. */
function tally(sends: readonly SentMessage[], name: string, rows: number, firstChat: number, chats: number) {
  const seen = new Array<number>(rows).fill(0);
  const lastInChat = new Map<number, number>();
  let outOfOrder = 0;
  for (const m of sends) {
    for (const [, tag, n] of (m.rawText ?? "").matchAll(MARKER)) {
      const i = Number(n);
      if (tag !== name || i >= rows || m.chatId !== firstChat + (i % chats)) continue;
      seen[i]!++;
      if ((lastInChat.get(m.chatId) ?? -1) > i) outOfOrder++;
      lastInChat.set(m.chatId, Math.max(i, lastInChat.get(m.chatId) ?? -1));
    }
  }
  return { missing: seen.filter((c) => c === 0).length, duplicates: seen.filter((c) => c > 1).length, outOfOrder };
}

function refusals(calls: readonly ApiCall[]): ScenarioResult["refused"] {
  const r = { global: 0, chat: 0, other: 0 };
  for (const c of calls) {
    if (c.method !== "sendMessage" || c.status !== 429) continue;
    if (c.floodLimit === "global") r.global++;
    else if (c.floodLimit === "chat") r.chat++;
    else r.other++;
  }
  return r;
}

/** Each chat's rate between its first and last send, and the most sends into one chat within any second. */
function chatPace(sends: readonly SentMessage[]): Pick<ScenarioResult, "chatRates" | "maxChatPerSecond"> {
  const byChat = new Map<number, number[]>();
  for (const m of sends) byChat.set(m.chatId, [...(byChat.get(m.chatId) ?? []), m.at]);
  let min = Infinity;
  let max = 0;
  let maxChatPerSecond = 0;
  for (const times of byChat.values()) {
    if (times.length > 1) {
      const rate = (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
      min = Math.min(min, rate);
      max = Math.max(max, rate);
    }
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while (times[lo]! <= times[hi]! - 1000) lo++;
      maxChatPerSecond = Math.max(maxChatPerSecond, hi - lo + 1);
    }
  }
  return { chatRates: { min: Number.isFinite(min) ? min : NaN, max }, maxChatPerSecond };
}
