import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import nodemailer, { type Transporter } from "nodemailer";

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
  /** Pictures the HTML shows by `<img src="cid:…">` (an alert's chart); the text part does without. */
  inlineImages?: InlineImage[];
}

export interface InlineImage {
  /** Content-ID: the HTML refers to it as `cid:<cid>`. */
  cid: string;
  filename: string;
  contentType: string;
  content: Buffer;
}

/** Our message as nodemailer takes it: inline images become related parts, shown in place, not as attachments. */
function toMail(from: string, m: EmailMessage) {
  const { inlineImages, ...rest } = m;
  return {
    from,
    ...rest,
    ...(inlineImages?.length
      ? {
          attachments: inlineImages.map((i) => ({
            cid: i.cid,
            filename: i.filename,
            contentType: i.contentType,
            content: i.content,
            contentDisposition: "inline" as const,
          })),
        }
      : {}),
  };
}

export interface EmailSender {
  /** Where mail goes, for logs: `smtp://host:port` or the .eml folder. */
  readonly target: string;
  send(message: EmailMessage): Promise<{ messageId: string; file?: string }>;
  close(): void;
}

/**
 * SMTP (pooled) when SMTP_URL is set; otherwise every message is written as an .eml file,
 * so the demo and a fresh install show real, openable emails without a mail server.
 *
 * SMTP_URL forms: `smtp://[user:pass@]host[:port]` (port 587 by default; STARTTLS is used
 * when the server offers it, plain SMTP otherwise, e.g. a local relay), `smtps://…` (TLS from
 * the first byte, port 465 by default). User and password are percent-decoded. Query option:
 * `?tls_reject_unauthorized=false` accepts a self-signed certificate (STARTTLS or smtps).
 */
export function createEmailSender(opts: {
  smtpUrl: string | undefined;
  from: string;
  outDir: string;
  /** The shutdown's cut-off: a send still talking to the server is given up (its row stays pending). */
  signal?: AbortSignal;
}): EmailSender {
  if (opts.smtpUrl) {
    const url = new URL(opts.smtpUrl);
    const transport: Transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: 3,
      host: url.hostname,
      port: Number(url.port) || (url.protocol === "smtps:" ? 465 : 587),
      secure: url.protocol === "smtps:",
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      // A local relay without TLS is common in self-hosting; opportunistic STARTTLS still applies.
      tls: { rejectUnauthorized: url.searchParams.get("tls_reject_unauthorized") !== "false" },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    return {
      target: `${url.protocol}//${url.host}`,
      async send(m) {
        try {
          // The signal closes the SMTP connection of a message still on the wire, so a message
          // cut off by the shutdown is not also completed behind our back.
          const info = await transport.sendMail({ ...toMail(opts.from, m), ...(opts.signal ? { signal: opts.signal } : {}) });
          return { messageId: String(info.messageId) };
        } catch (err) {
          if (opts.signal?.aborted) throw opts.signal.reason;
          throw err;
        }
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });
  let seq = 0;
  return {
    target: opts.outDir,
    async send(m) {
      const info = await transport.sendMail(toMail(opts.from, m));
      mkdirSync(opts.outDir, { recursive: true });
      const safeTo = m.to.replace(/[^A-Za-z0-9@._-]/g, "_");
      const file = path.join(opts.outDir, `${new Date().toISOString().replace(/[:.]/g, "-")}-${++seq}-${safeTo}.eml`);
      writeFileSync(file, info.message as Buffer);
      return { messageId: String(info.messageId), file };
    },
    close: () => transport.close(),
  };
}
