import type { NextFunction, Request, Response } from "express";
import { Router } from "express";
import type { Metrics } from "../observability/metrics.ts";

/** Known paths keep their name in the route label; anything else is "unmatched" (bounded cardinality). */
const KNOWN_ROUTES = new Set(["/graphql", "/graphiql", "/healthz", "/readyz", "/metrics"]);

export function recordHttpMetrics(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const stop = metrics.httpRequestDuration.startTimer();
    res.on("finish", () => {
      const route = KNOWN_ROUTES.has(req.path) ? req.path : "unmatched";
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

export function metricsRoutes(metrics: Metrics): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    res.set("Content-Type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
