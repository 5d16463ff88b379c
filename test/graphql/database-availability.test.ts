import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createUserAccount } from "../../src/auth/auth-store.ts";
import type { DatabaseUrls } from "../../src/database/connection-urls.ts";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../../src/database/embedded-postgres.ts";
import { databaseUrls, provision } from "../../src/database/provision.ts";
import { createApiServer, type ApiServer } from "../../src/http/api-server.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { TEST_CLUSTER_PASSWORD } from "../support/cluster.ts";
import { freePort } from "../../src/net/free-port.ts";
import { bearer, testAppConfig } from "../support/test-api.ts";

/**
 * /graphql while the database is away: this file runs its own embedded
 * PostgreSQL so it can stop and restart it (see readiness.test.ts).
 */
const logger = createLogger("silent");
let dataDir: string;
let port: number;
let postgres: EmbeddedPostgresHandle | undefined;
let urls: DatabaseUrls;
let api: ApiServer;
let customer: string;

const CURRENT_USER = "query Me { currentUser { rowId } }";
const CREATE_TICKET = `mutation File($subject: String!) {
  createTicket(input: { ticket: { subject: $subject } }) { ticket { rowId } }
}`;

function start(): Promise<EmbeddedPostgresHandle> {
  return startEmbeddedPostgres({
    dataDir: path.join(dataDir, "postgres"),
    port,
    password: TEST_CLUSTER_PASSWORD,
    persistent: true,
  });
}

function post(query: string, variables: Record<string, unknown> = {}) {
  return supertest(api.app)
    .post("/graphql")
    .set("Content-Type", "application/json")
    .set("Authorization", bearer(customer, "ticketing_customer"))
    .send({ query, variables });
}

/** A pool.connect that fails like a refused connection `times` times, then behaves; counts every call. */
function failConnects(pool: pg.Pool, times: number): { calls: () => number; restore: () => void } {
  const original = pool.connect.bind(pool);
  let calls = 0;
  const patched = (async () => {
    calls += 1;
    if (calls <= times) {
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    }
    return original();
  }) as unknown as pg.Pool["connect"];
  pool.connect = patched;
  return {
    calls: () => calls,
    restore: () => {
      pool.connect = original;
    },
  };
}

function expectCleanUnavailable(response: supertest.Response): void {
  expect(response.status).toBe(503);
  expect(response.headers["retry-after"]).toMatch(/^\d+$/);
  expect(response.body.errors).toHaveLength(1);
  expect(response.body.errors[0].extensions).toEqual({ code: "SERVICE_UNAVAILABLE" });
  expect(response.body.errors[0].message).toBe("The database is unavailable; please retry");
  // No driver message, address or stack trace reaches the client.
  expect(response.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|terminat|at \w+ \(|\.js:\d+/);
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-availability-"));
  await chmod(dataDir, 0o755);
  port = await freePort();
  postgres = await start();
  urls = databaseUrls(postgres.rootUrl, "ticketing_availability", {
    owner: TEST_CLUSTER_PASSWORD,
    authenticator: TEST_CLUSTER_PASSWORD,
  });
  await provision(urls, { logger });
  const owner = new pg.Pool({ connectionString: urls.owner, max: 1 });
  try {
    ({ id: customer } = await createUserAccount(owner, {
      email: "casey@example.com",
      displayName: "Casey",
      role: "customer",
      passwordHash: "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    }));
  } finally {
    await owner.end();
  }
  api = await createApiServer(testAppConfig(urls.authenticator), logger);
});

afterAll(async () => {
  await api?.close();
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe("GraphQL while the database is away", () => {
  it("retries a query whose connection failed, transparently", async () => {
    const failing = failConnects(api.pool, 1);
    try {
      const response = await post(CURRENT_USER);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ data: { currentUser: { rowId: customer } } });
      expect(failing.calls()).toBe(2);
    } finally {
      failing.restore();
    }
  });

  it("never retries a mutation, and answers it with 503", async () => {
    const failing = failConnects(api.pool, 1);
    try {
      const response = await post(CREATE_TICKET, { subject: "Printer on fire" });
      expectCleanUnavailable(response);
      expect(failing.calls()).toBe(1);
    } finally {
      failing.restore();
    }
  });

  it("survives a pooled connection cut while a request holds it", async () => {
    const client = await api.pool.connect();
    const ended = new Promise((resolve) => client.once("end", resolve));
    const root = new pg.Client({ connectionString: urls.root });
    await root.connect();
    try {
      await root.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'ticketing-api' and state = 'idle'",
      );
    } finally {
      await root.end();
    }
    await ended;
    client.release();
    // The process is still here (an unhandled 'error' event would have ended it) and serves.
    const response = await post(CURRENT_USER);
    expect(response.status).toBe(200);
  });

  it("answers 503 with Retry-After and a clean body while PostgreSQL is down, then recovers", async () => {
    await postgres!.stop();
    postgres = undefined;
    const query = await post(CURRENT_USER);
    expectCleanUnavailable(query);
    const mutation = await post(CREATE_TICKET, { subject: "Printer on fire" });
    expectCleanUnavailable(mutation);
    // Liveness is unaffected.
    expect((await supertest(api.app).get("/healthz")).status).toBe(200);
    postgres = await start();
    await vi.waitFor(async () => expect((await post(CURRENT_USER)).status).toBe(200), {
      timeout: 20_000,
      interval: 200,
    });
    const filed = await post(CREATE_TICKET, { subject: "Printer on fire" });
    expect(filed.status).toBe(200);
    expect(filed.body.data.createTicket.ticket.rowId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
