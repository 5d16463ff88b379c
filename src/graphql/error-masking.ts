import { createHash, randomUUID } from "node:crypto";
import { GraphQLError } from "postgraphile/graphql";
import { isSafeError } from "postgraphile/grafast";
import { isDatabaseUnavailable, isServiceBusy } from "../database/availability.ts";
import type { Logger } from "../observability/logger.ts";
import { constraintMessage } from "./constraint-messages.ts";
import { retryAfterSeconds, sqlStateMeaning } from "./error-codes.ts";
import { withoutSuggestion } from "./validation-rules-plugin.ts";

/**
 * Turns every error leaving the GraphQL endpoint into a clean message with a
 * stable `extensions.code`. Database errors raised on purpose by the SQL
 * functions carry custom SQLSTATEs (class TK); a few standard SQLSTATEs get
 * a generic message (both mapped in error-codes.ts). A database that cannot
 * be reached (down, restarting, connection cut) is SERVICE_UNAVAILABLE,
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

/** Extensions of a refusal raised on purpose: its code, and when to retry a rate limit. */
function raisedExtensions(code: string, hint: string | undefined): Record<string, unknown> {
  const seconds = retryAfterSeconds(hint);
  return seconds === undefined ? { code } : { code, retryAfterSeconds: seconds };
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
      const meaning = sqlStateMeaning(original.code);
      if (meaning) {
        // Raised on purpose by a SQL function: its message is written for the client.
        if (meaning.message === undefined) {
          return replace(error, original.message, raisedExtensions(meaning.code, original.hint));
        }
        logger.debug({ err: original, sqlState: original.code }, "database error mapped");
        // The constraint's own message, never its name (constraint-messages.ts).
        return replace(error, constraintMessage(original.constraint) ?? meaning.message, { code: meaning.code });
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
