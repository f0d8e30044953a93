import { simpleParser } from "mailparser";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEmailSender, type EmailMessage, type EmailSender } from "../../src/notify/email.js";
import { removeDir, tempDir } from "../support/env.js";
import { startSmtpCapture, type SmtpCapture, type SmtpCaptureOptions } from "../support/smtp.js";

const FROM = "Upstox Alert Bot <alerts@bot.test>";
const message: EmailMessage = {
  to: "priya@example.com",
  subject: "INFY crossed above ₹1,600.00 (₹1,600.35)",
  text: "INFY crossed above ₹1,600.00\nLast price: Rs 1,600.35\n",
  html: "<p>🔔 <b>INFY</b> crossed above ₹1,600.00</p>",
  headers: { "List-Unsubscribe": "<https://bot.test/unsubscribe?u=1>" },
};

/** The SMTP sender against real SMTP servers: plain, STARTTLS, implicit TLS, AUTH; and the .eml fallback. */
describe("email sender over SMTP", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function server(opts: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
    const s = await startSmtpCapture(opts);
    cleanups.push(() => s.close());
    return s;
  }

  function sender(smtpUrl: string | undefined, outDir = "/nonexistent"): EmailSender {
    const s = createEmailSender({ smtpUrl, from: FROM, outDir });
    cleanups.push(() => s.close());
    return s;
  }

  it("plain SMTP to a local relay (no TLS offered): multipart HTML + text, headers kept", async () => {
    const smtp = await server();
    const email = sender(smtp.url);
    expect(email.target).toBe(`smtp://127.0.0.1:${smtp.port}`);
    const sent = await email.send(message);
    expect(sent.messageId).toMatch(/^<.+@.+>$/);

    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.secure).toBe(false);
    expect(mail!.envelopeFrom).toBe("alerts@bot.test");
    expect(mail!.envelopeTo).toEqual(["priya@example.com"]);
    const p = mail!.parsed;
    expect(p.messageId).toBe(sent.messageId);
    expect(p.subject).toBe(message.subject);
    expect(p.from?.value[0]).toMatchObject({ address: "alerts@bot.test", name: "Upstox Alert Bot" });
    expect(p.text).toBe(message.text);
    expect(p.html).toBe(message.html);
    expect(p.headers.get("content-type")).toMatchObject({ value: "multipart/alternative" });
    expect(mail!.raw.toString()).toMatch(/^List-Unsubscribe: <https:\/\/bot\.test\/unsubscribe\?u=1>\r$/m);
  });

  it("a relay offering STARTTLS with a self-signed certificate: refused by default, sent over TLS with tls_reject_unauthorized=false", async () => {
    const smtp = await server({ startTls: true });
    await expect(sender(smtp.url).send(message)).rejects.toThrow(/self[- ]signed|certificate/i);
    expect(smtp.messages).toHaveLength(0);

    await sender(`${smtp.url}?tls_reject_unauthorized=false`).send(message);
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.parsed.subject).toBe(message.subject);
  });

  it("smtps:// uses TLS from the first byte", async () => {
    const smtp = await server({ secure: true });
    const email = sender(`smtps://127.0.0.1:${smtp.port}?tls_reject_unauthorized=false`);
    expect(email.target).toBe(`smtps://127.0.0.1:${smtp.port}`);
    await email.send(message);
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.secure).toBe(true);
  });

  it("credentials in the URL are percent-decoded for AUTH; wrong ones fail", async () => {
    const smtp = await server({ auth: { user: "bot@bot.test", pass: "p@ss:w/rd" } });
    await expect(sender(`smtp://bot%40bot.test:wrong@127.0.0.1:${smtp.port}`).send(message)).rejects.toThrow(/auth|Invalid/i);

    await sender(`smtp://bot%40bot.test:p%40ss%3Aw%2Frd@127.0.0.1:${smtp.port}`).send(message);
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.user).toBe("bot@bot.test");
  });

  it("several messages at once go through the pool, each delivered once", async () => {
    const smtp = await server();
    const email = sender(smtp.url);
    const to = Array.from({ length: 8 }, (_, i) => `user${i}@example.com`);
    await Promise.all(to.map((addr) => email.send({ ...message, to: addr })));
    const mails = await smtp.waitForMessages(8);
    expect(mails.flatMap((m) => m.envelopeTo).sort()).toEqual([...to].sort());
  });

  it("without SMTP_URL every message is an .eml file that parses back to the same email", async () => {
    const outDir = tempDir();
    cleanups.push(() => removeDir(outDir));
    const email = sender(undefined, path.join(outDir, "mail"));
    expect(email.target).toBe(path.join(outDir, "mail"));
    const sent = await email.send(message);
    expect(sent.file).toBeDefined();
    expect(path.dirname(sent.file!)).toBe(path.join(outDir, "mail"));
    expect(readdirSync(path.join(outDir, "mail"))).toEqual([path.basename(sent.file!)]);
    const parsed = await simpleParser(readFileSync(sent.file!));
    expect(parsed.subject).toBe(message.subject);
    expect(parsed.text).toBe(message.text);
    expect(parsed.html).toBe(message.html);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : undefined).toBe("priya@example.com");
  });
});
