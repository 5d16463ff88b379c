import type http from "node:http";
import supertest from "supertest";
import { afterAll, beforeAll } from "vitest";
import { signAccessToken } from "../../src/auth/access-tokens.ts";
import type { AppConfig, JwtConfig } from "../../src/config/app-config.ts";
import type { WebRole } from "../../src/database/web-roles.ts";
import { createApiServer, type ApiServer } from "../../src/http/api-server.ts";
import { createLogger } from "../../src/observability/logger.ts";
import type { TestDatabase } from "./test-database.ts";

/** The real API (Express + PostGraphile) on a test file's database, driven over HTTP with supertest. */
export const TEST_JWT: JwtConfig = {
  secret: "test-secret-that-is-at-least-32-bytes-long!",
  issuer: "ticketing-api",
  audience: "ticketing-clients",
  accessTokenSeconds: 900,
};

export function testAppConfig(databaseUrl: string, overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    production: false,
    host: "127.0.0.1",
    port: 0,
    databaseUrl,
    poolSize: 4,
    jwt: TEST_JWT,
    corsOrigins: ["https://portal.example.com"],
    logLevel: "silent",
    graphiql: true,
    ...overrides,
  };
}

export interface TestApi {
  api: ApiServer;
  request: supertest.Agent;
}

export async function startTestApi(database: TestDatabase, overrides: Partial<AppConfig> = {}): Promise<TestApi> {
  const config = testAppConfig(database.urls.authenticator, overrides);
  const api = await createApiServer(config, createLogger(process.env.LOG_LEVEL ?? config.logLevel));
  return { api, request: supertest.agent(api.app) };
}

/** Registers an API for the file (after its database); read `.current` inside tests. */
export function useTestApi(database: { readonly current: TestDatabase }, overrides: Partial<AppConfig> = {}) {
  let testApi: TestApi | undefined;
  beforeAll(async () => {
    testApi = await startTestApi(database.current, overrides);
  });
  afterAll(async () => {
    await testApi?.api.close();
  });
  return {
    get current(): TestApi {
      if (!testApi) throw new Error("test API not started yet");
      return testApi;
    },
  };
}

export function bearer(userId: string, role: WebRole): string {
  return `Bearer ${signAccessToken(TEST_JWT, { userId, role }).token}`;
}

/** The code and message of a GraphQL answer's first error (both undefined without one). */
export function firstError(body: { errors?: { message: string; extensions?: { code?: string } }[] }) {
  return { code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message };
}

/** POSTs a GraphQL operation; returns the supertest response. */
export function graphql(
  request: supertest.Agent,
  query: string,
  variables: Record<string, unknown> = {},
  authorization?: string,
) {
  const call = request.post("/graphql").set("Content-Type", "application/json");
  if (authorization) call.set("Authorization", authorization);
  return call.send({ query, variables });
}

/**
 * How many requests the server has received from now on. Counted by a
 * listener added after the app's own, so a request counted has already been
 * handed to its route (the middleware before the routes runs synchronously).
 * A test that acts on requests in flight waits for its count first: a
 * connection still in the listen backlog is not yet a request.
 */
export function countRequests(server: http.Server): () => number {
  let received = 0;
  server.on("request", () => {
    received += 1;
  });
  return () => received;
}
