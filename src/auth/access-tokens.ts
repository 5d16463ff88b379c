import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import type { JwtConfig } from "../config/app-config.ts";
import { isWebRole, type WebRole } from "../database/web-roles.ts";

/**
 * Access tokens: short-lived HS256 JWTs. Verification pins the algorithm,
 * issuer and audience, and insists on `exp`; the role claim is accepted only
 * from the allow-list of web roles, so no token can name another database role.
 * `iat` is required and may not lie in the future (beyond CLOCK_SKEW_SECONDS),
 * a future `nbf` is refused, and no token is accepted longer after its `iat`
 * than the configured lifetime (plus the skew), whatever its `exp` says.
 */
export interface AccessClaims {
  userId: string;
  role: WebRole;
  /** The login session (refresh-token family) the token was issued for; absent on tokens made outside a login. */
  sessionId?: string;
}

const ALGORITHM = "HS256";
/** How far ahead of this server's clock another instance's clock may be: `iat` beyond it is refused. */
export const CLOCK_SKEW_SECONDS = 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InvalidTokenError extends Error {
  override name = "InvalidTokenError";
}

/**
 * The HS256 secret as a key object, made once per secret. Given a string,
 * jsonwebtoken first tries to read it as a PEM key (which throws) and then
 * makes a secret key, on every call: about a tenth of a millisecond of CPU
 * per request for nothing.
 */
const secretKeys = new Map<string, KeyObject>();

function secretKey(secret: string): KeyObject {
  let key = secretKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, "utf8"));
    secretKeys.set(secret, key);
  }
  return key;
}

export function signAccessToken(config: JwtConfig, claims: AccessClaims): { token: string; expiresAt: Date } {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const expiresAtSeconds = nowSeconds + config.accessTokenSeconds;
  // `sid` lets changePassword keep the caller's own session while ending the others.
  const session = claims.sessionId ? { sid: claims.sessionId } : {};
  const payload = { role: claims.role, iat: nowSeconds, exp: expiresAtSeconds, ...session };
  const token = jwt.sign(payload, secretKey(config.secret), {
    algorithm: ALGORITHM,
    subject: claims.userId,
    issuer: config.issuer,
    audience: config.audience,
  });
  return { token, expiresAt: new Date(expiresAtSeconds * 1000) };
}

export function verifyAccessToken(config: JwtConfig, token: string): AccessClaims {
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secretKey(config.secret), {
      algorithms: [ALGORITHM],
      issuer: config.issuer,
      audience: config.audience,
      maxAge: config.accessTokenSeconds + CLOCK_SKEW_SECONDS,
    });
  } catch {
    throw new InvalidTokenError("Invalid or expired access token");
  }
  if (typeof payload !== "object" || typeof payload.exp !== "number" || typeof payload.iat !== "number") {
    throw new InvalidTokenError("Invalid or expired access token");
  }
  if (payload.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) {
    throw new InvalidTokenError("Invalid or expired access token");
  }
  if (typeof payload.sub !== "string" || !UUID.test(payload.sub) || !isWebRole(payload.role)) {
    throw new InvalidTokenError("Invalid or expired access token");
  }
  const sid: unknown = payload.sid;
  if (sid !== undefined && (typeof sid !== "string" || !UUID.test(sid))) {
    throw new InvalidTokenError("Invalid or expired access token");
  }
  const claims: AccessClaims = { userId: payload.sub, role: payload.role };
  return sid === undefined ? claims : { ...claims, sessionId: sid };
}
