/**
 * Recognises the errors that mean "the database cannot be reached right
 * now" rather than "this request is wrong": the server is down, restarting,
 * shutting down or recovering, or a connection was cut. Clients get 503
 * with a retry hint for these, read-only GraphQL operations are retried, and
 * nothing else is.
 *
 * A pool with no connection free in time is a different answer: the
 * database is up but busy (slow queries hold every connection), so it is
 * reported as SERVICE_BUSY, never retried (a retry would only add load),
 * and readiness stays true (it has its own connection, readiness.ts).
 */

/** Socket-level failures reported by Node for the database connection. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs: class 08 (connection exception), 57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or in
 * recovery), 53300 too_many_connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

/** Errors node-postgres and pg-pool raise without a code. */
const DRIVER_MESSAGES = [
  /^Connection terminated/, // unexpectedly, or due to connection timeout
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
  /^Cannot use a pool after calling end on the pool/, // the server is shutting down
];

function ownCode(error: object): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** `error`, then each error it wraps (`cause`, else `originalError`), each once. */
function* errorChain(error: unknown): Generator<object> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    yield current;
    current = (current as { cause?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
}

/** True when `error`, or an error it wraps (`cause`, `originalError`), is a database availability failure. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const current of errorChain(error)) {
    const code = ownCode(current);
    if (
      code !== undefined &&
      (NETWORK_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)))
    ) {
      return true;
    }
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && DRIVER_MESSAGES.some((pattern) => pattern.test(message))) return true;
    // AggregateError (e.g. ECONNREFUSED on both ::1 and 127.0.0.1).
    const inner = (current as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.length > 0 && inner.every((each) => isDatabaseUnavailable(each))) return true;
  }
  return false;
}

/** pg-pool's error when every connection stayed checked out for connectionTimeoutMillis. */
const POOL_EXHAUSTED = /^timeout exceeded when trying to connect/;

/** The process is out of file descriptors: a new database connection cannot be opened right now. */
const DESCRIPTORS_EXHAUSTED = new Set(["EMFILE", "ENFILE"]);

/**
 * True when `error`, or an error it wraps, says the API is saturated rather
 * than the database away: no pooled connection came free in time, or no
 * file descriptor was left to open one.
 */
export function isServiceBusy(error: unknown): boolean {
  for (const current of errorChain(error)) {
    const code = ownCode(current);
    if (code !== undefined && DESCRIPTORS_EXHAUSTED.has(code)) return true;
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && POOL_EXHAUSTED.test(message)) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying while the API is busy (the Retry-After header). */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** Seconds a client should wait before retrying while the database is away (the Retry-After header). */
export const RETRY_AFTER_SECONDS = 2;
