import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { rolePasswordStatement, setupCluster, withClient } from "../../src/database/cluster-setup.ts";
import { databaseUrls } from "../../src/database/provision.ts";
import { startEmbeddedPostgres } from "../../src/database/embedded-postgres.ts";
import { TEST_CLUSTER_PASSWORD } from "../support/cluster.ts";
import { freePort } from "../../src/net/free-port.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * db:setup gives the login roles their passwords as SCRAM-SHA-256 verifiers
 * computed in Node: the statements the server receives (and logs with
 * log_statement = ddl) never contain a password.
 */
const database = useTestDatabase();

async function storedVerifier(role: string): Promise<string> {
  const { rows } = await database.current.root.query<{ rolpassword: string }>(
    "select rolpassword from pg_catalog.pg_authid where rolname = $1",
    [role],
  );
  return rows[0]!.rolpassword;
}

async function canLogIn(role: string, password: string): Promise<boolean> {
  const url = new URL(database.current.urls.owner);
  url.username = role;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await client.connect();
    return (await client.query("select current_user as me")).rows[0].me === role;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe("role passwords", () => {
  it("are sent as a verifier: the statement holds no password, the server stores exactly that verifier, and the password logs in", async () => {
    const role = `pw_probe_${randomBytes(4).toString("hex")}`;
    const secret = randomBytes(24).toString("base64url");
    const root = await database.current.root.connect();
    try {
      await root.query(`create role ${root.escapeIdentifier(role)} login`);
      await root.query(
        `grant connect on database ${root.escapeIdentifier(database.current.name)} to ${root.escapeIdentifier(role)}`,
      );
      // A server whose pg_hba.conf trusts local connections (as the CI machine's
      // PostgreSQL 15 does) lets a role with no password at all log in: there a
      // wrong password cannot be refused, so that one check needs password auth.
      const passwordsChecked = !(await canLogIn(role, "no-password-is-set-yet"));
      const statement = rolePasswordStatement(root, role, secret);
      expect(statement).not.toContain(secret);
      const verifier = /'(SCRAM-SHA-256\$4096:[^']+)'/.exec(statement)?.[1];
      expect(verifier).toBeDefined();
      await root.query(statement);
      // A random salt: equal only if the server kept the verifier it was sent.
      expect(await storedVerifier(role)).toBe(verifier);
      expect(await canLogIn(role, secret)).toBe(true);
      if (passwordsChecked) expect(await canLogIn(role, `${secret}x`)).toBe(false);
    } finally {
      await root.query(`drop owned by ${root.escapeIdentifier(role)}`).catch(() => undefined);
      await root.query(`drop role if exists ${root.escapeIdentifier(role)}`);
      root.release();
    }
  });

  it("db:setup sets the owner's and the authenticator's this way, and they log in with the passwords of their URLs", async () => {
    const before = await storedVerifier("ticketing_authenticator");
    await setupCluster(database.current.urls);
    for (const role of ["ticketing_owner", "ticketing_authenticator"]) {
      expect(await storedVerifier(role)).toMatch(
        /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/,
      );
      expect(await canLogIn(role, TEST_CLUSTER_PASSWORD)).toBe(true);
    }
    // Set again with a fresh salt.
    expect(await storedVerifier("ticketing_authenticator")).not.toBe(before);
  });
});

/** The server log once it holds `marker` (the logging collector writes asynchronously). */
async function eventuallyLogged(file: string, marker: string): Promise<string> {
  let text = "";
  await vi.waitFor(
    async () => {
      text = await readFile(file, "utf8");
      if (!text.includes(marker)) throw new Error("not logged yet");
    },
    { timeout: 10_000, interval: 100 },
  );
  return text;
}

describe("with log_statement = ddl", () => {
  it("db:setup leaves no password in the server log", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-ddl-log-"));
    await chmod(dataDir, 0o755);
    const port = await freePort();
    const server = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, "postgres"),
      port,
      password: TEST_CLUSTER_PASSWORD,
      persistent: false,
      extraFlags: ["-c", "log_statement=ddl"],
    });
    try {
      const secrets = {
        owner: randomBytes(18).toString("base64url"),
        authenticator: randomBytes(18).toString("base64url"),
      };
      await setupCluster(databaseUrls(server.rootUrl, "ticketing", secrets));
      // The control: a password given in clear text does reach this log.
      const control = randomBytes(18).toString("base64url");
      await withClient(server.rootUrl, (root) => root.query(`create role ddl_log_control password '${control}'`));
      // The server writes its log to server.log in its data directory (embedded-postgres.ts).
      const logged = await eventuallyLogged(path.join(dataDir, "postgres", "server.log"), control);
      expect(logged).toContain(control);
      expect(logged).toMatch(/alter role "?ticketing_owner"? password 'SCRAM-SHA-256\$4096:/i);
      expect(logged).not.toContain(secrets.owner);
      expect(logged).not.toContain(secrets.authenticator);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
