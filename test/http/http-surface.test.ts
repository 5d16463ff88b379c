import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { graphql, useTestApi } from "../support/test-api.ts";

const database = useTestDatabase();
const api = useTestApi(database);

describe("HTTP surface", () => {
  it("answers liveness", async () => {
    const response = await api.current.request.get("/healthz");
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: "ok" });
  });

  it("is ready when the database answers and migrations are applied", async () => {
    const response = await api.current.request.get("/readyz");
    expect(response.body).toEqual({ status: "ready" });
    expect(response.status).toBe(200);
  });

  it("serves GraphQL to an anonymous visitor", async () => {
    const response = await graphql(api.current.request, "{ __typename }");
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: { __typename: "Query" } });
  });

  it("serves Ruru at /graphiql, and not at /", async () => {
    const page = await api.current.request.get("/graphiql").set("Accept", "text/html");
    expect(page.status).toBe(200);
    expect(page.text).toContain("ruru");
    expect((await api.current.request.get("/").set("Accept", "text/html")).status).toBe(404);
  });

  it("exposes Prometheus metrics for HTTP, GraphQL operations, the pool and the process", async () => {
    await graphql(api.current.request, "query Me { __typename }");
    await graphql(api.current.request, "query Probe { __typename }");
    await graphql(api.current.request, "query Broken { nope }");
    const response = await api.current.request.get("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toContain("text/plain");
    expect(response.text).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/graphql"[^}]*status="200"/);
    expect(response.text).toContain(
      'graphql_operations_total{operation_name="Me",operation_type="query",outcome="success"} 1',
    );
    // Names off the allow-list (operation-metrics-plugin.ts) share one label.
    expect(response.text).toContain(
      'graphql_operations_total{operation_name="other",operation_type="query",outcome="success"} 1',
    );
    expect(response.text).toMatch(/graphql_operations_total\{[^}]*outcome="invalid"\} 1/);
    expect(response.text).toMatch(/pg_pool_connections_total \d+/);
    expect(response.text).toMatch(/pg_pool_connections_idle \d+/);
    expect(response.text).toMatch(/pg_pool_clients_waiting \d+/);
    expect(response.text).toContain("process_resident_memory_bytes");
  });

  it("sets security headers and a request id", async () => {
    const response = await api.current.request.get("/healthz").set("X-Request-Id", "trace-123");
    expect(response.headers["x-request-id"]).toBe("trace-123");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(response.headers["x-powered-by"]).toBeUndefined();
    const generated = await api.current.request.get("/healthz").set("X-Request-Id", "bad id\twith spaces");
    expect(generated.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("allows CORS only from configured origins", async () => {
    const allowed = await api.current.request
      .options("/graphql")
      .set("Origin", "https://portal.example.com")
      .set("Access-Control-Request-Method", "POST");
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://portal.example.com");
    const refused = await api.current.request
      .options("/graphql")
      .set("Origin", "https://evil.example.com")
      .set("Access-Control-Request-Method", "POST");
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("bad HTTP input", () => {
  it("refuses bodies over 1 MB with 413", async () => {
    const body = JSON.stringify({ query: `{ __typename }`, variables: { padding: "x".repeat(1_100_000) } });
    const response = await api.current.request.post("/graphql").set("Content-Type", "application/json").send(body);
    expect(response.status).toBe(413);
    expect(response.body.errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers malformed JSON with 400 and no internals", async () => {
    const response = await api.current.request
      .post("/graphql")
      .set("Content-Type", "application/json")
      .send('{"query": "{ __typename }"');
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      errors: [{ message: "Malformed request body", extensions: { code: "BAD_REQUEST" } }],
    });
  });

  it("answers unknown paths with 404", async () => {
    const response = await api.current.request.get("/no/such/path");
    expect(response.status).toBe(404);
    expect(response.body.errors[0].extensions.code).toBe("NOT_FOUND");
  });

  it("answers a GraphQL syntax error without a stack trace", async () => {
    const response = await graphql(api.current.request, "{ __typename");
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.(js|ts):\d+/);
    expect(response.body.errors[0].message).toContain("Syntax Error");
  });

  it("rejects a malformed Authorization header with 401", async () => {
    const response = await graphql(api.current.request, "{ __typename }", {}, "Basic abc");
    expect(response.status).toBe(401);
    expect(response.body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });
});
