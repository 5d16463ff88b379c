import { Router } from "express";
import type pg from "pg";
import { checkReadiness, type Readiness } from "../database/readiness.ts";

/**
 * Liveness and readiness probes for orchestrators and load balancers.
 * Readiness runs on its own pool (api-server.ts), so slow requests holding
 * the request pool do not make it report the database down.
 */
export function healthRoutes(options: {
  pool: pg.Pool;
  committedMigrations: readonly string[];
  isDraining: () => boolean;
}): Router {
  const router = Router();
  let probe: Promise<Readiness> | undefined;
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    if (options.isDraining()) {
      res.status(503).set("Retry-After", "5").json({ status: "unavailable", reason: "shutting down" });
      return;
    }
    // Probes that arrive together share one check: a flood of /readyz cannot
    // queue up behind the readiness connection and read as "database unavailable".
    probe ??= checkReadiness(options.pool, options.committedMigrations).finally(() => (probe = undefined));
    const readiness = await probe;
    if (readiness.ready) {
      res.json({ status: "ready" });
    } else {
      res.status(503).set("Retry-After", "5").json({ status: "unavailable", reason: readiness.reason });
    }
  });
  return router;
}
