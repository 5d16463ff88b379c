import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { Router } from "express";
import type { Metrics } from "../observability/metrics.ts";

/**
 * Known paths keep their name in the route label, attachment files (one path
 * per file) share "/files"; anything else is "unmatched" (bounded cardinality).
 */
const KNOWN_ROUTES = new Set(["/graphql", "/graphiql", "/healthz", "/readyz", "/metrics"]);

export function recordHttpMetrics(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const stop = metrics.httpRequestDuration.startTimer();
    res.on("finish", () => {
      const route = KNOWN_ROUTES.has(req.path) ? req.path : req.path.startsWith("/files/") ? "/files" : "unmatched";
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** True when the request carries `Authorization: Bearer <token>` (compared in constant time). */
function hasToken(req: Request, expected: Buffer): boolean {
  const header = req.headers.authorization;
  const match = typeof header === "string" ? /^Bearer (.+)$/.exec(header) : null;
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

/**
 * GET /metrics in Prometheus' text format. With a token, only scrapers that
 * send it as a Bearer token are answered; others get 401.
 */
export function metricsRoutes(metrics: Metrics, options: { token?: string } = {}): Router {
  const router = Router();
  const expected = options.token === undefined ? undefined : digest(options.token);
  router.get("/metrics", async (req, res) => {
    if (expected && !hasToken(req, expected)) {
      res
        .status(401)
        .set("WWW-Authenticate", 'Bearer realm="metrics"')
        .json({ errors: [{ message: "Metrics require a token", extensions: { code: "UNAUTHENTICATED" } }] });
      return;
    }
    res.set("Content-Type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
