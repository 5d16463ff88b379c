import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/net/free-port.ts";
import { postgresProcessesFor, runCli, expectReadySoon, type CliProcess } from "../support/cli-process.ts";

/**
 * `npm start` as a user runs it: no database URL, so an embedded PostgreSQL
 * under the data directory; then the five HTTP paths; then a clean SIGTERM
 * that leaves no server process behind. A second start reuses the data.
 */
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-start-"));
  await chmod(dataDir, 0o755);
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface Started {
  cli: CliProcess;
  port: number;
}

async function startApi(): Promise<Started> {
  const port = await freePort();
  const cli = runCli("start", [], {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    LOG_LEVEL: "warn",
  });
  await cli.waitFor("/graphql");
  return { cli, port };
}

function stop(started: Started): Promise<number | null> {
  started.cli.child.kill("SIGTERM");
  return started.cli.exited;
}

describe("npm start with no configuration", () => {
  it("serves all paths on an embedded PostgreSQL and shuts down cleanly", { timeout: 120_000 }, async () => {
    const started = await startApi();
    const base = `http://127.0.0.1:${started.port}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      await expectReadySoon(base);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      expect((await fetch(`${base}/graphiql`, { headers: { accept: "text/html" } })).status).toBe(200);
      const graphql = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      expect(await graphql.json()).toEqual({ data: { __typename: "Query" } });
    } finally {
      expect(await stop(started)).toBe(0);
    }
    expect(postgresProcessesFor(dataDir)).toEqual([]);

    const again = await startApi();
    try {
      await expectReadySoon(`http://127.0.0.1:${again.port}`);
    } finally {
      expect(await stop(again)).toBe(0);
    }
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });
});
