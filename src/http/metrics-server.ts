import http from "node:http";
import express from "express";
import type { AppConfig } from "../config/app-config.ts";
import type { Metrics } from "../observability/metrics.ts";
import { notFound } from "./error-handlers.ts";
import { metricsRoutes } from "./metrics-routes.ts";

/**
 * Where /metrics is answered: only its own listener when METRICS_PORT is
 * set; else the main port when a token protects it, or outside production.
 * In production with neither, nowhere public.
 */
export function metricsOnMainPort(config: AppConfig): boolean {
  if (config.metrics?.port !== undefined) return false;
  return config.metrics?.token !== undefined || !config.production;
}

/** The /metrics routes, behind the token when one is configured. */
export function configuredMetricsRoutes(config: AppConfig, metrics: Metrics): express.Router {
  return metricsRoutes(metrics, config.metrics?.token === undefined ? {} : { token: config.metrics.token });
}

/** The listener serving only /metrics, when METRICS_PORT is set. */
export function metricsServerFor(config: AppConfig, metrics: Metrics): http.Server | undefined {
  if (config.metrics?.port === undefined) return undefined;
  const app = express();
  app.disable("x-powered-by");
  app.use(configuredMetricsRoutes(config, metrics));
  app.use(notFound);
  const server = http.createServer(app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return server;
}
