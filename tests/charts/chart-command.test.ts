import { loadImage } from "@napi-rs/canvas";
import { afterEach, describe, expect, it } from "vitest";
import { istInstant } from "../../src/market/calendar.js";
import { SIMULATED_INSTRUMENTS } from "../../src/market/simulator.js";
import type { MarketCandle } from "../../src/market/types.js";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";

const RELIANCE = "NSE_EQ|INE002A01018";
const TRADER = { id: 4242, username: "chartist", first_name: "Chitra" };

/** /chart through the fake Telegram: the bot sends a PNG (sendPhoto) drawn from its candle store. */
describe("/chart", () => {
  let f: AppFixture | undefined;
  let tg: FakeTelegram | undefined;
  afterEach(async () => {
    await f?.close();
    await tg?.close();
  });

  it("sends the candles as a picture, answers a typo with the usage line, and says when it has no candles", async () => {
    const now = Date.parse("2025-01-07T15:40:00+05:30");
    tg = await FakeTelegram.start();
    f = await startAppFixture({ clock: () => now, smtp: false, env: { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot } });
    f.services.instruments.upsertMany(SIMULATED_INSTRUMENTS);
    // Two sessions of one-minute candles in the store.
    const minutes: Array<readonly [string, MarketCandle]> = [];
    let price = 1400;
    for (const date of ["2025-01-06", "2025-01-07"])
      for (let m = 9 * 60 + 15; m < 15 * 60 + 30; m++) {
        const open = price;
        price += Math.sin(m / 17) * 1.5;
        minutes.push([
          RELIANCE,
          { ts: istInstant(date, m).getTime(), open, high: Math.max(open, price) + 0.5, low: Math.min(open, price) - 0.5, close: price, volume: 1000 },
        ]);
      }
    f.services.candles.upsert("1m", minutes);
    const say = async (text: string) => {
      const before = tg!.sentTo(TRADER.id).length;
      await tg!.sendText(TRADER, text);
      return (await tg!.waitForMessages(TRADER.id, before + 1, 15_000))[before]!;
    };

    const sent = await say("/chart RELIANCE 5m 100 ema 50 bb");
    expect(sent.method).toBe("sendPhoto");
    expect(sent.caption).toBe(`RELIANCE 5m: 100 candles, last ₹${price.toFixed(2)}`);
    const image = await loadImage(sent.photo!.content);
    expect([image.width, image.height]).toEqual([1280, 720]);

    expect((await say("/chart RELIANCE 7m")).text).toContain("Usage: /chart SYMBOL [1m|5m|15m|30m|1h|1d]");
    expect((await say("/chart RELAINCE")).text).toContain("Did you mean RELIANCE?");
    expect((await say("/chart TCS")).text).toMatch(/^I have no candles of TCS yet/);
  });
});
