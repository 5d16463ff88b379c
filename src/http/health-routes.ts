import { Router } from "express";
import type pg from "pg";
import { checkReadiness } from "../database/readiness.ts";

/** Liveness and readiness probes for orchestrators and load balancers. */
export function healthRoutes(options: {
  pool: pg.Pool;
  committedMigrations: readonly string[];
  isDraining: () => boolean;
}): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    if (options.isDraining()) {
      res.status(503).set("Retry-After", "5").json({ status: "unavailable", reason: "shutting down" });
      return;
    }
    const readiness = await checkReadiness(options.pool, options.committedMigrations);
    if (readiness.ready) {
      res.json({ status: "ready" });
    } else {
      res.status(503).set("Retry-After", "5").json({ status: "unavailable", reason: readiness.reason });
    }
  });
  return router;
}
