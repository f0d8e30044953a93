import { connect } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeTelegram } from "../fakes/telegram/index.js";
import { capturingLog } from "../support/app.js";
import { unusedPort } from "../support/env.js";
import { startAppFixture, type AppFixture } from "../support/fixture.js";
import { waitUntil } from "../support/wait.js";

const TG_SECRET = "tg-webhook-secret_0123456789";
const POSTBACK_SECRET = "postback-secret-0123456789";
const SECRET_HEADER = "x-telegram-bot-api-secret-token";

/**
 * Webhooks whose body is not what they expect, over real HTTP against the started app: the
 * sender gets 400 and a short JSON error, the log one warning without a stack, never a 500.
 */
describe("webhooks with a malformed body", () => {
  let tg: FakeTelegram;
  let f: AppFixture;
  let base: string;
  let lines: ReturnType<typeof capturingLog>["lines"];

  beforeAll(async () => {
    tg = await FakeTelegram.start({ floodLimits: false });
    // Telegram must know where to post, so the port is chosen before the app binds it.
    const port = await unusedPort();
    const captured = capturingLog("info");
    lines = captured.lines;
    f = await startAppFixture({
      upstox: true,
      smtp: false,
      env: {
        UPSTOX_WEBHOOK_SECRET: POSTBACK_SECRET,
        HTTP_PORT: String(port),
        HTTP_HOST: "127.0.0.1",
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_MODE: "webhook",
        TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
      },
      log: captured.log,
    });
    base = f.baseUrl;
    expect(tg.webhook).toEqual({ url: `http://127.0.0.1:${port}/telegram/webhook`, secretToken: TG_SECRET });
  });

  afterAll(async () => {
    await f?.close();
    await tg?.close();
  });

  beforeEach(() => {
    lines.length = 0;
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  async function expect400(res: Response, error: string | RegExp) {
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: string };
    expect(Object.keys(body)).toEqual(["error"]);
    if (typeof error === "string") expect(body.error).toBe(error);
    else expect(body.error).toMatch(error);
    expect(body.error.length).toBeLessThan(200);
  }

  /** One warning, no error or stack anywhere in the log. */
  function expectOneWarning(path: string, reason: string | RegExp) {
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings, JSON.stringify(lines)).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: "bad request", path, method: "POST" });
    if (typeof reason === "string") expect(warnings[0]!.reason).toBe(reason);
    else expect(warnings[0]!.reason).toMatch(reason);
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(JSON.stringify(lines)).not.toMatch(/"stack"|\\n\s{4}at /);
  }

  async function httpErrors(): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^uab_errors_total\{where="http"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  describe("Telegram webhook (right secret)", () => {
    it("a body that is not JSON: 400 'body is not JSON', one warning, not counted as our error", async () => {
      const before = await httpErrors();
      await expect400(await post("/telegram/webhook", '{"update_id": 1, "message": {', { [SECRET_HEADER]: TG_SECRET }), "body is not JSON");
      expectOneWarning("/telegram/webhook", "body is not JSON");
      expect(await httpErrors()).toBe(before);
    });

    it("an empty body: 400", async () => {
      await expect400(await post("/telegram/webhook", "", { [SECRET_HEADER]: TG_SECRET }), "body is not JSON");
      expectOneWarning("/telegram/webhook", "body is not JSON");
    });

    it("JSON that is not an update (an array, a number, an object without update_id): 400", async () => {
      for (const body of ["[1,2]", "42", "null", '{"message":{"text":"hi"}}']) {
        await expect400(await post("/telegram/webhook", body, { [SECRET_HEADER]: TG_SECRET }), "body is not a Telegram update");
      }
      expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    });

    it("a wrong or missing secret is still 401, whatever the body", async () => {
      expect((await post("/telegram/webhook", "not json", { [SECRET_HEADER]: "wrong-secret" })).status).toBe(401);
      expect((await post("/telegram/webhook", "not json")).status).toBe(401);
      expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    });

    it("a real update Telegram posts still reaches the bot, which answers", async () => {
      const delivered = tg.webhookDeliveries.length;
      await tg.sendText({ id: 4242, first_name: "Asha" }, "/help");
      const [reply] = await tg.waitForMessages(4242, 1);
      expect(reply!.text).toBeTruthy();
      // The fake records the delivery once the webhook has answered, after the bot's reply.
      const statuses = await waitUntil(
        () => (tg.webhookDeliveries.length > delivered ? tg.webhookDeliveries.slice(delivered).map((d) => d.status) : undefined),
        {
          what: "the webhook delivery to be recorded",
        },
      );
      expect(statuses).toEqual([200]);
    });
  });

  describe("Upstox order postback", () => {
    const path = `/upstox/orders/${POSTBACK_SECRET}`;

    it("a body that is not JSON: 400 naming what is wrong, one warning", async () => {
      const before = await httpErrors();
      await expect400(await post(path, "order_id=1&status=complete"), "not an order update: body is not JSON");
      expectOneWarning(path, "not an order update: body is not JSON");
      expect(await httpErrors()).toBe(before);
    });

    it("JSON that is not an order update: 400 with the first problems", async () => {
      await expect400(await post(path, '{"update_type":"order"}'), /^not an order update: order_id: /);
      expectOneWarning(path, /^not an order update: /);
    });

    it("a well-formed update for an account nobody linked is still 200", async () => {
      const res = await post(
        path,
        JSON.stringify({
          update_type: "order",
          user_id: "NOBODY",
          order_id: "1",
          status: "open",
          quantity: 1,
          transaction_type: "BUY",
          order_type: "MARKET",
          instrument_key: "NSE_EQ|INE002A01018",
        }),
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ignored: "unknown user" });
    });
  });

  it("a request target that is not a URL: 400, and the server keeps serving", async () => {
    const raw = await rawRequest(f.app.httpPort!, "GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

/** Sends bytes as they are and resolves with everything the server answered. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (answer += d));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(request);
  });
}
