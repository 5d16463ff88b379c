import { randomUUID } from "node:crypto";
import http from "node:http";
import type { Duplex } from "node:stream";
import cors from "cors";
import express from "express";
import helmet from "helmet";
import pg from "pg";
import { pinoHttp } from "pino-http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import { DEFAULT_TIME_LIMITS, type AppConfig, type TimeLimits } from "../config/app-config.ts";
import { DEFAULT_HOUSEKEEPING_MINUTES, startHousekeeping } from "../database/housekeeping.ts";
import { committedMigrationFiles } from "../database/migrations.ts";
import { createPreset } from "../graphql/preset.ts";
import { graphqlPlugins } from "../graphql/plugins.ts";
import { requestDeadlinePlugin } from "../graphql/request-deadline-plugin.ts";
import { ConfigurationError } from "../config/environment.ts";
import { loadTrustedDocuments, type TrustedDocuments } from "../graphql/trusted-documents.ts";
import { RealtimeDispatcher } from "../graphql/realtime-dispatcher.ts";
import { DEFAULT_WEBSOCKET_LIMITS, SocketRegistry } from "../graphql/realtime-socket.ts";
import type { Logger } from "../observability/logger.ts";
import { createMetrics, registerPoolMetrics } from "../observability/metrics.ts";
import { limitConnections, serverOptions } from "./connection-limits.ts";
import { errorHandler, notFound } from "./error-handlers.ts";
import { healthRoutes } from "./health-routes.ts";
import { metricsRoutes, recordHttpMetrics } from "./metrics-routes.ts";
import { requestAuth } from "./request-auth.ts";
import { attachWebsockets } from "./websocket-server.ts";

/**
 * The HTTP process: Express 5 with PostGraphile mounted, plus probes,
 * metrics and logs. `listen` and `close` own the whole lifecycle so the CLI
 * and the tests start and stop it the same way.
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

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const BODY_LIMIT = "1mb";

function requestId(req: http.IncomingMessage, res: http.ServerResponse): string {
  const incoming = req.headers["x-request-id"];
  const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader("X-Request-Id", id);
  return id;
}

/**
 * One short access-log line per request: id, method, URL, client, status and
 * (added by pino-http) response time. pino-http's default serializers copy
 * every request and response header into each line (and redaction then
 * clones them to hide Authorization): at load that was about a sixth of the
 * API's throughput (docs/performance.md), for headers nobody reads in an
 * access log. Errors are logged by the error handler, with the request id.
 */
const ACCESS_LOG_SERIALIZERS = {
  req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({
    id: req.id,
    method: req.method,
    url: req.url,
    remoteAddress: req.remoteAddress,
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
};

export function limitsOf(config: AppConfig): TimeLimits {
  return { ...DEFAULT_TIME_LIMITS, ...config.limits };
}

/** Readiness checks get their own connection, so a pool saturated by slow requests does not read as "down". */
const READINESS_POOL = { max: 1, statementTimeoutMs: 2_000, applicationName: "ticketing-api-readiness" };

/**
 * The API's pool. Its session `statement_timeout` bounds the API's own
 * queries (sign-in, refresh, sessions); request transactions set their
 * own per role (preset.ts). A request waits `poolWaitMs` at most for a
 * connection, then gets SERVICE_BUSY.
 */
export function createPool(
  config: AppConfig,
  logger: Logger,
  options: { max?: number; statementTimeoutMs?: number; applicationName?: string } = {},
): pg.Pool {
  const limits = limitsOf(config);
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: options.max ?? config.poolSize,
    connectionTimeoutMillis: limits.poolWaitMs,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? "ticketing-api",
    statement_timeout: options.statementTimeoutMs ?? limits.statementTimeoutMs,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", (error) => logger.warn({ err: error }, "idle database connection lost"));
  // Nor a checked-out one: pg-pool listens for errors only while a client is
  // idle, and PostGraphile holds clients between statements of a request. A
  // client that errs is not queryable any more; the pool discards it on release.
  pool.on("connect", (client) => {
    client.on("error", (error) => logger.warn({ err: error }, "database connection lost while in use"));
  });
  return pool;
}

/** Raw sockets taken over by websockets, so shutdown can cut those that never authenticated. */
function trackUpgradedSockets(server: http.Server): Set<Duplex> {
  const sockets = new Set<Duplex>();
  server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return sockets;
}

/**
 * Where /metrics is answered: only its own listener when METRICS_PORT is
 * set; else the main port when a token protects it, or outside production.
 * In production with neither, nowhere public.
 */
function metricsOnMainPort(config: AppConfig): boolean {
  if (config.metrics?.port !== undefined) return false;
  return config.metrics?.token !== undefined || !config.production;
}

function metricsServerFor(config: AppConfig, metrics: ReturnType<typeof createMetrics>): http.Server | undefined {
  if (config.metrics?.port === undefined) return undefined;
  const app = express();
  app.disable("x-powered-by");
  app.use(metricsRoutes(metrics, config.metrics.token === undefined ? {} : { token: config.metrics.token }));
  app.use(notFound);
  const server = http.createServer(app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return server;
}

function listenOn(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function trustedDocumentsOf(config: AppConfig): TrustedDocuments | undefined {
  if (config.trustedDocuments === undefined) return undefined;
  try {
    return loadTrustedDocuments(config.trustedDocuments);
  } catch (error) {
    throw new ConfigurationError(`Invalid configuration: TRUSTED_DOCUMENTS ${(error as Error).message}`);
  }
}

export async function createApiServer(config: AppConfig, logger: Logger): Promise<ApiServer> {
  const trustedDocuments = trustedDocumentsOf(config);
  const limits = limitsOf(config);
  const pool = createPool(config, logger);
  const readinessPool = createPool(config, logger, READINESS_POOL);
  const metrics = createMetrics();
  registerPoolMetrics(metrics, pool);
  let draining = false;
  const websocketLimits = { ...DEFAULT_WEBSOCKET_LIMITS, ...config.websocketLimits };
  const sockets = new SocketRegistry({ jwt: config.jwt, logger, limits: websocketLimits });
  const dispatcher = new RealtimeDispatcher({ pool, logger, maxSubscriptionsPerUser: websocketLimits.maxSubscriptionsPerUser });

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
    plugins: [
      requestDeadlinePlugin({ requestTimeoutMs: limits.requestTimeoutMs, logger, metrics }),
      ...graphqlPlugins({ pool, jwt: config.jwt, logger, metrics, dispatcher }),
    ],
  });
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);

  const app = express();
  const server = http.createServer(serverOptions, app);
  limitConnections(server, limits, logger, metrics);
  const metricsServer = metricsServerFor(config, metrics);
  app.disable("x-powered-by");
  // While draining, every answer closes its connection, so keep-alive
  // sockets do not hold shutdown open until their idle timeout.
  const inFlight = new Set<http.ServerResponse>();
  app.use((_req, res, next) => {
    if (draining) res.setHeader("Connection", "close");
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    next();
  });
  if (config.trustProxy !== undefined) app.set("trust proxy", config.trustProxy);
  app.use(
    pinoHttp({
      logger,
      genReqId: requestId,
      autoLogging: { ignore: (req) => req.url === "/healthz" },
      serializers: ACCESS_LOG_SERIALIZERS,
    }),
  );
  app.use(recordHttpMetrics(metrics));
  // Ruru's page needs inline scripts; every other response gets the strict policy.
  const strictHeaders = helmet();
  const graphiqlHeaders = helmet({ contentSecurityPolicy: false });
  app.use((req, res, next) => (req.path === "/graphiql" ? graphiqlHeaders : strictHeaders)(req, res, next));
  app.use(cors({ origin: config.corsOrigins.length > 0 ? config.corsOrigins : false, maxAge: 600 }));
  app.use(healthRoutes({ pool: readinessPool, committedMigrations: await committedMigrationFiles(), isDraining: () => draining }));
  if (metricsOnMainPort(config)) {
    app.use(metricsRoutes(metrics, config.metrics?.token === undefined ? {} : { token: config.metrics.token }));
  }
  app.use("/graphql", requestAuth(config.jwt));
  app.post("/graphql", express.json({ limit: BODY_LIMIT }));
  // Websockets are served by websocket-server.ts (limits), not by grafserv's own handler.
  await serv.addTo(app, server, false);
  const detachWebsockets = attachWebsockets({
    app,
    server,
    serv,
    sockets,
    maxPayload: preset.grafserv?.maxRequestLength ?? 1_000_000,
  });
  const upgraded = trackUpgradedSockets(server);
  app.use(notFound);
  app.use(errorHandler(logger));
  const housekeeping = startHousekeeping({ pool, logger, minutes: config.housekeepingMinutes ?? DEFAULT_HOUSEKEEPING_MINUTES });

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
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader("Connection", "close");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (metricsServer?.listening) {
        metricsServer.close();
        metricsServer.closeAllConnections();
      }
      server.closeIdleConnections();
      // Websockets are no longer HTTP connections: server.close() would wait for them forever.
      detachWebsockets();
      await sockets.closeAll();
      upgraded.forEach((socket) => socket.destroy());
      await dispatcher.close();
      // In-flight requests get a grace period, then their sockets are cut.
      const force = setTimeout(() => server.closeAllConnections(), 10_000);
      await closed;
      clearTimeout(force);
      await housekeeping.stop();
      await pgl.release();
      // pgl.release() leaves the pg services alone; theirs holds the LISTEN connection.
      await Promise.all((preset.pgServices ?? []).map((service) => service.release?.()));
      await Promise.all([pool.end(), readinessPool.end()]);
    },
  };
}
