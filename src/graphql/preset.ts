import type pg from "pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { pgSettingsFor, type StatementTimeouts } from "../database/web-roles.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { createLogSampler } from "../observability/log-sampler.ts";
import { databaseAvailabilityPlugin } from "./database-availability-plugin.ts";
import { DEFAULT_DOCUMENT_LIMITS, type DocumentLimits } from "./document-limits.ts";
import { documentsPreset } from "./documents-preset.ts";
import { createMaskError } from "./error-masking.ts";
import { DOCUMENTED_OPERATION_NAMES, operationMetricsPlugin } from "./operation-metrics-plugin.ts";
import { socketClaims, socketClientAddress } from "./realtime-socket.ts";
import { RURU_CONFIG } from "./ruru-starter.ts";
import type { TrustedDocuments } from "./trusted-documents.ts";

/** The PostgreSQL schema PostGraphile exposes. Nothing else is introspected. */
export const EXPOSED_SCHEMAS = ["app_public"];

export interface PresetOptions {
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  graphiql: boolean;
  plugins?: GraphileConfig.Plugin[];
  statementTimeouts?: StatementTimeouts;
  /** Production: no suggestions in errors (validation-rules-plugin.ts). */
  production?: boolean;
  /** `__schema`/`__type` allowed (GRAPHQL_INTROSPECTION); on unless configured off. */
  introspection?: boolean;
  /** Document size, shape, cost and page limits (document-limits.ts). */
  documentLimits?: DocumentLimits;
  /** When set, only these operations are executed (trusted-documents.ts). */
  trustedDocuments?: TrustedDocuments;
  /**
   * false leaves out the per-request bounds (the documents preset and the
   * statement timeouts) so that `npm run bench -- --compare limits` can
   * measure what they cost. Nothing in the environment reaches it.
   */
  requestLimits?: boolean;
}

export function createPreset(options: PresetOptions): GraphileConfig.Preset {
  const production = options.production ?? false;
  const trusted = options.trustedDocuments;
  const limited = options.requestLimits ?? true;
  const documents = documentsPreset({
    limits: options.documentLimits ?? DEFAULT_DOCUMENT_LIMITS,
    // Warnings a client can cause at will are rate-limited (log-sampler.ts).
    sampler: createLogSampler(options.logger),
    production,
    introspection: options.introspection ?? true,
    trustedDocuments: trusted,
  });
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, ...(limited ? [documents] : [])],
    plugins: [
      operationMetricsPlugin(options.metrics, trusted?.operationNames ?? DOCUMENTED_OPERATION_NAMES),
      databaseAvailabilityPlugin({ logger: options.logger }),
      ...(options.plugins ?? []),
    ],
    // No pubsub: realtime events have their own listener (realtime-dispatcher.ts).
    pgServices: [makePgService({ pool: options.pool, schemas: EXPOSED_SCHEMAS, pubsub: false })],
    grafserv: {
      graphqlPath: "/graphql",
      graphiql: options.graphiql,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      // Express already refuses bodies over 1 MB with 413; this is the same bound.
      maxRequestLength: 1_000_000,
      maskError: createMaskError(options.logger, { production }),
      // graphql-ws subscriptions on graphqlPath (docs/realtime.md), served by
      // http/websocket-server.ts with its limits rather than grafserv's own.
      websockets: true,
    },
    // Ruru (GraphiQL) opens on a starter query with the Authorization header explained.
    ruru: RURU_CONFIG,
    grafast: {
      explain: false,
      context(requestContext) {
        const req = requestContext.expressv4?.req;
        const ws = requestContext.ws;
        // Websocket operations: the claims verified on the socket and the
        // address of its upgrade request (realtime-socket.ts).
        const auth = ws ? socketClaims(ws.socket) : req?.auth;
        const clientIp = ws ? socketClientAddress(ws.request) : req?.ip;
        // auth and clientIp feed the authentication mutations (authentication-plugin.ts).
        const pgSettings = pgSettingsFor(auth, options.statementTimeouts);
        if (!limited) delete pgSettings.statement_timeout;
        return { pgSettings, auth, clientIp };
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
