import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Database } from "better-sqlite3";

/**
 * Signed one-click unsubscribe links (RFC 8058): `PUBLIC_URL/unsubscribe?u=<user>&t=<mac>`.
 * The key is made once and kept in SQLite, so links in old emails keep working.
 */
export class UnsubscribeLinks {
  private readonly key: Buffer;

  constructor(
    db: Database,
    private readonly publicUrl: string,
  ) {
    db.prepare("INSERT OR IGNORE INTO app_secrets (name, value, created_at) VALUES ('unsubscribe', ?, ?)").run(randomBytes(32), Date.now());
    this.key = (db.prepare("SELECT value FROM app_secrets WHERE name = 'unsubscribe'").get() as { value: Buffer }).value;
  }

  private mac(userId: number): string {
    return createHmac("sha256", this.key).update(`unsubscribe:${userId}`).digest("base64url").slice(0, 32);
  }

  url(userId: number): string {
    return `${this.publicUrl}/unsubscribe?u=${userId}&t=${this.mac(userId)}`;
  }

  /** The headers that let mail clients offer a one-click unsubscribe button. */
  headers(userId: number): Record<string, string> {
    return { "List-Unsubscribe": `<${this.url(userId)}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
  }

  /** The user a link is for, if its signature is right. */
  verify(u: string | null, t: string | null): number | undefined {
    if (!u || !t || !/^\d{1,12}$/.test(u)) return undefined;
    const expected = Buffer.from(this.mac(Number(u)));
    const given = Buffer.from(t);
    return given.length === expected.length && timingSafeEqual(given, expected) ? Number(u) : undefined;
  }
}
