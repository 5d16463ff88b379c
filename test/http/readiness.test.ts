import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import supertest from "supertest";
import { setupCluster } from "../../src/database/cluster-setup.ts";
import type { DatabaseUrls } from "../../src/database/connection-urls.ts";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../../src/database/embedded-postgres.ts";
import { committedMigrationFiles } from "../../src/database/migration-files.ts";
import { migrationSettings, runCommittedMigrations } from "../../src/database/migrations.ts";
import { databaseUrls, provision } from "../../src/database/provision.ts";
import { createApiServer, type ApiServer } from "../../src/http/api-server.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { TEST_CLUSTER_PASSWORD } from "../support/cluster.ts";
import { freePort } from "../../src/net/free-port.ts";
import { testAppConfig } from "../support/test-api.ts";

/**
 * Readiness against a database that really goes away: this file runs its
 * own embedded PostgreSQL so it can stop and restart the server.
 */
const logger = createLogger("silent");
let dataDir: string;
let port: number;
let postgres: EmbeddedPostgresHandle | undefined;

function start(): Promise<EmbeddedPostgresHandle> {
  return startEmbeddedPostgres({
    dataDir: path.join(dataDir, "postgres"),
    port,
    password: TEST_CLUSTER_PASSWORD,
    persistent: true,
  });
}

function urlsFor(database: string): DatabaseUrls {
  return databaseUrls(postgres!.rootUrl, database, {
    owner: TEST_CLUSTER_PASSWORD,
    authenticator: TEST_CLUSTER_PASSWORD,
  });
}

async function apiOn(urls: DatabaseUrls): Promise<ApiServer> {
  return createApiServer(testAppConfig(urls.authenticator), logger);
}

async function readiness(api: ApiServer) {
  return supertest(api.app).get("/readyz");
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-readiness-"));
  await chmod(dataDir, 0o755);
  port = await freePort();
  postgres = await start();
});

afterAll(async () => {
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe("readiness", () => {
  it("is 503 while committed migrations are pending, 200 once applied", async () => {
    expect((await committedMigrationFiles()).length).toBeGreaterThan(0);
    const urls = urlsFor("ticketing_pending");
    await setupCluster(urls);
    const api = await apiOn(urls);
    try {
      const pending = await readiness(api);
      expect(pending.status).toBe(503);
      await runCommittedMigrations(migrationSettings({ ownerUrl: urls.owner, logger }));
      const ready = await readiness(api);
      expect(ready.status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it("is 503 while the database is down and recovers without a restart", async () => {
    const urls = urlsFor("ticketing_recovery");
    await provision(urls, { logger });
    const api = await apiOn(urls);
    try {
      expect((await readiness(api)).status).toBe(200);
      await postgres!.stop();
      postgres = undefined;
      const down = await readiness(api);
      expect(down.status).toBe(503);
      expect(down.body).toEqual({ status: "unavailable", reason: "database unavailable" });
      expect(down.headers["retry-after"]).toBeDefined();
      // Liveness is unaffected: the process still serves.
      expect((await supertest(api.app).get("/healthz")).status).toBe(200);
      postgres = await start();
      await vi.waitFor(async () => expect((await readiness(api)).status).toBe(200), { timeout: 15_000, interval: 200 });
    } finally {
      await api.close();
    }
  });
});
