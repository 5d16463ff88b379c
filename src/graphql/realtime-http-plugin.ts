import { GraphQLError, getOperationAST } from "postgraphile/graphql";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Subscriptions are served over websockets only. Over plain HTTP grafserv
 * would stream them (`multipart/mixed`, server-sent events) on a response
 * that outlives the client's token and logout and holds memory after the
 * client is gone; such a request is refused instead. Over a websocket,
 * graphql-ws runs subscriptions through `subscribe`, never `execute`, so
 * only HTTP reaches this refusal.
 */
export const SUBSCRIPTION_OVER_HTTP = "SUBSCRIPTIONS_REQUIRE_WEBSOCKET";

export const realtimeHttpPlugin: GraphileConfig.Plugin = projectPlugin("SubscriptionsOverHttpRefused", {
  grafast: {
    middleware: {
      execute(next, event) {
        const { document, operationName } = event.args;
        if (getOperationAST(document, operationName ?? undefined)?.operation !== "subscription") return next();
        return {
          errors: [
            new GraphQLError("Subscriptions are served over websockets only (graphql-transport-ws on /graphql)", {
              extensions: { code: SUBSCRIPTION_OVER_HTTP },
            }),
          ],
        };
      },
    },
  },
});
