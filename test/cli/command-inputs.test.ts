import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR, runCli } from "../support/cli-process.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * Each command run as a production job would be: NODE_ENV=production and
 * only the inputs that command documents, nothing else in the environment.
 */
const database = useTestDatabase();
const SECRET = "0123456789abcdef0123456789abcdef";

async function run(command: string, args: string[], env: Record<string, string>, stdin = "") {
  const cli = runCli(command, args, { NODE_ENV: "production", LOG_LEVEL: "info", ...env }, stdin);
  return { code: await cli.exited, stdout: cli.stdout(), stderr: cli.stderr() };
}

describe("each command needs only its own inputs, in production too", () => {
  it("db:migrate and db:maintain run with the owner URL alone", { timeout: 60_000 }, async () => {
    for (const command of ["db-migrate", "db-maintain"]) {
      const result = await run(command, [], { DATABASE_OWNER_URL: database.current.urls.owner });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/"msg":"(migrations up to date|maintenance done)"/);
    }
  });

  it("user:create runs with the owner URL alone", { timeout: 60_000 }, async () => {
    const result = await run(
      "user-create",
      ["--email", "ops-admin@example.com", "--role", "admin", "--password-stdin"],
      { DATABASE_OWNER_URL: database.current.urls.owner },
      "a-strong-admin-passphrase\n",
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Created admin ops-admin@example.com/);
  });

  it("db:setup runs with the root URL and the two role URLs alone", { timeout: 60_000 }, async () => {
    const { root, owner, authenticator } = database.current.urls;
    const result = await run("db-setup", [], {
      ROOT_DATABASE_URL: root,
      DATABASE_OWNER_URL: owner,
      DATABASE_URL: authenticator,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("migrations applied");
  });

  it.each([
    [
      "db-migrate",
      { DATABASE_URL: "postgres://a@b/c", JWT_SECRET: SECRET },
      "DATABASE_OWNER_URL is required in production",
    ],
    [
      "db-maintain",
      { DATABASE_URL: "postgres://a@b/c", JWT_SECRET: SECRET },
      "DATABASE_OWNER_URL is required in production",
    ],
    [
      "db-setup",
      { ROOT_DATABASE_URL: "postgres://a@b/c", DATABASE_OWNER_URL: "postgres://a@b/c" },
      "DATABASE_URL is required by db:setup",
    ],
    ["db-dev", { ROOT_DATABASE_URL: "postgres://a@b/c" }, "DATABASE_OWNER_URL is required in production"],
    ["start", { JWT_SECRET: SECRET }, "DATABASE_URL is required in production"],
    ["start", { DATABASE_URL: "postgres://a@b/c" }, "JWT_SECRET is required in production"],
    ["analyst-create", { DATABASE_OWNER_URL: "postgres://a@b/c" }, "ROOT_DATABASE_URL is required in production"],
    ["worker", { DATABASE_URL: "postgres://a@b/c" }, "DATABASE_OWNER_URL is required in production"],
    [
      "worker",
      { DATABASE_OWNER_URL: "postgres://a@127.0.0.1:9/c" },
      "SMTP_URL is required in production (or MAIL_DISABLED=true)",
    ],
    [
      "start",
      {
        DATABASE_URL: "postgres://a@127.0.0.1:9/c",
        DATABASE_OWNER_URL: "postgres://a@127.0.0.1:9/c",
        JWT_SECRET: SECRET,
      },
      "SMTP_URL is required in production (or MAIL_DISABLED=true)",
    ],
    [
      "start",
      { DATABASE_URL: "postgres://a@b/c", JWT_SECRET: SECRET, WORKER_IN_PROCESS: "true" },
      "DATABASE_OWNER_URL is required when WORKER_IN_PROCESS is true",
    ],
  ])("%s refuses to run without its own input, naming it: %o", async (command, env, message) => {
    const args = command === "db-dev" ? ["status"] : command === "analyst-create" ? ["--name", "dana"] : [];
    const result = await run(command, args, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`Invalid configuration: ${message}\n`);
  });
});

describe("a refusal is cheap", () => {
  /** What only a configured server needs: the API, the job worker and the drivers. */
  const SERVER_PACKAGES = [
    "postgraphile",
    "graphile-worker",
    "express",
    "pg",
    "@aws-sdk/client-s3",
    "nodemailer",
    "mailparser",
  ];
  const PRODUCTION = { DATABASE_URL: "postgres://a@127.0.0.1:9/c", DATABASE_OWNER_URL: "postgres://a@127.0.0.1:9/c" };

  // The last check each command makes before it starts anything: SMTP for the worker it would run.
  it.each([
    ["start", { ...PRODUCTION, JWT_SECRET: SECRET }],
    ["worker", PRODUCTION],
  ])("%s checks its whole configuration before it loads the server's packages", async (command, env) => {
    const directory = await mkdtemp(path.join(os.tmpdir(), "imports-"));
    try {
      const record = path.join(directory, "specifiers");
      const result = await run(command, [], {
        ...env,
        NODE_OPTIONS: `--import ${path.join(PROJECT_DIR, "test", "support", "import-recorder.ts")}`,
        IMPORT_RECORD_FILE: record,
      });
      expect(result.stderr).toBe("Invalid configuration: SMTP_URL is required in production (or MAIL_DISABLED=true)\n");
      const loaded = (await readFile(record, "utf8")).split("\n");
      expect(loaded).toContain("zod");
      expect(SERVER_PACKAGES.filter((name) => loaded.includes(name))).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
