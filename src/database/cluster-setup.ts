import { readFile } from "node:fs/promises";
import pg from "pg";
import type { DatabaseUrls } from "./connection-urls.ts";
import { databaseName, password, userName } from "./connection-urls.ts";
import { DATABASE_OWNER_ROLE } from "./migrations.ts";
import { scramVerifier } from "./scram-verifier.ts";

/**
 * Cluster-level set-up, run with a superuser (or CREATEROLE + CREATEDB)
 * connection before migrations: roles, their passwords (sent as SCRAM
 * verifiers), the database.
 * Every step is idempotent so `db:setup` can be run again safely.
 */
export const AUTHENTICATOR_ROLE = "ticketing_authenticator";

const ROLES_SQL = new URL("./roles.sql", import.meta.url);

export async function withClient<T>(connectionString: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createRoles(root: pg.Client): Promise<void> {
  await root.query(await readFile(ROLES_SQL, "utf8"));
}

/**
 * The statement that gives `role` the password `secret`. It carries the
 * password's SCRAM-SHA-256 verifier, never the password, so DDL logging,
 * pg_stat_activity and replicas never see it.
 */
export function rolePasswordStatement(root: pg.ClientBase, role: string, secret: string): string {
  return `alter role ${root.escapeIdentifier(role)} password ${root.escapeLiteral(scramVerifier(secret))}`;
}

/** Login roles take the password found in their URL, if any. */
async function setRolePassword(root: pg.Client, role: string, url: string): Promise<void> {
  const secret = password(url);
  if (secret === undefined) return;
  await root.query(rolePasswordStatement(root, role, secret));
}

function assertRole(url: string, expected: string, variable: string): void {
  if (userName(url) !== expected) {
    throw new Error(`${variable} must connect as ${expected}`);
  }
}

export async function createDatabase(root: pg.Client, name: string): Promise<void> {
  const { rowCount } = await root.query("select 1 from pg_catalog.pg_database where datname = $1", [name]);
  if (!rowCount) {
    await root.query(`create database ${root.escapeIdentifier(name)} owner ${DATABASE_OWNER_ROLE} encoding 'UTF8'`);
  }
  const database = root.escapeIdentifier(name);
  await root.query(`revoke all on database ${database} from public`);
  await root.query(`grant connect on database ${database} to ${AUTHENTICATOR_ROLE}, ticketing_analyst`);
}

/**
 * Roles, passwords and the database named in the owner URL. Commands
 * started together on one server (`npm start` and `db:dev` on a new local
 * database) both run this: the roles' grants and the database's creation
 * fail when two sessions do them at once ("tuple concurrently updated",
 * "already exists"), so each holds a session advisory lock of the server's
 * maintenance database while it sets up, and the next one finds it done.
 */
export async function setupCluster(urls: DatabaseUrls): Promise<void> {
  assertRole(urls.owner, DATABASE_OWNER_ROLE, "DATABASE_OWNER_URL");
  assertRole(urls.authenticator, AUTHENTICATOR_ROLE, "DATABASE_URL");
  if (databaseName(urls.owner) !== databaseName(urls.authenticator)) {
    throw new Error("DATABASE_URL and DATABASE_OWNER_URL must name the same database");
  }
  await withClient(urls.root, async (root) => {
    await root.query("select pg_advisory_lock(hashtext('ticketing: cluster setup'))");
    await createRoles(root);
    await setRolePassword(root, DATABASE_OWNER_ROLE, urls.owner);
    await setRolePassword(root, AUTHENTICATOR_ROLE, urls.authenticator);
    await createDatabase(root, databaseName(urls.owner));
  });
}
