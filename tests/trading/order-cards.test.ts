import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { UserRepository } from "../../src/db/repositories/users.js";
import type { PlaceRequest } from "../../src/trading/card-request.js";
import { cardIdOfTag, cardTag } from "../../src/orders/card-tag.js";
import { OrderCards } from "../../src/trading/order-cards.js";
import { TradingHalt } from "../../src/trading/trading-halt.js";
import { removeDir, tempDir } from "../support/env.js";

const request: PlaceRequest = {
  action: "place",
  instrumentKey: "NSE_EQ|INE002A01018",
  symbol: "RELIANCE",
  side: "BUY",
  quantity: 1,
  orderType: "LIMIT",
  price: 1400,
  triggerPrice: undefined,
  product: "D",
  value: 1400,
};

describe("confirmation cards in SQLite", () => {
  let dir: string;
  let db: Database;
  let other: Database;
  let userId: number;
  let otherId: number;
  beforeEach(() => {
    dir = tempDir("uab-cards-");
    db = openDatabase(path.join(dir, "bot.sqlite"));
    // A second connection stands for another process pressing the same card.
    other = openDatabase(path.join(dir, "bot.sqlite"));
    const users = new UserRepository(db);
    userId = users.create({ telegramId: 1, telegramUsername: null, displayName: null }).id;
    otherId = users.create({ telegramId: 2, telegramUsername: null, displayName: null }).id;
  });
  afterEach(() => {
    db.close();
    other.close();
    removeDir(dir);
  });

  it("leaves 'open' once: for its owner, before it expires, from whichever process is first", () => {
    const cards = new OrderCards(db);
    const elsewhere = new OrderCards(other);
    const card = cards.create({ userId, request, summary: "BUY 1 RELIANCE", now: 1000, ttlMs: 60_000 });
    expect(card).toMatchObject({ status: "open", expiresAt: 61_000 });
    expect(card.request).toEqual(request);
    expect(cardIdOfTag(cardTag(card.id))).toBe(card.id);
    expect(cardIdOfTag("someone-else")).toBeUndefined();

    expect(cards.claim(card.id, otherId, 2000)).toMatchObject({ ok: false, reason: "not_yours" });
    expect(elsewhere.claim(card.id, userId, 2000)).toMatchObject({ ok: true });
    expect(cards.claim(card.id, userId, 2001)).toMatchObject({ ok: false, reason: "decided" });
    cards.finish(card.id, "done", { kind: "placed" }, 2500);
    expect(cards.get(card.id)).toMatchObject({ status: "done", outcome: { kind: "placed" } });
    expect(cards.claim("000000000000", userId, 3000)).toMatchObject({ ok: false, reason: "missing" });

    const late = cards.create({ userId, request, summary: "late", now: 1000, ttlMs: 60_000 });
    expect(cards.claim(late.id, userId, 61_000)).toMatchObject({ ok: false, reason: "expired" });
    expect(cards.get(late.id)!.status).toBe("expired");
    expect(cards.dismiss(late.id, userId, 61_001)).toBe(false);

    const dropped = cards.create({ userId, request, summary: "dropped", now: 1000, ttlMs: 60_000 });
    expect(cards.dismiss(dropped.id, otherId, 1001)).toBe(false);
    expect(cards.dismiss(dropped.id, userId, 1001)).toBe(true);
    expect(cards.claim(dropped.id, userId, 1002)).toMatchObject({ ok: false, reason: "decided" });
  });

  it("counts today's orders sent from chat, whatever Upstox answered, but not dropped or refused cards", () => {
    const cards = new OrderCards(db);
    const make = (now: number, status?: "done" | "unknown" | "failed" | "dismissed") => {
      const c = cards.create({ userId, request, summary: "x", now, ttlMs: 60_000 });
      if (status === "dismissed") cards.dismiss(c.id, userId, now);
      else if (status) {
        cards.claim(c.id, userId, now);
        cards.finish(c.id, status, null, now);
      }
    };
    make(500, "done"); // yesterday
    make(1000, "done");
    make(1000, "unknown");
    make(1000, "failed");
    make(1000, "dismissed");
    make(1000);
    expect(cards.placedSince(userId, 1000)).toBe(2);
    expect(cards.placedSince(otherId, 0)).toBe(0);
  });

  it("the halt is one flag every process sees at once", () => {
    const halt = new TradingHalt(db);
    const seen = new TradingHalt(other);
    expect(seen.haltedSince()).toBeUndefined();
    expect(halt.halt(5000)).toBe(true);
    expect(halt.halt(6000)).toBe(false);
    expect(seen.haltedSince()).toBe(5000);
    expect(seen.resume()).toBe(true);
    expect(halt.haltedSince()).toBeUndefined();
    expect(halt.resume()).toBe(false);
  });
});
