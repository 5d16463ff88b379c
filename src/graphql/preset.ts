import type pg from "pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { pgSettingsFor, type StatementTimeouts } from "../database/web-roles.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { databaseAvailabilityPlugin } from "./database-availability-plugin.ts";
import { createMaskError } from "./error-masking.ts";
import { operationMetricsPlugin } from "./operation-metrics-plugin.ts";
import { socketClaims } from "./realtime-socket.ts";

/** The PostgreSQL schema PostGraphile exposes. Nothing else is introspected. */
export const EXPOSED_SCHEMAS = ["app_public"];

export interface PresetOptions {
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  graphiql: boolean;
  plugins?: GraphileConfig.Plugin[];
  statementTimeouts?: StatementTimeouts;
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
    grafast: {
      explain: false,
      context(requestContext) {
        const req = requestContext.expressv4?.req;
        // Websocket operations: the claims verified on the socket (realtime-socket.ts).
        const auth = requestContext.ws ? socketClaims(requestContext.ws.socket) : req?.auth;
        // auth and clientIp feed the authentication mutations (authentication-plugin.ts).
        return { pgSettings: pgSettingsFor(auth, options.statementTimeouts), auth, clientIp: req?.ip };
      },
    },
    schema: {
      // Deterministic order so the committed schema.graphql diff shows real changes only.
      sortExport: true,
    },
  };
}
