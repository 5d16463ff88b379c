import { createHash, randomBytes } from "node:crypto";

/**
 * Refresh tokens: 256 random bits, base64url (43 characters). The database
 * keeps only the SHA-256 digest, so a leaked table cannot be replayed; a
 * fast hash suffices because the token has full entropy.
 */
const TOKEN_BYTES = 32;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export interface RefreshToken {
  token: string;
  digest: Buffer;
}

export function digestRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export function newRefreshToken(): RefreshToken {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  return { token, digest: digestRefreshToken(token) };
}

/** Cheap shape check before touching the database. */
export function isWellFormedRefreshToken(value: unknown): value is string {
  return typeof value === "string" && TOKEN_FORMAT.test(value);
}
