/**
 * The one map from a PostgreSQL SQLSTATE to what a client is told: a stable
 * `extensions.code` and, for standard SQLSTATEs, a generic message. The
 * GraphQL error mask (error-masking.ts) and authentication (auth/auth-errors.ts)
 * both read it. A broken constraint's own sentence comes from
 * constraint-messages.ts, never from here.
 */

/** What a SQLSTATE means to a client. */
export interface SqlStateMeaning {
  /** The `extensions.code` the client gets. */
  code: string;
  /**
   * The generic message for a standard SQLSTATE. Absent for the project's own
   * SQLSTATEs (class TK), raised on purpose by the SQL functions with a
   * message written for the client.
   */
  message?: string;
}

/** The project's own SQLSTATEs (class TK), raised on purpose by the SQL functions. */
const RAISED_ON_PURPOSE: Record<string, string> = {
  TKINV: "INVALID_TRANSITION",
  TKFBD: "FORBIDDEN",
  TKNTF: "NOT_FOUND",
  TKVAL: "INVALID_INPUT",
  TKEML: "EMAIL_TAKEN",
  TKRAT: "RATE_LIMITED",
  TKTOK: "INVALID_TOKEN",
};

/** Standard SQLSTATEs a client may cause, with a generic message. */
const STANDARD: Record<string, Required<SqlStateMeaning>> = {
  "42501": { code: "FORBIDDEN", message: "Permission denied" },
  "23505": { code: "CONFLICT", message: "A record with these values already exists" },
  "23503": { code: "INVALID_INPUT", message: "A referenced record does not exist" },
  "57014": { code: "STATEMENT_TIMEOUT", message: "The request took too long and was stopped" },
  "40001": { code: "CONFLICT", message: "Concurrent update; please retry" },
  "40P01": { code: "CONFLICT", message: "Concurrent update; please retry" },
};

/** Any other integrity-constraint violation (class 23) or data exception (class 22). */
const INVALID_INPUT: Required<SqlStateMeaning> = { code: "INVALID_INPUT", message: "Invalid input" };

/** What `sqlState` means to a client, or undefined when it is not the client's doing. */
export function sqlStateMeaning(sqlState: string): SqlStateMeaning | undefined {
  const raised = RAISED_ON_PURPOSE[sqlState];
  if (raised) return { code: raised };
  const standard = STANDARD[sqlState];
  if (standard) return standard;
  if (sqlState.startsWith("23") || sqlState.startsWith("22")) return INVALID_INPUT;
  return undefined;
}

/**
 * A rate limit raised in SQL (`errcode = 'TKRAT'`) says when to come back in
 * its HINT as `retry_after=<seconds>`; clients get it as
 * `extensions.retryAfterSeconds`.
 */
const RETRY_AFTER_HINT = /^retry_after=(\d{1,6})$/;

/** The seconds a `retry_after=<seconds>` HINT asks the client to wait, if it is one. */
export function retryAfterSeconds(hint: unknown): number | undefined {
  const seconds = typeof hint === "string" ? RETRY_AFTER_HINT.exec(hint)?.[1] : undefined;
  return seconds === undefined ? undefined : Number(seconds);
}
