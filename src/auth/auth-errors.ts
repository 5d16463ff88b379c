import { SafeError } from "postgraphile/grafast";
import { constraintMessage } from "../graphql/constraint-messages.ts";

/**
 * The errors authentication may return. SafeError is the one kind of error
 * the GraphQL error mask (graphql/error-masking.ts) passes through, so each
 * carries a fixed message and a stable `extensions.code` (and, for
 * RATE_LIMITED, `retryAfterSeconds`) and nothing else.
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
  RATE_LIMITED: "Too many requests of this kind; try again later",
  TOO_MANY_AUTH_OPERATIONS: "Only one authentication operation is allowed per request",
  INVALID_INPUT: "Invalid input",
  NOT_FOUND: "Not found",
} as const;

export type AuthErrorCode = keyof typeof MESSAGES;

export function authError(
  code: AuthErrorCode,
  message: string = MESSAGES[code],
  details: { retryAfterSeconds?: number } = {},
): SafeError {
  return new SafeError(message, { code, ...details });
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

const RETRY_AFTER_HINT = /^retry_after=(\d{1,6})$/;

interface DatabaseRefusal {
  code?: unknown;
  constraint?: unknown;
  hint?: unknown;
}

/**
 * Converts an expected database refusal into its SafeError: a broken rule
 * answers the rule's message (constraint-messages.ts), a rate limit its retry
 * hint. Anything else is rethrown untouched, to be logged and masked as an
 * internal error.
 */
export function rethrowAsAuthError(error: unknown): never {
  const refusal = (error ?? {}) as DatabaseRefusal;
  const code = typeof refusal.code === "string" ? SQLSTATE_CODES[refusal.code] : undefined;
  if (!code) throw error;
  const message = typeof refusal.constraint === "string" ? constraintMessage(refusal.constraint) : undefined;
  const seconds = typeof refusal.hint === "string" ? RETRY_AFTER_HINT.exec(refusal.hint)?.[1] : undefined;
  throw authError(code, message, seconds === undefined ? {} : { retryAfterSeconds: Number(seconds) });
}
