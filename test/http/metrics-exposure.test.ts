import { describe, expect, it } from "vitest";
import type { AppConfig } from "../../src/config/app-config.ts";
import { startTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * Where /metrics is served: openly on the main port in development; in
 * production only behind METRICS_TOKEN or on the METRICS_PORT listener
 * (127.0.0.1 by default), never anonymously on the public port.
 */
const database = useTestDatabase();
const TOKEN = "scrape-token-0123456789";

async function withApi(
  overrides: Partial<AppConfig>,
  work: (urls: { main: string; metrics?: string }) => Promise<void>,
) {
  const { api } = await startTestApi(database.current, overrides);
  try {
    const { port, metricsPort } = await api.listen();
    await work({
      main: `http://127.0.0.1:${port}`,
      ...(metricsPort === undefined ? {} : { metrics: `http://127.0.0.1:${metricsPort}` }),
    });
  } finally {
    await api.close();
  }
}

async function scrape(base: string, token?: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${base}/metrics`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  return { status: response.status, text: await response.text() };
}

describe("metrics exposure", () => {
  it("is open on the main port in development", async () => {
    await withApi({ production: false }, async ({ main }) => {
      const answer = await scrape(main);
      expect(answer.status).toBe(200);
      expect(answer.text).toContain("http_connections_open");
    });
  });

  it("is not served on the public port in production without a token or a metrics port", async () => {
    await withApi({ production: true, graphiql: false }, async ({ main, metrics }) => {
      expect(metrics).toBeUndefined();
      const answer = await scrape(main);
      expect(answer.status).toBe(404);
      expect(answer.text).not.toContain("process_resident_memory_bytes");
    });
  });

  it("requires the Bearer token when METRICS_TOKEN is set", async () => {
    await withApi({ production: true, graphiql: false, metrics: { token: TOKEN } }, async ({ main }) => {
      expect((await scrape(main)).status).toBe(401);
      expect((await scrape(main, "wrong-token-0123456789")).status).toBe(401);
      const answer = await scrape(main, TOKEN);
      expect(answer.status).toBe(200);
      expect(answer.text).toContain("process_resident_memory_bytes");
    });
  });

  it("moves to its own listener when METRICS_PORT is set, leaving the public port without it", async () => {
    await withApi(
      { production: true, graphiql: false, metrics: { port: 0, host: "127.0.0.1" } },
      async ({ main, metrics }) => {
        expect((await scrape(main)).status).toBe(404);
        const answer = await scrape(metrics!);
        expect(answer.status).toBe(200);
        expect(answer.text).toContain("graphql_operations_total");
        // The metrics listener serves nothing else.
        expect((await fetch(`${metrics!}/graphql`, { method: "POST" })).status).toBe(404);
      },
    );
  });

  it("with both a port and a token, is served only on the metrics port, and only with the token", async () => {
    const metrics = { port: 0, host: "127.0.0.1", token: TOKEN };
    await withApi({ production: true, graphiql: false, metrics }, async ({ main, metrics: metricsUrl }) => {
      expect((await scrape(main, TOKEN)).status).toBe(404);
      expect((await scrape(metricsUrl!)).status).toBe(401);
      expect((await scrape(metricsUrl!, TOKEN)).status).toBe(200);
    });
  });
});
