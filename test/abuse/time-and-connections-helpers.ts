import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";
import type { AppConfig } from "../../src/config/app-config.ts";
import type { ApiServer } from "../../src/http/api-server.ts";
import { freePort } from "../../src/net/free-port.ts";
import { runtimeSettings, outputOnceReady } from "../support/cli-process.ts";
import { startTestApi, TEST_JWT } from "../support/test-api.ts";
import type { TestDatabase } from "../support/test-database.ts";
import { sampleMemory } from "../support/memory.ts";

/**
 * Building blocks for the abuse suite: a production-mode API listening on
 * 127.0.0.1, a slow SQL function only the test database has, raw sockets
 * from chosen loopback addresses, and simple measurements.
 */
export const MiB = 1024 * 1024;

/** A production-mode API (no GraphiQL, production error handling) on a real port. */
export async function startProductionApi(
  database: TestDatabase,
  overrides: Partial<AppConfig> = {},
): Promise<{ api: ApiServer; port: number; url: string }> {
  const { api } = await startTestApi(database, { production: true, graphiql: false, ...overrides });
  const { port } = await api.listen();
  return { api, port, url: `http://127.0.0.1:${port}` };
}

/**
 * `slowReport(seconds)`: a query that takes as long as asked, standing for
 * any expensive query (a search over many rows). Created by the owner in
 * this test database only, before the API reads the schema.
 */
export async function createSlowReport(database: TestDatabase): Promise<void> {
  await database.owner.query(`
    create or replace function app_public.slow_report(seconds double precision) returns integer
      language sql stable as $$ select 1 from pg_sleep(seconds) $$;
    grant execute on function app_public.slow_report(double precision)
      to ticketing_anonymous, ticketing_customer, ticketing_agent, ticketing_admin;
  `);
}

export interface GraphQLAnswer {
  status: number;
  retryAfter: string | null;
  codes: string[];
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  text: string;
  milliseconds: number;
}

/** POSTs a GraphQL document with fetch; never throws for an HTTP status. */
export async function postGraphQL(
  url: string,
  query: string,
  options: { authorization?: string; signal?: AbortSignal; variables?: Record<string, unknown> } = {},
): Promise<GraphQLAnswer> {
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(options.authorization ? { Authorization: options.authorization } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  const body = JSON.parse(text) as GraphQLAnswer["body"];
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    codes: (body.errors ?? []).map((error) => error.extensions?.code ?? "none"),
    body,
    text,
    milliseconds: performance.now() - started,
  };
}

/** GETs a path and says how long the answer took. */
export async function timedGet(url: string, path: string): Promise<{ status: number; milliseconds: number }> {
  const started = performance.now();
  const response = await fetch(`${url}${path}`);
  await response.arrayBuffer();
  return { status: response.status, milliseconds: performance.now() - started };
}

/** A GET over a fresh connection from a chosen loopback address (Linux routes all of 127/8 locally). */
export function getFrom(localAddress: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, localAddress, agent: false }, (response) => {
      response.resume();
      response.once("end", () => resolve(response.statusCode ?? 0));
    });
    request.once("error", reject);
    request.setTimeout(10_000, () => request.destroy(new Error("timed out")));
  });
}

/** An open TCP connection that records when the server closed it. */
export interface RawConnection {
  socket: net.Socket;
  /** Milliseconds from open to close, once closed. */
  closedAfter: number | undefined;
  closed: Promise<void>;
}

export function openRaw(port: number, localAddress = "127.0.0.1"): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    const opened = performance.now();
    let onClose: () => void = () => undefined;
    const connection: RawConnection = {
      socket,
      closedAfter: undefined,
      closed: new Promise<void>((done) => (onClose = done)),
    };
    socket.on("error", () => undefined);
    // Flowing, so the server's last words (a 408) are read and the close is seen.
    socket.resume();
    socket.once("close", () => {
      connection.closedAfter = performance.now() - opened;
      onClose();
    });
    socket.once("connect", () => resolve(connection));
    socket.once("error", reject);
  });
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** Resident memory of this process (the API under test) after a last-resort garbage collection. */
export function rss(): number {
  return sampleMemory().rss;
}

/** `npm start` as a child process, optionally under a shell prefix such as `ulimit -n 160 &&`. */
export interface ApiProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Sends SIGTERM; resolves with the exit code and how long the exit took. */
  terminate(): Promise<{ code: number | null; milliseconds: number }>;
}

export async function startApiProcess(environment: Record<string, string>, shellPrefix = ""): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn("sh", ["-c", `${shellPrefix} exec "$NODE" src/cli/start.ts`], {
    env: {
      PATH: process.env.PATH,
      NODE: process.execPath,
      ...runtimeSettings(),
      NODE_ENV: "production",
      JWT_SECRET: TEST_JWT.secret,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      ...environment,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = await outputOnceReady(child, "/graphql");
  return {
    child,
    port,
    output,
    async terminate() {
      if (child.exitCode !== null) return { code: child.exitCode, milliseconds: 0 };
      const started = performance.now();
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      const code = await exited;
      return { code, milliseconds: performance.now() - started };
    },
  };
}
