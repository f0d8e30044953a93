import { simpleParser, type ParsedMail } from "mailparser";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { waitUntil } from "./wait.js";

export interface CapturedMail {
  /** The user that authenticated, when the server asked for AUTH. */
  user: string | undefined;
  /** Whether the session ran over TLS (implicit or STARTTLS). */
  secure: boolean;
  envelopeFrom: string | undefined;
  envelopeTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpCapture {
  port: number;
  url: string;
  messages: CapturedMail[];
  /** Messages whose DATA has started arriving (accepted or not yet). */
  receiving(): number;
  waitForMessages(n: number, timeoutMs?: number): Promise<CapturedMail[]>;
  close(): Promise<void>;
}

export interface SmtpCaptureOptions {
  /** Offer STARTTLS (with smtp-server's built-in self-signed certificate). */
  startTls?: boolean;
  /** Implicit TLS from the first byte, as on port 465 (self-signed certificate). */
  secure?: boolean;
  /** Require AUTH PLAIN/LOGIN with exactly these credentials. */
  auth?: { user: string; pass: string };
  /** Hold each message this long before accepting it (a slow relay). */
  acceptDelayMs?: number;
}

/**
 * A real SMTP server on 127.0.0.1 that keeps every message it accepts, parsed. By default
 * it is plain SMTP: no TLS and no AUTH, like a local relay.
 */
export async function startSmtpCapture(opts: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const messages: CapturedMail[] = [];
  let receiving = 0;
  const disabled = [...(opts.startTls || opts.secure ? [] : ["STARTTLS"]), ...(opts.auth ? [] : ["AUTH"])];
  const server = new SMTPServer({
    secure: opts.secure ?? false,
    authOptional: !opts.auth,
    // AUTH over plain text is fine on 127.0.0.1 in a test.
    allowInsecureAuth: true,
    disabledCommands: disabled,
    logger: false,
    onAuth(auth, _session, callback) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return callback(null, { user: auth.username });
      return callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      receiving++;
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", callback);
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        new Promise((r) => setTimeout(r, opts.acceptDelayMs ?? 0))
          .then(() => simpleParser(raw))
          .then((parsed) => {
            const from = session.envelope.mailFrom;
            messages.push({
              user: typeof session.user === "string" ? session.user : undefined,
              secure: session.secure,
              envelopeFrom: from ? from.address : undefined,
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
              raw,
              parsed,
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  server.on("error", () => {});
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `${opts.secure ? "smtps" : "smtp"}://127.0.0.1:${port}`,
    messages,
    receiving: () => receiving,
    waitForMessages: (n, timeoutMs = 20_000) =>
      waitUntil(() => (messages.length >= n ? messages : undefined), { timeoutMs, what: `${n} email(s) at the SMTP server (have ${messages.length})` }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
