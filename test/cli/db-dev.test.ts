import { chmod, cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresProcessesFor, PROJECT_DIR, runCli } from "../support/cli-process.ts";
import { freePort } from "../../src/net/free-port.ts";

/**
 * `db:dev -- commit` and `status` as a developer runs them, on a copy of the
 * project (commit writes into migrations/) with its own local database:
 * success exits 0, nothing but the result on standard output, no error from
 * graphile-migrate's connections when the server stops.
 */
let project: string;

beforeAll(async () => {
  project = await mkdtemp(path.join(tmpdir(), "ticketing-db-dev-"));
  // As root the server runs as the `postgres` system user, which must reach the folder.
  await chmod(project, 0o755);
  for (const entry of ["src", "migrations", "package.json", ".squawk.toml"]) {
    await cp(path.join(PROJECT_DIR, entry), path.join(project, entry), { recursive: true });
  }
  await symlink(path.join(PROJECT_DIR, "node_modules"), path.join(project, "node_modules"));
});

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

const FUNCTION_SQL = `
create or replace function app_public.local_loop_answer() returns integer
  language sql stable
  as $$ select 42 $$;
comment on function app_public.local_loop_answer() is 'The answer, to show a committed migration.';
`;

async function run(args: string[], given?: Record<string, string>) {
  const env = given ?? {
    DATA_DIR: path.join(project, ".data"),
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    LOG_LEVEL: "info",
  };
  const cli = runCli("db-dev", args, env, "", project);
  return { code: await cli.exited, stdout: cli.stdout(), stderr: cli.stderr() };
}

function expectQuiet(output: string): void {
  expect(output).not.toMatch(/PgPool|terminating connection|"level":(50|60)/);
}

describe("npm run db:dev", () => {
  it("commits the current migration and reports status, each exiting 0", { timeout: 180_000 }, async () => {
    const committedBefore = await readdir(path.join(project, "migrations", "committed"));
    await writeFile(path.join(project, "migrations", "current", "400-local-loop-answer.sql"), FUNCTION_SQL);

    const commit = await run(["commit", "--message", "local loop answer"]);
    expect(commit.code, commit.stderr).toBe(0);
    expect(commit.stdout).toBe("");
    expectQuiet(commit.stderr);
    const added = (await readdir(path.join(project, "migrations", "committed"))).filter(
      (file) => !committedBefore.includes(file),
    );
    expect(added).toHaveLength(1);
    expect(await readFile(path.join(project, "migrations", "committed", added[0]!), "utf8")).toContain(
      "local_loop_answer",
    );
    expect(postgresProcessesFor(project)).toEqual([]);

    const status = await run(["status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ remainingMigrations: [] });
    expectQuiet(status.stderr);
    expect(postgresProcessesFor(project)).toEqual([]);
  });

  it("runs the whole loop: watch applies a new file and reports an error readably, npm start beside it serves the new field, commit, a fresh database gets it", {
    timeout: 300_000,
  }, async () => {
    const dataDir = path.join(project, ".data-loop");
    const env = { DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(await freePort()), LOG_LEVEL: "info" };
    const file = path.join(project, "migrations", "current", "410-loop-greeting.sql");
    const applied = (times: number) => new RegExp(`(✔ applied migrations/current[\\s\\S]*){${times}}`);

    // Terminal 1: watch.
    const watch = runCli("db-dev", ["watch"], env, "", project);
    await watch.waitFor(applied(1), 120);
    await writeFile(file, GREETING_SQL("Hello from current"));
    await watch.waitFor(applied(2));
    // A mistake: shown as PostgreSQL reported it, with the statement and a caret; nothing applied.
    await writeFile(file, GREETING_SQL("Hello").replace("select", "selec"));
    await watch.waitFor("✖ migrations/current failed");
    expect(watch.stderr()).toMatch(/42601/);
    expect(watch.stderr()).toMatch(/selec/);
    expect(watch.stderr()).toMatch(/\^/);
    await writeFile(file, GREETING_SQL("Hello from current"));
    await watch.waitFor(applied(3));
    // From the first apply on: plain lines, no JSON log records, no stack trace.
    const watchOutput = watch.stderr().slice(watch.stderr().indexOf("applying migrations/current"));
    expect(watchOutput).not.toMatch(/"level":|\\n|^\s+at /m);

    // Terminal 2: npm start on the same local database serves the new field.
    const apiPort = await freePort();
    const start = runCli(
      "start",
      [],
      { ...env, PORT: String(apiPort), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
      "",
      project,
    );
    await start.waitFor("/graphql", 120);
    expect(await greeting(apiPort)).toEqual({ data: { loopGreeting: "Hello from current" } });
    start.interrupt();
    expect(await start.exited).toBe(0);
    watch.interrupt();
    expect(await watch.exited, watch.stderr()).toBe(0);

    // Commit: the file becomes a committed migration; the folder keeps its README and a template.
    const commit = await run(["commit", "--message", "loop greeting"], env);
    expect(commit.code, commit.stderr).toBe(0);
    const current = await readdir(path.join(project, "migrations", "current"));
    expect(current.sort()).toEqual(["100-next.sql", "README.md"]);
    const template = await readFile(path.join(project, "migrations", "current", "100-next.sql"), "utf8");
    expect(template).not.toMatch(/Enter migration here/);
    expect(template).toMatch(/create or replace, drop … if exists/);
    const committed = await readdir(path.join(project, "migrations", "committed"));
    const newest = committed.sort().at(-1)!;
    expect(newest).toMatch(/loop-greeting/);
    expect(await readFile(path.join(project, "migrations", "committed", newest), "utf8")).toContain("loop_greeting");

    // A fresh database (a new data directory) is migrated to it by npm start alone.
    const fresh = { DATA_DIR: path.join(project, ".data-fresh"), EMBEDDED_POSTGRES_PORT: String(await freePort()) };
    const freshPort = await freePort();
    const second = runCli(
      "start",
      [],
      { ...fresh, PORT: String(freshPort), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
      "",
      project,
    );
    await second.waitFor("/graphql", 120);
    expect(await greeting(freshPort)).toEqual({ data: { loopGreeting: "Hello from current" } });
    second.interrupt();
    expect(await second.exited).toBe(0);
    expect(postgresProcessesFor(project)).toEqual([]);
  });
});

function GREETING_SQL(text: string): string {
  return `
create or replace function app_public.loop_greeting() returns text
  language sql stable
  as $$ select '${text}'::text $$;
comment on function app_public.loop_greeting() is 'A greeting, to show the migration loop.';
grant execute on function app_public.loop_greeting() to ticketing_anonymous;
`;
}

async function greeting(port: number): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: "{ loopGreeting }" }),
  });
  return response.json();
}
