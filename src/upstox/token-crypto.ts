import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { istInstant, istParts } from "../market/calendar.js";

/**
 * Upstox access tokens at rest: AES-256-GCM with a random 96-bit IV per token, stored as
 * version byte | IV | auth tag | ciphertext. The key comes from TOKEN_ENCRYPTION_KEY.
 */

const VERSION = 1;

export function encryptToken(token: string, key: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ct]);
}

export class TokenDecryptError extends Error {
  override name = "TokenDecryptError";
}

export function decryptToken(blob: Buffer, key: Buffer): string {
  if (blob.length < 1 + 12 + 16 || blob[0] !== VERSION) throw new TokenDecryptError("stored token has an unknown format");
  const iv = blob.subarray(1, 13);
  const tag = blob.subarray(13, 29);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(blob.subarray(29)), decipher.final()]).toString("utf8");
  } catch {
    throw new TokenDecryptError("stored token could not be decrypted: was TOKEN_ENCRYPTION_KEY changed?");
  }
}

const EXPIRY_MINUTE = 3 * 60 + 30;

/**
 * When an access token issued at `issuedAt` dies: the first 03:30 IST after it. A token
 * made at 02:30 dies an hour later; one made at 10:00 lives until 03:30 the next day.
 */
export function tokenExpiry(issuedAt: Date): Date {
  const { date, minute } = istParts(issuedAt);
  const today = istInstant(date, EXPIRY_MINUTE);
  if (minute < EXPIRY_MINUTE) return today;
  return new Date(today.getTime() + 24 * 3600_000);
}
