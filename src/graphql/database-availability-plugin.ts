import { getOperationAST, GraphQLError, type ExecutionResult } from "postgraphile/graphql";
import { isAsyncIterable } from "postgraphile/grafast";
import {
  BUSY_RETRY_AFTER_SECONDS,
  isDatabaseUnavailable,
  isServiceBusy,
  RETRY_AFTER_SECONDS,
} from "../database/availability.ts";
import type { Logger } from "../observability/logger.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Behaviour of /graphql while the database is away (restart, failover,
 * connections cut, pool exhausted):
 *
 * - Queries (read-only operations) whose every error is a database
 *   availability failure are executed again, a few times within a short
 *   budget, so a restart or a dropped pooled connection is invisible to
 *   readers. Mutations and subscriptions are never retried: a mutation whose
 *   connection broke may have committed, and only the client can decide.
 * - A response carrying any such error is sent as HTTP 503 with
 *   `Retry-After`, and the error itself is masked to SERVICE_UNAVAILABLE
 *   (error-masking.ts), instead of a 200 with an internal error.
 * - A busy API (no pooled connection free in time, no file descriptor left)
 *   is also 503 with `Retry-After`, masked to SERVICE_BUSY, and never
 *   retried here: retrying would add load where there is too much already.
 *
 * The retry sits in grafast's `execute` middleware rather than around the
 * pg pool: there the operation type is known, and a whole operation is
 * repeated, never half of one.
 */
export interface AvailabilityOptions {
  logger: Logger;
  /** Waits before each retry of a query, in milliseconds; their count is the number of retries. */
  retryDelaysMs?: readonly number[];
  /** No retry starts once this much time has passed since the query began. */
  retryBudgetMs?: number;
}

const DEFAULT_RETRY_DELAYS_MS = [100, 400, 1_000];
const DEFAULT_RETRY_BUDGET_MS = 3_000;

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function unavailableErrors(result: unknown): { any: boolean; all: boolean; busy: boolean } {
  if (isAsyncIterable(result)) return { any: false, all: false, busy: false };
  const errors: readonly GraphQLError[] = (result as ExecutionResult | undefined)?.errors ?? [];
  const busy = errors.some((error) => isServiceBusy(error.originalError ?? error));
  const unavailable = errors.filter((error) => isDatabaseUnavailable(error.originalError ?? error));
  return { any: unavailable.length > 0, all: errors.length > 0 && unavailable.length === errors.length, busy };
}

export function databaseAvailabilityPlugin(options: AvailabilityOptions): GraphileConfig.Plugin {
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const budget = options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
  // Express requests whose GraphQL result carried a database availability
  // or busy error, with the Retry-After to answer them with.
  const unavailable = new WeakMap<object, number>();
  return projectPlugin("DatabaseAvailability", {
    grafast: {
      middleware: {
        async execute(next, event) {
          const { document, operationName, requestContext } = event.args;
          const req = requestContext?.expressv4?.req;
          const started = Date.now();
          const isQuery = getOperationAST(document, operationName)?.operation === "query";
          for (let attempt = 0; ; attempt++) {
            let result: Awaited<ReturnType<typeof next>>;
            try {
              result = await next();
            } catch (error) {
              const busy = isServiceBusy(error);
              if (!busy && !isDatabaseUnavailable(error)) throw error;
              // As a result rather than a throw, so the error mask still applies to it.
              if (req) unavailable.set(req, busy ? BUSY_RETRY_AFTER_SECONDS : RETRY_AFTER_SECONDS);
              return { errors: [new GraphQLError(String(error), { originalError: error as Error })] };
            }
            const errors = unavailableErrors(result);
            const delay = delays[attempt];
            if (
              isQuery &&
              errors.all &&
              !errors.busy &&
              delay !== undefined &&
              Date.now() - started + delay <= budget
            ) {
              options.logger.info({ attempt: attempt + 1, operationName }, "database unavailable; retrying query");
              await sleep(delay);
              continue;
            }
            if (req && errors.busy) unavailable.set(req, BUSY_RETRY_AFTER_SECONDS);
            else if (req && errors.any) unavailable.set(req, RETRY_AFTER_SECONDS);
            return result;
          }
        },
      },
    },
    grafserv: {
      middleware: {
        async processRequest(next, event) {
          const result = await next();
          const req = event.requestDigest.requestContext.expressv4?.req;
          const retryAfter = req ? unavailable.get(req) : undefined;
          if (result && retryAfter !== undefined && (result.type === "buffer" || result.type === "json")) {
            result.statusCode = 503;
            result.headers["retry-after"] = String(retryAfter);
          }
          return result;
        },
      },
    },
  });
}
