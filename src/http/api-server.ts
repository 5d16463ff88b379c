import http from "node:http";
import express from "express";
import type pg from "pg";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import { limitsOf, type AppConfig } from "../config/app-config.ts";
import { ConfigurationError } from "../config/environment.ts";
import { createListenPool, createPool, createReadinessPool } from "../database/api-pools.ts";
import { DEFAULT_HOUSEKEEPING_MINUTES, startHousekeeping } from "../database/housekeeping.ts";
import { committedMigrationFiles } from "../database/migration-files.ts";
import { graphqlPlugins } from "../graphql/plugins.ts";
import { createPreset } from "../graphql/preset.ts";
import { defaultStorageConfig } from "../storage/storage-config.ts";
import { createAttachmentStorage } from "../storage/storage-driver.ts";
import { RealtimeDispatcher } from "../graphql/realtime-dispatcher.ts";
import { DEFAULT_WEBSOCKET_LIMITS, SocketRegistry } from "../graphql/realtime-socket.ts";
import { requestDeadlinePlugin } from "../graphql/request-deadline-plugin.ts";
import { loadTrustedDocuments, type TrustedDocuments } from "../graphql/trusted-documents.ts";
import type { Logger } from "../observability/logger.ts";
import { createMetrics, registerPoolMetrics } from "../observability/metrics.ts";
import { limitConnections, serverOptions } from "./connection-limits.ts";
import { assembleExpressApp } from "./express-app.ts";
import { metricsServerFor } from "./metrics-server.ts";
import { Drain, listenOn, stopServing, trackUpgradedSockets } from "./server-lifecycle.ts";
import { attachWebsockets } from "./websocket-server.ts";

/**
 * The HTTP process: Express 5 with PostGraphile mounted, plus probes,
 * metrics and logs. `listen` and `close` own the whole lifecycle so the CLI
 * and the tests start and stop it the same way. The parts live next door:
 * pools (database/api-pools.ts), the Express app (express-app.ts), the
 * metrics listener (metrics-server.ts), listen and shutdown
 * (server-lifecycle.ts); this file wires them together.
 */
export interface ApiServer {
  app: express.Express;
  server: http.Server;
  pool: pg.Pool;
  /** The listener serving only /metrics, when METRICS_PORT is set. */
  metricsServer?: http.Server;
  /** The main port, and the metrics port when there is one. */
  listen(): Promise<{ port: number; metricsPort?: number }>;
  close(): Promise<void>;
}

function trustedDocumentsOf(config: AppConfig): TrustedDocuments | undefined {
  if (config.trustedDocuments === undefined) return undefined;
  try {
    return loadTrustedDocuments(config.trustedDocuments);
  } catch (error) {
    throw new ConfigurationError(`Invalid configuration: TRUSTED_DOCUMENTS ${(error as Error).message}`);
  }
}

export interface ApiServerOptions {
  /** false: without the per-request bounds, for the benchmark only (preset.ts, `requestLimits`). */
  requestLimits?: boolean;
}

export async function createApiServer(
  config: AppConfig,
  logger: Logger,
  options: ApiServerOptions = {},
): Promise<ApiServer> {
  const requestLimits = options.requestLimits ?? true;
  const trustedDocuments = trustedDocumentsOf(config);
  const limits = limitsOf(config);
  const pool = createPool(config, logger);
  const readinessPool = createReadinessPool(config, logger);
  const listenPool = createListenPool(config, logger);
  const metrics = createMetrics();
  registerPoolMetrics(metrics, pool);
  const websocketLimits = { ...DEFAULT_WEBSOCKET_LIMITS, ...config.websocketLimits };
  const sockets = new SocketRegistry({ jwt: config.jwt, logger, limits: websocketLimits });
  const storage = createAttachmentStorage(config.storage ?? defaultStorageConfig(), config.jwt.secret);
  const dispatcher = new RealtimeDispatcher({
    pool,
    ...(listenPool ? { listenPool } : {}),
    logger,
    maxSubscriptionsPerUser: websocketLimits.maxSubscriptionsPerUser,
  });

  const preset = createPreset({
    pool,
    logger,
    metrics,
    graphiql: config.graphiql,
    statementTimeouts: { anonymousMs: limits.statementTimeoutAnonymousMs, signedInMs: limits.statementTimeoutMs },
    production: config.production,
    ...(config.introspection === undefined ? {} : { introspection: config.introspection }),
    ...(config.documentLimits ? { documentLimits: config.documentLimits } : {}),
    ...(trustedDocuments ? { trustedDocuments } : {}),
    requestLimits,
    plugins: [
      ...(requestLimits ? [requestDeadlinePlugin({ requestTimeoutMs: limits.requestTimeoutMs, logger, metrics })] : []),
      ...graphqlPlugins({ pool, jwt: config.jwt, logger, metrics, dispatcher, storage }),
    ],
  });
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);

  const app = express();
  const server = http.createServer(serverOptions, app);
  limitConnections(server, limits, logger, metrics);
  const metricsServer = metricsServerFor(config, metrics);
  const drain = new Drain();
  let detachWebsockets = () => {};
  await assembleExpressApp(app, {
    config,
    logger,
    metrics,
    drain,
    readinessPool,
    pool,
    committedMigrations: await committedMigrationFiles(),
    storage,
    async mountGraphql() {
      // Websockets are served by websocket-server.ts (limits), not by grafserv's own handler.
      await serv.addTo(app, server, false);
      detachWebsockets = attachWebsockets({
        app,
        server,
        serv,
        sockets,
        maxPayload: preset.grafserv?.maxRequestLength ?? 1_000_000,
      });
    },
  });
  const upgraded = trackUpgradedSockets(server);
  const housekeeping = startHousekeeping({
    pool,
    logger,
    minutes: config.housekeepingMinutes ?? DEFAULT_HOUSEKEEPING_MINUTES,
  });

  return {
    app,
    server,
    pool,
    ...(metricsServer ? { metricsServer } : {}),
    async listen() {
      const port = await listenOn(server, config.port, config.host);
      if (!metricsServer || config.metrics?.port === undefined) return { port };
      const metricsPort = await listenOn(metricsServer, config.metrics.port, config.metrics.host ?? "127.0.0.1");
      return { port, metricsPort };
    },
    async close() {
      await stopServing({
        server,
        drain,
        metricsServer,
        async closeUpgraded() {
          detachWebsockets();
          await sockets.closeAll();
          upgraded.forEach((socket) => socket.destroy());
          await dispatcher.close();
        },
      });
      await housekeeping.stop();
      await pgl.release();
      // pgl.release() leaves the pg services alone; theirs holds the LISTEN connection.
      await Promise.all((preset.pgServices ?? []).map((service) => service.release?.()));
      await Promise.all([pool.end(), readinessPool.end(), listenPool?.end()]);
    },
  };
}
