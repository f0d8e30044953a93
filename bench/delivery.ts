import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApp, type RunningApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { createLogger } from "../src/log/logger.js";
import { enqueueNotifications } from "../src/queue/queues.js";
import { DEFAULT_FLOOD_LIMITS, FakeTelegram } from "../tests/fakes/telegram/index.js";
import { deletePrefix, TEST_REDIS_URL } from "../tests/support/env.js";
import type { BenchResult } from "./report.js";

/**
 * Outbox rows to Telegram at the global flood limit: the real app (BullMQ workers on Redis,
 * SQLite outbox, the shared Redis rate limiter, per-chat locks) against the fake Bot API with
 * its flood limits on. 2,000 messages to 600 chats, so the one-a-second chat limit never
 * binds and the 30 a second overall is what the delivery path must sustain.
 *
 * Each row is a broadcast of ~2,100 characters: two never fit one Telegram message, so every
 * row is its own send (with short alerts the per-chat grouping would fold 2,000 rows into
 * about 600 messages, and the figure would say nothing about the send rate).
 *
 * Figures: messages a second between the first and the last accepted send, against the
 * fake's 30/s (target >= 0.95); rows not sent when the run ends (target 0).
 */
export async function benchDelivery(messages = 2000, chats = 600, concurrency = 32): Promise<BenchResult[]> {
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
    // The worker role: the queue workers only (no schedulers, HTTP or chat bot to disturb the figure).
    app = await startApp(config, { role: "worker", demo: false, log: createLogger({ level: "silent", format: "json" }) });
    const s = app.services;

    const filler = "Markets will close early on the day of the budget session. ".repeat(36);
    const ids = s.db.transaction(() => {
      const users = Array.from({ length: chats }, (_, k) => s.users.create({ telegramId: 900_000 + k, channels: "telegram" }));
      return Array.from({ length: messages }, (_, i) =>
        s.outbox.enqueueRow({
          userId: users[i % chats]!.id,
          channel: "telegram",
          kind: "broadcast",
          dedupKey: `bench:${i}`,
          payload: { text: `#${i} ${filler}` },
        }),
      );
    })();
    const sentRows = s.db.prepare("SELECT COUNT(*) AS n FROM notifications WHERE status = 'sent'");
    const countSent = () => (sentRows.get() as { n: number }).n;

    await enqueueNotifications(s.queues, ids, s.delivery);
    // Twice the time the limit allows, plus start-up: anything still pending then counts as lost.
    const deadline = Date.now() + (messages / DEFAULT_FLOOD_LIMITS.globalPerSecond) * 2000 + 30_000;
    while (countSent() < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const lost = messages - countSent();

    const sends = tg.sent
      .filter((m) => m.method === "sendMessage")
      .map((m) => m.at)
      .sort((a, b) => a - b);
    const spanS = sends.length > 1 ? (sends.at(-1)! - sends[0]!) / 1000 : NaN;
    const rate = (sends.length - 1) / spanS;
    const limit = DEFAULT_FLOOD_LIMITS.globalPerSecond;
    const refused = tg.calls.filter((c) => c.method === "sendMessage" && c.status === 429).length;
    return [
      {
        name: `Telegram sends/s, ${messages} messages to ${chats} chats, concurrency ${concurrency} (${sends.length} sends in ${spanS.toFixed(1)} s, ${refused} × 429)`,
        value: rate,
        unit: "msg/s",
        limit,
        ratio: rate / limit,
        target: ">= 0.95",
      },
      // Lost rows against a limit of none: the ratio is the count itself, so 0 meets "= 0".
      { name: "rows not delivered", value: lost, unit: "rows", limit: 0, ratio: lost, target: "= 0" },
    ];
  } finally {
    await app?.stop().catch(() => {});
    await tg.close();
    await deletePrefix(prefix).catch(() => 0);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
