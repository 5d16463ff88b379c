import { getOperationAST, type ExecutionResult } from "postgraphile/graphql";
import { isAsyncIterable } from "postgraphile/grafast";
import type { Metrics } from "../observability/metrics.ts";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Counts GraphQL operations by name, type and outcome. Executed operations
 * are counted around execution; requests that grafserv answers before
 * executing (parse or validation errors, refused documents) are counted as
 * `invalid`.
 *
 * The operation name is chosen by the client, so it is a label only when it
 * is on an allow-list (the trusted documents' operations when they are on,
 * else the operations the project documents); any other name is `other`.
 * 40,000 distinct names therefore make one series, not 40,000.
 */
export const DOCUMENTED_OPERATION_NAMES: ReadonlySet<string> = new Set([
  "Login",
  "Register",
  "Refresh",
  "Me",
  "MyTickets",
  "Detail",
  "TicketDetail",
  "Queue",
  "Search",
  "CreateTicket",
  "AddComment",
  "Transition",
  "Assign",
  "TakeNext",
  "Audit",
]);

export const OTHER_OPERATION = "other";
function outcomeOf(result: unknown): "success" | "error" {
  if (isAsyncIterable(result)) return "success";
  const errors = (result as ExecutionResult | undefined)?.errors;
  return errors && errors.length > 0 ? "error" : "success";
}

export function operationMetricsPlugin(
  metrics: Metrics,
  allowedNames: ReadonlySet<string> = DOCUMENTED_OPERATION_NAMES,
): GraphileConfig.Plugin {
  const label = (name: string | null | undefined) =>
    name && allowedNames.has(name) ? name : name ? OTHER_OPERATION : "";
  // GraphQL requests seen and those that reached execution, keyed by their Express request.
  const received = new WeakSet<object>();
  const executed = new WeakSet<object>();
  return projectPlugin("OperationMetrics", {
    grafserv: {
      middleware: {
        processGraphQLRequestBody(next, event) {
          const req = event.request?.requestContext.expressv4?.req;
          if (req) received.add(req);
          return next();
        },
        async processRequest(next, event) {
          const result = await next();
          const req = event.requestDigest.requestContext.expressv4?.req;
          if (req && received.has(req) && !executed.has(req)) {
            metrics.graphqlOperations.inc({ operation_name: "", operation_type: "unknown", outcome: "invalid" });
          }
          return result;
        },
      },
    },
    grafast: {
      middleware: {
        async execute(next, event) {
          const { document, operationName, requestContext } = event.args;
          if (requestContext?.expressv4?.req) executed.add(requestContext.expressv4.req);
          const operation = getOperationAST(document, operationName);
          const labels = {
            operation_name: label(operation?.name?.value ?? operationName),
            operation_type: operation?.operation ?? "unknown",
          };
          try {
            const result = await next();
            metrics.graphqlOperations.inc({ ...labels, outcome: outcomeOf(result) });
            return result;
          } catch (error) {
            metrics.graphqlOperations.inc({ ...labels, outcome: "error" });
            throw error;
          }
        },
      },
    },
  });
}
