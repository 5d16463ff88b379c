import { readFile } from "node:fs/promises";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readPostmaster } from "../../src/database/postmaster.ts";
import { postgresProcessesFor, runCli as startCli, expectReadySoon, type CliProcess } from "../support/cli-process.ts";
import { freePort } from "../../src/net/free-port.ts";

/**
 * The local database as a developer meets it: several commands in several
 * terminals on one data directory, Ctrl-C, and a command killed outright.
 * Real child processes, a real embedded PostgreSQL, signals to process
 * groups as a terminal sends them.
 */
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-local-"));
  // As root the server runs as the `postgres` system user, which must reach the folder.
  await chmod(dataDir, 0o755);
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Every command a case started, so that a failed case leaves none running into the next. */
const started: CliProcess[] = [];

function runCli(...args: Parameters<typeof startCli>): CliProcess {
  const cli = startCli(...args);
  started.push(cli);
  return cli;
}

afterEach(async () => {
  const running = started.splice(0).filter((cli) => cli.child.exitCode === null && cli.child.signalCode === null);
  for (const cli of running) process.kill(-cli.child.pid!, "SIGTERM");
  await Promise.all(running.map((cli) => cli.exited));
});

const databaseDir = () => path.join(dataDir, "postgres");

/** A command's environment on the data directory `directory` (the file's, unless a case makes its own). */
async function environment(extra: Record<string, string> = {}, directory = dataDir): Promise<Record<string, string>> {
  return { DATA_DIR: directory, EMBEDDED_POSTGRES_PORT: String(await freePort()), LOG_LEVEL: "info", ...extra };
}

async function startApi(extra: Record<string, string> = {}): Promise<{ cli: CliProcess; base: string }> {
  const port = await freePort();
  const cli = runCli("start", [], await environment({ PORT: String(port), ...extra }));
  await cli.waitFor("/graphql");
  return { cli, base: `http://127.0.0.1:${port}` };
}

/** Nothing a user would read as a failure: no error-level log line, no cut connection. */
function expectQuiet(output: string): void {
  expect(output).not.toMatch(/"level":(50|60)/);
  expect(output).not.toMatch(/terminating connection|PgPool|Error:/);
}

async function login(base: string, email: string, password: string): Promise<unknown> {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query:
        "mutation ($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { user { role } } }",
      variables: { email, password },
    }),
  });
  return response.json();
}

describe("one local database for every command", () => {
  it("serves npm start, db:dev watch, status and user:create from one server; the last to finish stops it", {
    timeout: 240_000,
  }, async () => {
    // Terminal 1: the migration watcher starts the server.
    const watch = runCli("db-dev", ["watch"], await environment({ LOG_LEVEL: "debug" }));
    await watch.waitFor(/current/);
    const server = readPostmaster(databaseDir());
    expect(server?.status).toBe("ready");

    // Terminal 2: the API uses that server (whatever port it was told), it does not start a second one.
    const api = await startApi();
    expect(api.cli.stdout()).toContain("using the embedded PostgreSQL already running");
    expect(api.cli.stdout()).toContain(`embedded PostgreSQL 18, 127.0.0.1:${server!.port}`);
    expect(readPostmaster(databaseDir())?.pid).toBe(server!.pid);

    // One-shot commands meanwhile: exit 0, machine output alone on stdout.
    const status = runCli("db-dev", ["status"], await environment());
    expect(await status.exited).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({ remainingMigrations: [] });
    expectQuiet(status.stderr());
    for (const command of ["db-migrate", "db-maintain"]) {
      const oneShot = runCli(command, [], await environment());
      expect(await oneShot.exited, oneShot.stderr()).toBe(0);
      expect(oneShot.stdout()).toBe("");
      expectQuiet(oneShot.stderr());
    }
    const create = runCli(
      "user-create",
      ["--email", "second-admin@example.com", "--role", "admin", "--password-stdin"],
      await environment(),
      "a-strong-admin-passphrase\n",
    );
    expect(await create.exited).toBe(0);
    expect(create.stdout()).toMatch(/^Created admin second-admin@example.com/);
    expect((await login(api.base, "second-admin@example.com", "a-strong-admin-passphrase")) as object).toEqual({
      data: { login: { user: { role: "admin" } } },
    });

    // Ctrl-C in terminal 1: watch exits 0 and quietly; the API still has its database.
    watch.interrupt();
    expect(await watch.exited).toBe(0);
    expectQuiet(watch.stderr());
    await expectReadySoon(api.base);
    expect(readPostmaster(databaseDir())?.pid).toBe(server!.pid);

    // Ctrl-C in terminal 2: the last user stops the server; nobody's connection was cut.
    api.cli.interrupt();
    expect(await api.cli.exited).toBe(0);
    expectQuiet(`${api.cli.stdout()}${api.cli.stderr()}`);
    expect(postgresProcessesFor(dataDir)).toEqual([]);
    const log = await readFile(path.join(databaseDir(), "server.log"), "utf8");
    expect(log).toContain("received smart shutdown request");
    expect(log).not.toContain("FATAL");
  });

  it("takes over a server left running by a command that was killed", { timeout: 240_000 }, async () => {
    const first = await startApi();
    first.cli.child.kill("SIGKILL");
    await first.cli.exited;
    const orphan = readPostmaster(databaseDir());
    expect(postgresProcessesFor(dataDir)).not.toEqual([]);

    // Another port asked for: the running server is still the one used.
    const second = await startApi();
    expect(second.cli.stdout()).toContain(`127.0.0.1:${orphan!.port}`);
    await expectReadySoon(second.base);
    expect(readPostmaster(databaseDir())?.pid).toBe(orphan!.pid);

    second.cli.child.kill("SIGTERM");
    expect(await second.cli.exited).toBe(0);
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });
});

describe("a new data directory", () => {
  it("serves npm start and db:dev status started at the same moment in two terminals", {
    timeout: 240_000,
  }, async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), "ticketing-together-"));
    await chmod(fresh, 0o755);
    try {
      const port = await freePort();
      // Both find nothing: no secrets, no cluster, no database, no demo data.
      const api = runCli("start", [], await environment({ PORT: String(port) }, fresh));
      const status = runCli("db-dev", ["status"], await environment({}, fresh));
      expect(await status.exited, `${status.stdout()}${status.stderr()}`).toBe(0);
      expect(JSON.parse(status.stdout())).toMatchObject({ remainingMigrations: [] });
      await api.waitFor("/graphql");
      const secrets = JSON.parse(await readFile(path.join(fresh, "secrets.json"), "utf8")) as { demoPassword: string };
      expect(await login(`http://127.0.0.1:${port}`, "admin@demo.test", secrets.demoPassword)).toEqual({
        data: { login: { user: { role: "admin" } } },
      });
      api.interrupt();
      expect(await api.exited).toBe(0);
      expect(postgresProcessesFor(fresh)).toEqual([]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });
});

describe("safe local defaults", () => {
  it("listens on loopback only and logs demo users in with this data directory's own password", {
    timeout: 120_000,
  }, async () => {
    const api = await startApi();
    try {
      const secrets = JSON.parse(await readFile(path.join(dataDir, "secrets.json"), "utf8")) as {
        demoPassword: string;
      };
      expect(secrets.demoPassword).toMatch(/^demo-[\w-]{16}$/);
      expect(api.cli.stdout()).toContain(`password "${secrets.demoPassword}"`);
      expect(await login(api.base, "admin@demo.test", secrets.demoPassword)).toEqual({
        data: { login: { user: { role: "admin" } } },
      });
      const published = (await login(api.base, "admin@demo.test", "helpdesk-demo-2026")) as { errors?: unknown[] };
      expect(published.errors).toHaveLength(1);

      const port = new URL(api.base).port;
      expect(api.cli.stdout()).toContain(`http://127.0.0.1:${port}/graphql`);
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && address.family === "IPv4" && !address.internal);
      if (external) {
        await expect(fetch(`http://${external.address}:${port}/healthz`)).rejects.toThrow();
      }
    } finally {
      api.cli.interrupt();
      expect(await api.cli.exited).toBe(0);
    }
  });
});
