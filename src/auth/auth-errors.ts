import { SafeError } from "postgraphile/grafast";
import { constraintMessage } from "../graphql/constraint-messages.ts";
import { retryAfterSeconds, sqlStateMeaning } from "../graphql/error-codes.ts";

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

function isAuthErrorCode(code: string): code is AuthErrorCode {
  return Object.hasOwn(MESSAGES, code);
}

interface DatabaseRefusal {
  code?: unknown;
  constraint?: unknown;
  hint?: unknown;
}

/**
 * Converts an expected database refusal (a SQLSTATE that error-codes.ts maps
 * to one of the codes above) into its SafeError: a broken rule answers the
 * rule's message (constraint-messages.ts), a standard SQLSTATE its generic
 * message, a refusal raised on purpose the fixed message above, a rate limit
 * its retry hint. Anything else is rethrown untouched, for the GraphQL error
 * mask to map or to log and hide as an internal error.
 */
export function rethrowAsAuthError(error: unknown): never {
  const refusal = (error ?? {}) as DatabaseRefusal;
  const meaning = typeof refusal.code === "string" ? sqlStateMeaning(refusal.code) : undefined;
  if (!meaning || !isAuthErrorCode(meaning.code)) throw error;
  const message =
    (typeof refusal.constraint === "string" ? constraintMessage(refusal.constraint) : undefined) ??
    meaning.message ??
    MESSAGES[meaning.code];
  const seconds = retryAfterSeconds(refusal.hint);
  throw authError(meaning.code, message, seconds === undefined ? {} : { retryAfterSeconds: seconds });
}
