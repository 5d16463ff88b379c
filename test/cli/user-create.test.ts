import { describe, expect, it } from "vitest";
import { verifyPassword } from "../../src/auth/passwords.ts";
import { runCli } from "../support/cli-process.ts";
import { useTestDatabase } from "../support/test-database.ts";

const database = useTestDatabase();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(args: string[], stdin: string, env: Record<string, string> = {}): Promise<Run> {
  const cli = runCli(
    "user-create",
    args,
    { NODE_ENV: "test", LOG_LEVEL: "silent", DATABASE_OWNER_URL: database.current.urls.owner, ...env },
    stdin,
  );
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

describe("npm run user:create", () => {
  it("creates an admin with the password from standard input", async () => {
    const result = await run(
      ["--email", "first-admin@example.com", "--role", "admin", "--name", "First Admin", "--password-stdin"],
      "a-strong-admin-passphrase\n",
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Created admin first-admin@example.com \(id [0-9a-f-]{36}\)\n$/);
    const { rows } = await database.current.owner.query(
      `select u.display_name, u.role, u.is_active, a.password_hash
       from app_public.users as u join app_private.user_accounts as a on a.user_id = u.id
       where a.email = 'first-admin@example.com'`,
    );
    expect(rows[0]).toMatchObject({ display_name: "First Admin", role: "admin", is_active: true });
    // The trailing newline of `echo` is not part of the password.
    expect(await verifyPassword(rows[0].password_hash, "a-strong-admin-passphrase")).toBe(true);
  });

  it.each([
    [["--email", "x@example.com", "--role", "admin"], "a-strong-admin-passphrase", /--password-stdin is required/],
    [["--role", "admin", "--password-stdin"], "a-strong-admin-passphrase", /--email is required/],
    [
      ["--email", "x@example.com", "--role", "root", "--password-stdin"],
      "a-strong-admin-passphrase",
      /--role must be one of customer, agent, admin/,
    ],
    [
      ["--email", "not-an-email", "--role", "agent", "--password-stdin"],
      "a-strong-admin-passphrase",
      /The email address is not valid/,
    ],
    [["--email", "x@example.com", "--role", "agent", "--password-stdin"], "password123456", /Password is too common/],
    [["--email", "x@example.com", "--role", "agent", "--password-stdin"], "", /at least 12 characters/],
    [
      ["--email", "x@example.com", "--role", "agent", "--password", "secret", "--password-stdin"],
      "",
      /Unknown option '--password'/,
    ],
    [
      ["--email", "first-admin@example.com", "--role", "agent", "--password-stdin"],
      "a-strong-admin-passphrase",
      /first-admin@example.com is already registered/,
    ],
  ])("refuses %j with one clear line", async (args, stdin, message) => {
    const result = await run(args, stdin);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("requires DATABASE_OWNER_URL in production", async () => {
    const result = await run(
      ["--email", "y@example.com", "--role", "agent", "--password-stdin"],
      "a-strong-admin-passphrase",
      {
        NODE_ENV: "production",
        DATABASE_OWNER_URL: "",
        DATABASE_URL: "postgres://u@localhost/db",
        JWT_SECRET: "x".repeat(32),
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("Invalid configuration: DATABASE_OWNER_URL is required in production\n");
  });
});
