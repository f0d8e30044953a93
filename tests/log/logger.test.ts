import { describe, expect, it } from "vitest";
import { createLogger, scrub } from "../../src/log/logger.js";

/** A parsed log line, with the nested objects the tests read. */
interface LogRecord {
  [key: string]: unknown;
  req: { headers: Record<string, string> };
  err: { message: string; stack: string };
}

/** A pino destination that keeps every line it is given. */
function capture() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (s: string) => void lines.push(s) },
    text: () => lines.join(""),
  };
}

const BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const CONFIGURED_SECRET = "smtp-pass-Zq81xk";

describe("createLogger (json)", () => {
  it("redacts secret fields, nested authorization headers, bot-token URLs and configured secrets", () => {
    const out = capture();
    const log = createLogger({ level: "info", format: "json", secrets: [CONFIGURED_SECRET], destination: out.stream });

    log.info({ token: "tok-top-level-1111", symbol: "RELIANCE" }, "rule fired");
    log.info({ upstox: { access_token: "eyJ-access-2222" }, userId: 42 }, "linked account");
    log.info({ user: { password: "hunter2-3333" } }, "user update");
    log.info({ req: { headers: { authorization: "Bearer abcdef0123456789", accept: "application/json" } } }, "upstream call");
    log.error({ err: new Error(`request to https://api.telegram.org/bot${BOT_TOKEN}/sendMessage failed: ETIMEDOUT`) }, "telegram send failed");
    log.warn(`could not log in to SMTP with ${CONFIGURED_SECRET}`);

    const text = out.text();
    for (const secret of ["tok-top-level-1111", "eyJ-access-2222", "hunter2-3333", "abcdef0123456789", BOT_TOKEN, CONFIGURED_SECRET]) {
      expect(text, secret).not.toContain(secret);
    }
    // The bot id part of the token alone is also not left dangling in the URL.
    expect(text).not.toContain("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");

    const records = out.lines.map((l) => JSON.parse(l) as LogRecord);
    expect(records).toHaveLength(6);
    expect(records[0]).toMatchObject({ token: "[redacted]", symbol: "RELIANCE", msg: "rule fired", level: 30 });
    expect(records[1]).toMatchObject({ upstox: { access_token: "[redacted]" }, userId: 42 });
    expect(records[2]).toMatchObject({ user: { password: "[redacted]" } });
    expect(records[3]!.req.headers).toEqual({ authorization: "[redacted]", accept: "application/json" });
    expect(records[4]!.err.message).toContain("https://api.telegram.org/bot[redacted]/sendMessage");
    expect(records[4]!.err.message).toContain("ETIMEDOUT");
    expect(records[4]!.err.stack).not.toContain(BOT_TOKEN);
    expect(records[4]).toMatchObject({ level: 50, msg: "telegram send failed" });
    expect(records[5]!.msg).toBe("could not log in to SMTP with [redacted]");
  });

  it("scrubs Bearer tokens and bot URLs it was not told about", () => {
    const out = capture();
    const log = createLogger({ level: "info", format: "json", destination: out.stream });
    log.info(`GET /v2/quotes with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig`);
    log.info({ url: `https://api.telegram.org/bot${BOT_TOKEN}/getUpdates` }, "poll");
    const text = out.text();
    expect(text).not.toContain("eyJhbGciOiJIUzI1NiJ9");
    expect(text).not.toContain(BOT_TOKEN);
    expect(text).toContain("Bearer [redacted]");
    expect(text).toContain("/bot[redacted]/getUpdates");
  });

  it("redacts a configured secret containing JSON-escaped characters", () => {
    const out = capture();
    const secret = 'pa"ss\\word-77';
    const log = createLogger({ level: "info", format: "json", secrets: [secret], destination: out.stream });
    log.info({ note: `password is ${secret}` }, "x");
    const record = JSON.parse(out.lines[0]!) as { note: string };
    expect(record.note).not.toContain("word-77");
    expect(record.note).toBe("password is [redacted]");
  });

  it("ignores too-short secrets instead of shredding every line", () => {
    const out = capture();
    const log = createLogger({ level: "info", format: "json", secrets: ["a", ""], destination: out.stream });
    log.info("a plain message about alerts");
    expect(JSON.parse(out.lines[0]!).msg).toBe("a plain message about alerts");
  });

  it("respects the level", () => {
    const out = capture();
    const log = createLogger({ level: "warn", format: "json", destination: out.stream });
    log.info("hidden");
    log.debug("hidden too");
    log.warn("shown");
    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ level: 40, msg: "shown" });
    log.level = "info";
    log.info("now shown");
    expect(out.lines).toHaveLength(2);
  });

  it("redacts secrets in child logger bindings", () => {
    const out = capture();
    const log = createLogger({ level: "info", format: "json", secrets: [CONFIGURED_SECRET], destination: out.stream });
    const child = log.child({ job: "notify", smtpUrl: `smtp://u:${CONFIGURED_SECRET}@h:587` });
    child.info({ chatId: 99 }, "sent");
    const rec = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ job: "notify", chatId: 99, msg: "sent", smtpUrl: "[redacted]" });
    expect(out.text()).not.toContain(CONFIGURED_SECRET);
  });
});

describe("createLogger (pretty)", () => {
  it("writes human-readable lines and still redacts", () => {
    const out = capture();
    const log = createLogger({ level: "info", format: "pretty", secrets: [CONFIGURED_SECRET], destination: out.stream });
    log.info({ token: "tok-pretty-9999", symbol: "TCS" }, `alert for TCS via ${CONFIGURED_SECRET}`);
    log.error({ err: new Error(`GET https://api.telegram.org/bot${BOT_TOKEN}/getMe failed`) }, "boom");
    const text = out.text();
    expect(text).toContain("alert for TCS via [redacted]");
    expect(text).toContain("INFO");
    expect(text).toContain("TCS");
    expect(text).toContain("[redacted]");
    expect(text).not.toContain("tok-pretty-9999");
    expect(text).not.toContain(CONFIGURED_SECRET);
    expect(text).not.toContain(BOT_TOKEN);
    // Pretty output is not JSON lines and carries no ANSI colours when writing to a capture stream.
    expect(() => JSON.parse(out.lines[0]!)).toThrow();
    // eslint-disable-next-line no-control-regex -- the ANSI escape itself is what must be absent
    expect(text).not.toMatch(/\u001b\[/);
  });
});

describe("scrub", () => {
  it("replaces every occurrence of each secret", () => {
    expect(scrub("x=s3cret-A y=s3cret-A z=other-B", ["s3cret-A", "other-B"])).toBe("x=[redacted] y=[redacted] z=[redacted]");
  });

  it("leaves lines without secrets alone", () => {
    expect(scrub('{"msg":"polled 12 instruments"}', ["s3cret-A"])).toBe('{"msg":"polled 12 instruments"}');
  });
});
