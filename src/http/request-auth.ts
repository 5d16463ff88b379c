import type { NextFunction, Request, Response } from "express";
import { InvalidTokenError, verifyAccessToken, type AccessClaims } from "../auth/access-tokens.ts";
import type { JwtConfig } from "../config/app-config.ts";

/**
 * Verifies the Bearer token before GraphQL runs. No header means an anonymous
 * visitor; a header that is present but wrong is a 401, never a silent
 * downgrade to anonymous.
 */
declare module "express-serve-static-core" {
  interface Request {
    auth?: AccessClaims;
  }
}

function sendUnauthorized(res: Response, message: string): void {
  res
    .status(401)
    .set("WWW-Authenticate", 'Bearer error="invalid_token"')
    .json({ errors: [{ message, extensions: { code: "UNAUTHENTICATED" } }] });
}

export function requestAuth(config: JwtConfig) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    if (header === undefined) return next();
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
    if (!match?.[1]) return sendUnauthorized(res, "Authorization header must be 'Bearer <token>'");
    try {
      req.auth = verifyAccessToken(config, match[1]);
    } catch (error) {
      if (error instanceof InvalidTokenError) return sendUnauthorized(res, error.message);
      throw error;
    }
    next();
  };
}
