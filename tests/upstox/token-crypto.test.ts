import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptToken, encryptToken, TokenDecryptError, tokenExpiry } from "../../src/upstox/token-crypto.js";

const ist = (isoLocal: string) => new Date(`${isoLocal}+05:30`);

describe("token encryption", () => {
  const key = randomBytes(32);

  it("round-trips and never stores the token in clear", () => {
    const token = "eyJ0eXAiOiJKV1QiLCJrZXlfaWQiOiJza192MS4wIn0.secret-part";
    const blob = encryptToken(token, key);
    expect(blob.includes(Buffer.from("secret-part"))).toBe(false);
    expect(decryptToken(blob, key)).toBe(token);
  });

  it("uses a fresh IV each time", () => {
    expect(encryptToken("same", key).equals(encryptToken("same", key))).toBe(false);
  });

  it("refuses a tampered blob and a wrong key", () => {
    const blob = encryptToken("token-value", key);
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    expect(() => decryptToken(tampered, key)).toThrow(TokenDecryptError);
    expect(() => decryptToken(blob, randomBytes(32))).toThrow(/TOKEN_ENCRYPTION_KEY/);
    expect(() => decryptToken(Buffer.from([9, 1, 2]), key)).toThrow(TokenDecryptError);
  });
});

describe("tokenExpiry: the first 03:30 IST after issue", () => {
  it.each([
    ["issued 02:30 IST dies an hour later, same day", "2026-11-25T02:30:00", "2026-11-25T03:30:00"],
    ["issued 10:00 IST lives until 03:30 the next day", "2026-11-25T10:00:00", "2026-11-26T03:30:00"],
    ["issued exactly 03:30 IST lives a full day", "2026-11-25T03:30:00", "2026-11-26T03:30:00"],
    ["issued 23:59 IST dies 03:30 the next day", "2026-11-25T23:59:00", "2026-11-26T03:30:00"],
    ["across a month end", "2026-11-30T18:00:00", "2026-12-01T03:30:00"],
    ["across a year end", "2026-12-31T09:00:00", "2027-01-01T03:30:00"],
    ["across a leap day", "2028-02-28T20:00:00", "2028-02-29T03:30:00"],
    ["issued 00:10 IST (still the previous UTC day) dies 03:30 that IST morning", "2026-11-26T00:10:00", "2026-11-26T03:30:00"],
  ])("%s", (_name, issued, expected) => {
    expect(tokenExpiry(ist(issued)).toISOString()).toBe(ist(expected).toISOString());
  });
});
