import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiServer } from "../../src/http/api-server.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createApiServer } from "../../src/http/api-server.ts";
import { startFreezingProxy, type FreezingProxy } from "../support/freezing-proxy.ts";
import { makeUser } from "../support/fixtures.ts";
import { bearer, testAppConfig } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { postGraphQL, sleep, startApiProcess, timedGet } from "./time-and-connections-helpers.ts";

/**
 * A database that hangs (accepts nothing, answers nothing) rather than
 * going away: the statement timeout cannot help, since the server never
 * runs the statement. The request deadline answers the client, readiness
 * says "unavailable", liveness stays up, and the API recovers by itself
 * when the database answers again.
 */
const database = useTestDatabase();
let proxy: FreezingProxy;
let api: ApiServer;
let url: string;
let authorization: string;
let urlViaProxy: string;

const TICKETS = "query Tickets { tickets(first: 1) { totalCount } }";

beforeAll(async () => {
  const target = new URL(database.current.urls.authenticator);
  proxy = await startFreezingProxy({ host: target.hostname, port: Number(target.port) });
  const viaProxy = new URL(database.current.urls.authenticator);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  urlViaProxy = viaProxy.toString();
  api = await createApiServer(
    testAppConfig(viaProxy.toString(), { production: true, graphiql: false, limits: { requestTimeoutMs: 1_500 } }),
    createLogger("silent"),
  );
  const { port } = await api.listen();
  url = `http://127.0.0.1:${port}`;
  authorization = bearer(await makeUser(database.current.owner, "Casey Customer", "customer"), "ticketing_customer");
});

afterAll(async () => {
  proxy?.thaw();
  await api?.close();
  await proxy?.close();
});

describe("a hung database", () => {
  it("answers 503 REQUEST_TIMEOUT at the deadline, keeps /healthz, reports not ready, and recovers", async () => {
    // Warm (the first request plans the operation and opens connections; on a loaded machine that may pass the deadline).
    await vi.waitFor(async () => expect((await postGraphQL(url, TICKETS, { authorization })).status).toBe(200), {
      timeout: 20_000,
      interval: 200,
    });
    proxy.freeze();
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => postGraphQL(url, TICKETS, { authorization })));
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.retryAfter).toMatch(/^\d+$/);
        expect(answer.codes).toEqual(["REQUEST_TIMEOUT"]);
        // Generous: the deadline is 1.5 s; a loaded machine may add a few seconds, never the hang itself.
        expect(answer.milliseconds).toBeLessThan(10_000);
      }
      console.info(
        `hung database: answered at ${Math.max(...answers.map((a) => a.milliseconds)).toFixed(0)} ms (deadline 1500 ms)`,
      );
      expect((await timedGet(url, "/healthz")).status).toBe(200);
      expect((await timedGet(url, "/readyz")).status).toBe(503);
    } finally {
      proxy.thaw();
    }
    await vi.waitFor(async () => expect((await postGraphQL(url, TICKETS, { authorization })).status).toBe(200), {
      timeout: 20_000,
      interval: 200,
    });
    expect((await timedGet(url, "/readyz")).status).toBe(200);
  });

  it("does not hold SIGTERM: npm start exits within SHUTDOWN_TIMEOUT_MS while a request is stuck on it", async () => {
    const started = await startApiProcess({ DATABASE_URL: urlViaProxy, SHUTDOWN_TIMEOUT_MS: "3000" });
    try {
      const base = `http://127.0.0.1:${started.port}`;
      await vi.waitFor(async () => expect((await postGraphQL(base, TICKETS, { authorization })).status).toBe(200), {
        timeout: 20_000,
        interval: 200,
      });
      proxy.freeze();
      const stuck = postGraphQL(base, TICKETS, { authorization }).catch((error: Error) => error);
      await sleep(300);
      // Without the shutdown timeout this exit took 38 s (and code 0) in a measured run.
      const exit = await started.terminate();
      console.info(
        `SIGTERM with a request stuck on a hung database: exit ${exit.code} after ${exit.milliseconds.toFixed(0)} ms`,
      );
      expect(exit.code).toBe(1);
      expect(exit.milliseconds).toBeLessThan(15_000);
      expect(started.output()).toContain("shutdown did not finish in time");
      await stuck;
    } finally {
      proxy.thaw();
      await started.terminate();
    }
  });
});
