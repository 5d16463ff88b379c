import type pg from "pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import type { AccessClaims } from "../auth/access-tokens.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { databaseAvailabilityPlugin } from "./database-availability-plugin.ts";
import { createMaskError } from "./error-masking.ts";
import { operationMetricsPlugin } from "./operation-metrics-plugin.ts";
import { RURU_CONFIG } from "./ruru-starter.ts";
import { socketClaims } from "./realtime-socket.ts";

/** The PostgreSQL schema PostGraphile exposes. Nothing else is introspected. */
export const EXPOSED_SCHEMAS = ["app_public"];

export const ANONYMOUS_ROLE = "ticketing_anonymous";

/**
 * Settings applied with `set_config(..., true)` at the start of each
 * request's transaction: the web role to switch to and the claims policies
 * read. Only verified claims reach this point (see http/request-auth.ts).
 */
export function pgSettingsFor(auth: AccessClaims | undefined): Record<string, string> {
  if (!auth) return { role: ANONYMOUS_ROLE };
  return { role: auth.role, "jwt.claims.user_id": auth.userId, "jwt.claims.role": auth.role };
}

export interface PresetOptions {
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  graphiql: boolean;
  plugins?: GraphileConfig.Plugin[];
}

export function createPreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
    plugins: [
      operationMetricsPlugin(options.metrics),
      databaseAvailabilityPlugin({ logger: options.logger }),
      ...(options.plugins ?? []),
    ],
    pgServices: [makePgService({ pool: options.pool, schemas: EXPOSED_SCHEMAS })],
    grafserv: {
      graphqlPath: "/graphql",
      graphiql: options.graphiql,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      // Express already refuses bodies over 1 MB with 413; this is the same bound.
      maxRequestLength: 1_000_000,
      maskError: createMaskError(options.logger),
      // graphql-ws subscriptions on graphqlPath (docs/realtime.md).
      websockets: true,
    },
    // Ruru (GraphiQL) opens on a starter query with the Authorization header explained.
    ruru: RURU_CONFIG,
    grafast: {
      explain: false,
      context(requestContext) {
        const req = requestContext.expressv4?.req;
        // Websocket operations: the claims verified on the socket (realtime-socket.ts).
        const auth = requestContext.ws ? socketClaims(requestContext.ws.socket) : req?.auth;
        // auth and clientIp feed the authentication mutations (authentication-plugin.ts).
        return { pgSettings: pgSettingsFor(auth), auth, clientIp: req?.ip };
      },
    },
    gather: {
      // A SQL function's arguments without a default are required (non-null in
      // GraphQL); those with a default are optional (docs/conventions.md).
      pgStrictFunctions: true,
    },
    schema: {
      // Deterministic order so the committed schema.graphql diff shows real changes only.
      sortExport: true,
    },
  };
}
