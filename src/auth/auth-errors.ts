import { SafeError } from "postgraphile/grafast";

/**
 * The errors authentication may return. SafeError is the one kind of error
 * the GraphQL error mask (graphql/error-masking.ts) passes through, so each
 * carries a fixed message and a stable `extensions.code` and nothing else.
 */
const MESSAGES = {
  INVALID_CREDENTIALS: "Invalid email or password",
  ACCOUNT_LOCKED: "Too many failed logins; the account is locked for a while",
  WEAK_PASSWORD: "Password does not meet the password policy",
  EMAIL_TAKEN: "This email is already registered",
  TOKEN_REUSED: "This refresh token was already used; the session has been ended",
  INVALID_TOKEN: "Invalid or expired refresh token",
  FORBIDDEN: "You are not allowed to do this",
  UNAUTHENTICATED: "You must be signed in",
  RATE_LIMITED: "Too many login attempts from this address; try again later",
  INVALID_INPUT: "Invalid input",
  NOT_FOUND: "Not found",
} as const;

export type AuthErrorCode = keyof typeof MESSAGES;

export function authError(code: AuthErrorCode, message: string = MESSAGES[code]): SafeError {
  return new SafeError(message, { code });
}

/** SQLSTATEs the authentication functions raise on purpose, and what they mean to a client. */
const SQLSTATE_CODES: Record<string, AuthErrorCode> = {
  TKEML: "EMAIL_TAKEN",
  TKFBD: "FORBIDDEN",
  TKVAL: "INVALID_INPUT",
  TKNTF: "NOT_FOUND",
  TKRAT: "RATE_LIMITED",
  "23514": "INVALID_INPUT",
};

/**
 * Converts an expected database refusal into its SafeError; anything else is
 * rethrown untouched, to be logged and masked as an internal error.
 */
export function rethrowAsAuthError(error: unknown): never {
  const sqlState = (error as { code?: unknown } | null)?.code;
  const code = typeof sqlState === "string" ? SQLSTATE_CODES[sqlState] : undefined;
  if (code) throw authError(code);
  throw error;
}
