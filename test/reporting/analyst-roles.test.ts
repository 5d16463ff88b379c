import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  ANALYST_LIMITS,
  AnalystNameError,
  analystRoleName,
  createAnalystLogin,
  dropAnalystLogin,
} from "../../src/database/analyst-roles.ts";
import { runCliSync } from "../support/cli-process.ts";
import { sqlState, useTestDatabase } from "../support/test-database.ts";
import { createLogin, dropLogin, uniqueAnalystName } from "./analyst-session.ts";

/** Creating and dropping analyst logins: the module, and the two npm commands. */
const database = useTestDatabase();

async function connect(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  return client;
}

/** `npm run analyst:create` or `analyst:drop` against this file's database. */
function runCommand(command: "analyst-create" | "analyst-drop", args: string[]) {
  return runCliSync(command, args, {
    ROOT_DATABASE_URL: database.current.urls.root,
    DATABASE_OWNER_URL: database.current.urls.owner,
    LOG_LEVEL: "warn",
  });
}

describe("analyst role names", () => {
  it("are analyst_<name> for short lower-case identifiers only", () => {
    expect(analystRoleName("jane_doe")).toBe("analyst_jane_doe");
    for (const bad of [
      "",
      "ab",
      "Jane",
      "1jane",
      "jane-doe",
      "jane doe",
      'x"; drop role postgres; --',
      "a".repeat(42),
    ]) {
      expect(() => analystRoleName(bad), bad).toThrow(AnalystNameError);
    }
  });
});

describe("createAnalystLogin / dropAnalystLogin", () => {
  it("refuses a name that already exists, and keeps the existing login working", async () => {
    const name = uniqueAnalystName();
    const login = await createLogin(database.current, name);
    try {
      await expect(createLogin(database.current, name)).rejects.toThrow(/already exists/);
      const client = await connect(login.connectionString);
      await client.end();
    } finally {
      await dropLogin(database.current, login.role);
    }
  });

  it("enforces the connection limit", async () => {
    const login = await createLogin(database.current);
    const clients: pg.Client[] = [];
    try {
      for (let i = 0; i < ANALYST_LIMITS.connectionLimit; i++) clients.push(await connect(login.connectionString));
      expect(await sqlState(() => connect(login.connectionString))).toBe("53300");
    } finally {
      await Promise.all(clients.map((client) => client.end()));
      await dropLogin(database.current, login.role);
    }
  });

  it("drops the login, ends its sessions, and says so only once", async () => {
    const login = await createLogin(database.current);
    const session = await connect(login.connectionString);
    session.on("error", () => undefined);
    expect(await dropLogin(database.current, login.role)).toBe(true);
    expect(await sqlState(() => session.query("select 1"))).not.toBe("ok");
    expect(["28P01", "28000"]).toContain(await sqlState(() => connect(login.connectionString)));
    const { rowCount } = await database.current.root.query("select 1 from pg_roles where rolname = $1", [login.role]);
    expect(rowCount).toBe(0);
    expect(await dropLogin(database.current, login.role)).toBe(false);
  });

  it("never drops a role that is not an analyst login", async () => {
    const name = uniqueAnalystName();
    const impostor = `analyst_${name}`;
    await database.current.root.query(`create role ${impostor} login`);
    const root = await database.current.root.connect();
    try {
      await expect(dropAnalystLogin(root, { name })).rejects.toThrow(/not an analyst login/);
    } finally {
      root.release();
      await database.current.root.query(`drop role ${impostor}`);
    }
  });

  it("refuses a database URL that is not the root connection's database, creating nothing", async () => {
    const name = uniqueAnalystName();
    const root = await database.current.root.connect();
    try {
      const missing = new URL(database.current.urls.owner);
      missing.pathname = "/no_such_database";
      await expect(createAnalystLogin(root, { name, databaseUrl: missing.toString() })).rejects.toThrow(
        /not no_such_database/,
      );
    } finally {
      root.release();
    }
    const { rowCount } = await database.current.root.query("select 1 from pg_roles where rolname = $1", [
      analystRoleName(name),
    ]);
    expect(rowCount).toBe(0);
  });
});

describe("npm run analyst:create / analyst:drop", () => {
  it("creates a login, prints a working connection string, then drops it", async () => {
    const name = uniqueAnalystName();
    const created = runCommand("analyst-create", ["--name", name]);
    expect(created.stderr).toContain(`Created analyst_${name}`);
    expect(created.status).toBe(0);
    const connectionString = created.stdout.trim();
    expect(connectionString).toMatch(new RegExp(`^postgres://analyst_${name}:[A-Za-z0-9_-]{43}@`));
    const client = await connect(connectionString);
    const { rows } = await client.query("select count(*)::integer as rows from backlog");
    expect(rows[0].rows).toBe(12);
    await client.end();

    const dropped = runCommand("analyst-drop", ["--name", name]);
    expect(dropped.stderr).toContain(`Dropped analyst_${name}`);
    expect(dropped.status).toBe(0);
    const again = runCommand("analyst-drop", ["--name", name]);
    expect(again.status).toBe(1);
    expect(again.stderr).toBe(`Error: No analyst login analyst_${name}\n`);
  });

  it("points the connection string at another host with --host/--port", () => {
    const name = uniqueAnalystName();
    const created = runCommand("analyst-create", ["--name", name, "--host", "replica.internal", "--port", "5433"]);
    expect(created.status).toBe(0);
    const url = new URL(created.stdout.trim());
    expect([url.hostname, url.port, url.pathname]).toEqual(["replica.internal", "5433", `/${database.current.name}`]);
    expect(runCommand("analyst-drop", ["--name", name]).status).toBe(0);
  });

  it("refuses bad input with one line", () => {
    const cases: ["analyst-create" | "analyst-drop", string[], RegExp][] = [
      ["analyst-create", [], /^Usage: npm run analyst:create -- --name NAME/],
      ["analyst-create", ["--name", "Bad Name"], /^Invalid analyst name "Bad Name"/],
      ["analyst-create", ["--name", "jane", "--port", "x"], /^Invalid --port "x"/],
      ["analyst-create", ["--nmae", "jane"], /^Error: Unknown option '--nmae'/],
      ["analyst-drop", [], /^Usage: npm run analyst:drop -- --name NAME/],
    ];
    for (const [command, args, message] of cases) {
      const result = runCommand(command, args);
      expect(result.status, args.join(" ")).not.toBe(0);
      expect(result.stderr.split("\n").filter(Boolean)).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
  });
});
