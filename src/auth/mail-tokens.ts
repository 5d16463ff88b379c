import { createHash } from "node:crypto";

/**
 * The tokens of mailed links (password reset, email verification) are made
 * in SQL (app_private.new_email_token: 64 hex digits) and stored as SHA-256
 * digests; a presented token is digested here and looked up by digest.
 */
const MAIL_TOKEN = /^[0-9a-f]{64}$/;

export function isWellFormedMailToken(token: string): boolean {
  return MAIL_TOKEN.test(token);
}

export function digestMailToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
