import { getOperationAST, type ExecutionResult } from "postgraphile/graphql";
import { isAsyncIterable } from "postgraphile/grafast";
import type { Metrics } from "../observability/metrics.ts";

/**
 * Counts GraphQL operations by name, type and outcome. Executed operations
 * are counted around execution; requests that grafserv answers before
 * executing (parse or validation errors) are counted as `invalid`.
 */
function outcomeOf(result: unknown): "success" | "error" {
  if (isAsyncIterable(result)) return "success";
  const errors = (result as ExecutionResult | undefined)?.errors;
  return errors && errors.length > 0 ? "error" : "success";
}

export function operationMetricsPlugin(metrics: Metrics): GraphileConfig.Plugin {
  // GraphQL requests seen and those that reached execution, keyed by their Express request.
  const received = new WeakSet<object>();
  const executed = new WeakSet<object>();
  return {
    name: "TicketingOperationMetricsPlugin",
    version: "1.0.0",
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
            operation_name: operation?.name?.value ?? operationName ?? "",
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
  };
}
