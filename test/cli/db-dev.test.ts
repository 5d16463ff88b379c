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

async function run(args: string[]) {
  const env = { DATA_DIR: path.join(project, ".data"), EMBEDDED_POSTGRES_PORT: String(await freePort()), LOG_LEVEL: "info" };
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
    const added = (await readdir(path.join(project, "migrations", "committed"))).filter((file) => !committedBefore.includes(file));
    expect(added).toHaveLength(1);
    expect(await readFile(path.join(project, "migrations", "committed", added[0]!), "utf8")).toContain("local_loop_answer");
    expect(postgresProcessesFor(project)).toEqual([]);

    const status = await run(["status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ remainingMigrations: [] });
    expectQuiet(status.stderr);
    expect(postgresProcessesFor(project)).toEqual([]);
  });
});
