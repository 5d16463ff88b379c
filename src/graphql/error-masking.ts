import { createHash, randomUUID } from "node:crypto";
import { GraphQLError } from "postgraphile/graphql";
import { isSafeError } from "postgraphile/grafast";
import { isDatabaseUnavailable, isServiceBusy } from "../database/availability.ts";
import type { Logger } from "../observability/logger.ts";
import { constraintMessage } from "./constraint-messages.ts";
import { withoutSuggestion } from "./validation-rules-plugin.ts";

/**
 * Turns every error leaving the GraphQL endpoint into a clean message with a
 * stable `extensions.code`. Database errors raised on purpose by the SQL
 * functions carry custom SQLSTATEs (class TK); a few standard SQLSTATEs get
 * a generic message. A database that cannot be reached (down, restarting,
 * connection cut, no pooled connection in time) is SERVICE_UNAVAILABLE,
 * which the API answers with HTTP 503 and Retry-After
 * (database-availability-plugin.ts); no pooled connection free in time is
 * SERVICE_BUSY, also 503 with Retry-After. Anything else is logged in full and
 * answered with an opaque id, so no SQL, stack trace or internal detail
 * reaches a client.
 */
export const SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE";
export const SERVICE_BUSY = "SERVICE_BUSY";

const BUSY_MESSAGE = "The service is busy; please retry shortly";

const UNAVAILABLE_MESSAGE = "The database is unavailable; please retry";
const CUSTOM_CODES: Record<string, string> = {
  TKINV: "INVALID_TRANSITION",
  TKFBD: "FORBIDDEN",
  TKNTF: "NOT_FOUND",
  TKVAL: "INVALID_INPUT",
  TKEML: "EMAIL_TAKEN",
  TKRAT: "RATE_LIMITED",
};

/**
 * A rate limit raised in SQL (`errcode = 'TKRAT'`) says when to come back in
 * its HINT as `retry_after=<seconds>`; clients get it as
 * `extensions.retryAfterSeconds`.
 */
const RETRY_AFTER_HINT = /^retry_after=(\d{1,6})$/;

function customExtensions(code: string, hint: string | undefined): Record<string, unknown> {
  const seconds = hint ? RETRY_AFTER_HINT.exec(hint)?.[1] : undefined;
  return seconds === undefined ? { code } : { code, retryAfterSeconds: Number(seconds) };
}

interface StandardError {
  code: string;
  message: string;
}

function standardError(sqlState: string): StandardError | undefined {
  if (sqlState === "42501") return { code: "FORBIDDEN", message: "Permission denied" };
  if (sqlState === "23505") return { code: "CONFLICT", message: "A record with these values already exists" };
  if (sqlState === "23503") return { code: "INVALID_INPUT", message: "A referenced record does not exist" };
  if (sqlState.startsWith("23") || sqlState.startsWith("22")) {
    return { code: "INVALID_INPUT", message: "Invalid input" };
  }
  if (sqlState === "57014") return { code: "STATEMENT_TIMEOUT", message: "The request took too long and was stopped" };
  if (sqlState === "40001" || sqlState === "40P01") {
    return { code: "CONFLICT", message: "Concurrent update; please retry" };
  }
  return undefined;
}

interface DatabaseErrorLike {
  code: string;
  message: string;
  constraint?: string;
  hint?: string;
}

function isDatabaseError(error: unknown): error is DatabaseErrorLike {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}

function replace(error: GraphQLError, message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}

export interface MaskErrorOptions {
  /** In production, graphql-js's "Did you mean …?" suggestions are removed. */
  production?: boolean;
}

export function createMaskError(logger: Logger, options: MaskErrorOptions = {}) {
  return (error: GraphQLError): GraphQLError => {
    const original = error.originalError;
    // Validation and parse errors, and errors the schema raised on purpose.
    if (!original || original instanceof GraphQLError) {
      if (!options.production) return error;
      const message = withoutSuggestion(error.message);
      return message === error.message ? error : replace(error, message, { ...error.extensions });
    }
    if (isServiceBusy(original)) {
      // Debug only: under load this happens for every waiting request.
      logger.debug({ err: original, path: error.path }, "service busy");
      return replace(error, BUSY_MESSAGE, { code: SERVICE_BUSY });
    }
    if (isDatabaseUnavailable(original)) {
      logger.warn({ err: original, path: error.path }, "database unavailable");
      return replace(error, UNAVAILABLE_MESSAGE, { code: SERVICE_UNAVAILABLE });
    }
    if (isSafeError(original)) {
      return replace(error, original.message, { ...(original.extensions ?? {}) });
    }
    if (isDatabaseError(original)) {
      const custom = CUSTOM_CODES[original.code];
      if (custom) return replace(error, original.message, customExtensions(custom, original.hint));
      const standard = standardError(original.code);
      if (standard) {
        logger.debug({ err: original, sqlState: original.code }, "database error mapped");
        // The constraint's own message, never its name (constraint-messages.ts).
        return replace(error, constraintMessage(original.constraint) ?? standard.message, { code: standard.code });
      }
    }
    const errorId = randomUUID();
    const hash = createHash("sha1").update(String(original)).digest("base64url").slice(0, 12);
    logger.error({ err: original, errorId, hash, path: error.path }, "unexpected GraphQL error");
    return replace(error, `An unexpected error occurred (id ${errorId})`, {
      code: "INTERNAL_SERVER_ERROR",
      errorId,
    });
  };
}
