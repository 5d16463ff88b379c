import { randomUUID } from "node:crypto";
import type http from "node:http";
import cors from "cors";
import express from "express";
import helmet from "helmet";
import type pg from "pg";
import { pinoHttp } from "pino-http";
import type { AppConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { errorHandler, notFound } from "./error-handlers.ts";
import { healthRoutes } from "./health-routes.ts";
import { configuredMetricsRoutes, metricsOnMainPort } from "./metrics-server.ts";
import { recordHttpMetrics } from "./metrics-routes.ts";
import { localFileRoutes } from "../storage/local-storage.ts";
import type { AttachmentStorage } from "../storage/attachment-storage.ts";
import { requestAuth } from "./request-auth.ts";
import { inboundEmailRoutes } from "../mail/inbound-route.ts";
import type { Drain } from "./server-lifecycle.ts";

/**
 * The Express application in the order a request meets it: drain tracking,
 * access log, HTTP metrics, security headers, CORS, probes, /metrics, the
 * local attachment files, then GraphQL (its caller's token, its JSON body, the endpoint itself), and last
 * the 404 and error handlers.
 */

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
/** A signed attachment URL is logged without its signature: the log must not hand out downloads. */
export function loggedUrl(url: string | undefined): string | undefined {
  return url?.startsWith("/files/") ? url.replace(/([?&]sig=)[^&]*/, "$1[redacted]") : url;
}

const ACCESS_LOG_SERIALIZERS = {
  req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({
    id: req.id,
    method: req.method,
    url: loggedUrl(req.url),
    remoteAddress: req.remoteAddress,
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
};

export interface ExpressAppOptions {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  drain: Drain;
  /** The readiness probe's own pool, and the migrations it expects applied. */
  readinessPool: pg.Pool;
  committedMigrations: readonly string[];
  /** Attachment storage: the local driver's signed /files URLs are served here. */
  storage?: AttachmentStorage;
  /** Mounts the GraphQL endpoint (and its websockets) behind the routes above it. */
  mountGraphql: (app: express.Express) => Promise<void>;
  /** The API's own pool (as ticketing_authenticator), for POST /inbound/email. */
  pool: pg.Pool;
}

/** Fills `app` (already handed to its http.Server) with every route and middleware of the API. */
export async function assembleExpressApp(app: express.Express, options: ExpressAppOptions): Promise<void> {
  const { config, logger, metrics, drain } = options;
  app.disable("x-powered-by");
  app.use(drain.middleware);
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
  app.use(
    healthRoutes({
      pool: options.readinessPool,
      committedMigrations: options.committedMigrations,
      isDraining: drain.isDraining,
    }),
  );
  if (metricsOnMainPort(config)) app.use(configuredMetricsRoutes(config, metrics));
  // Signed upload and download URLs of the local attachment driver (no token: the signature is the right).
  if (options.storage) app.use(localFileRoutes(options.storage));
  app.use(inboundEmailRoutes({ pool: options.pool, settings: config.inbound, logger, storage: options.storage }));
  app.use("/graphql", requestAuth(config.jwt));
  app.post("/graphql", express.json({ limit: BODY_LIMIT }));
  await options.mountGraphql(app);
  app.use(notFound);
  app.use(errorHandler(logger));
}
