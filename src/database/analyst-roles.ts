import { randomBytes } from "node:crypto";
import type pg from "pg";
import { databaseName } from "./connection-urls.ts";
import { inTransactionWithSettings } from "./request-transaction.ts";
import { scramVerifier } from "./scram-verifier.ts";

/**
 * Analyst logins: one LOGIN role per person, member of the group role
 * ticketing_analyst (SELECT on the app_reporting views, nothing else).
 *
 * The group's grants are what makes an analyst read-only. The per-login
 * settings below are guard rails on top: PostgreSQL lets any role change its
 * own session defaults, so they stop accidents (a forgotten transaction, a
 * runaway query), not an analyst who means to lift them. The connection limit
 * is a role attribute and cannot be changed by the analyst.
 */
export const ANALYST_GROUP = "ticketing_analyst";

/** Every analyst login is named `analyst_<name>`: recognisable, and never one of the ticketing_* roles. */
export const ANALYST_ROLE_PREFIX = "analyst_";

const ANALYST_NAME = /^[a-z][a-z0-9_]{2,40}$/;

export const ANALYST_LIMITS = {
  connectionLimit: 5,
  statementTimeout: "30s",
  idleInTransactionSessionTimeout: "1min",
  lockTimeout: "5s",
} as const;

/** The per-session limits of a login (defaults: ANALYST_LIMITS). */
export type AnalystSessionLimits = Record<
  "statementTimeout" | "idleInTransactionSessionTimeout" | "lockTimeout",
  string
>;

/**
 * Roles that keep the right to take advisory locks once PUBLIC loses it:
 * the owner (migrations: graphile-migrate holds one while it migrates; the
 * security definer functions of the schema run as the owner) and the API's
 * connection role.
 */
export const ADVISORY_LOCK_HOLDERS = ["ticketing_owner", "ticketing_authenticator"] as const;

/** A duration PostgreSQL accepts for a timeout setting, e.g. 500ms, 5s, 1min. */
const DURATION = /^\d{1,6}(ms|s|min|h)$/;

export interface AnalystLogin {
  role: string;
  password: string;
  /** Ready to paste into psql or a BI tool. */
  connectionString: string;
}

export class AnalystNameError extends Error {
  override name = "AnalystNameError";
}

/** The role name for an analyst's name; refuses anything but a short lower-case identifier. */
export function analystRoleName(name: string): string {
  if (!ANALYST_NAME.test(name)) {
    throw new AnalystNameError(
      `Invalid analyst name "${name}": use 3-41 characters, lower-case letters, digits and _, starting with a letter`,
    );
  }
  return `${ANALYST_ROLE_PREFIX}${name}`;
}

/** 32 bytes of randomness, URL-safe so the connection string needs no escaping. */
export function generatePassword(): string {
  return randomBytes(32).toString("base64url");
}

/** The database URL with the analyst's credentials (host, port, database and options kept). */
function analystConnectionString(databaseUrl: string, role: string, password: string): string {
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

async function roleExists(client: pg.ClientBase, role: string): Promise<boolean> {
  const { rowCount } = await client.query("select 1 from pg_catalog.pg_roles where rolname = $1", [role]);
  return Boolean(rowCount);
}

async function isAnalystLogin(client: pg.ClientBase, role: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select r.rolcanlogin and not r.rolsuper and pg_catalog.pg_has_role(r.oid, $2, 'member') as ok
     from pg_catalog.pg_roles as r
     where r.rolname = $1`,
    [role, ANALYST_GROUP],
  );
  return rows[0]?.ok === true;
}

/**
 * Large objects are the one kind of data a role without any grant can still
 * create (lo_create and friends are executable by PUBLIC), so a read-write
 * analyst session could store data here. The application uses none; the
 * revoke needs a superuser and is skipped with a warning otherwise.
 */
async function revokeLargeObjectCreation(root: pg.ClientBase): Promise<void> {
  await root.query(
    `revoke execute on function
       pg_catalog.lo_creat(integer),
       pg_catalog.lo_create(oid),
       pg_catalog.lo_from_bytea(oid, bytea)
     from public`,
  );
}

/**
 * Advisory locks are the other thing any role may take by default
 * (pg_advisory_lock and friends are executable by PUBLIC). graphile-migrate
 * refuses to migrate while someone holds its lock, so an analyst session
 * holding that lock, or any lock a future job queue relies on, would block
 * deployments. Only the roles that need them keep them. Needs a superuser;
 * skipped with a warning otherwise, like the large-object revoke.
 */
async function revokeAdvisoryLocks(root: pg.ClientBase): Promise<void> {
  await root.query(
    `do $advisory$
     declare
       fn regprocedure;
     begin
       for fn in
         select p.oid::regprocedure
         from pg_catalog.pg_proc as p
         where p.pronamespace = 'pg_catalog'::regnamespace
           and p.proname ~ '^pg_(try_)?advisory_'
       loop
         execute format('revoke execute on function %s from public', fn);
         execute format('grant execute on function %s to ${ADVISORY_LOCK_HOLDERS.join(", ")}', fn);
       end loop;
     end
     $advisory$`,
  );
}

/**
 * Creates an analyst login. `root` is a superuser connection to the
 * analysts' database (CREATEROLE with ADMIN on the group also works);
 * `databaseUrl` is any URL of that database, used for the host, port and
 * options of the printed connection string. `limits` replaces the
 * per-session defaults of ANALYST_LIMITS.
 */
export async function createAnalystLogin(
  root: pg.ClientBase,
  options: { name: string; databaseUrl: string; limits?: Partial<AnalystSessionLimits> },
): Promise<AnalystLogin> {
  const limits: AnalystSessionLimits = {
    statementTimeout: options.limits?.statementTimeout ?? ANALYST_LIMITS.statementTimeout,
    idleInTransactionSessionTimeout:
      options.limits?.idleInTransactionSessionTimeout ?? ANALYST_LIMITS.idleInTransactionSessionTimeout,
    lockTimeout: options.limits?.lockTimeout ?? ANALYST_LIMITS.lockTimeout,
  };
  for (const [setting, value] of Object.entries(limits)) {
    if (!DURATION.test(value)) throw new Error(`Invalid ${setting} "${value}": expected a duration such as 5s or 1min`);
  }
  const role = analystRoleName(options.name);
  const database = databaseName(options.databaseUrl);
  const password = generatePassword();
  const id = root.escapeIdentifier(role);
  const { rows } = await root.query<{ name: string }>("select current_database() as name");
  if (rows[0]?.name !== database) {
    throw new Error(`The root connection is on database ${rows[0]?.name}, not ${database}`);
  }
  await inTransactionWithSettings(root, {}, async () => {
    if (await roleExists(root, role)) throw new Error(`Role ${role} already exists`);
    // INHERIT: the login uses the group's SELECT grants without `set role`.
    await root.query(
      `create role ${id} login inherit connection limit ${ANALYST_LIMITS.connectionLimit}
       password ${root.escapeLiteral(scramVerifier(password))} in role ${ANALYST_GROUP}`,
    );
    await root.query(`alter role ${id} set default_transaction_read_only = on`);
    await root.query(`alter role ${id} set statement_timeout = '${limits.statementTimeout}'`);
    await root.query(
      `alter role ${id} set idle_in_transaction_session_timeout = '${limits.idleInTransactionSessionTimeout}'`,
    );
    await root.query(`alter role ${id} set lock_timeout = '${limits.lockTimeout}'`);
    await root.query(`alter role ${id} set search_path = app_reporting`);
    await root.query(`grant connect on database ${root.escapeIdentifier(database)} to ${id}`);
    await revokeLargeObjectCreation(root);
    await revokeAdvisoryLocks(root);
  });
  return { role, password, connectionString: analystConnectionString(options.databaseUrl, role, password) };
}

/**
 * Removes an analyst login: no new sessions, open ones ended, privileges and
 * anything it owns in this database dropped, then the role. `root` must be
 * connected to the analysts' database (DROP OWNED works per database).
 * Returns false when there was no such login.
 */
export async function dropAnalystLogin(root: pg.ClientBase, options: { name: string }): Promise<boolean> {
  const role = analystRoleName(options.name);
  if (!(await roleExists(root, role))) return false;
  // Only ever drop what analyst:create made, whatever name is passed.
  if (!(await isAnalystLogin(root, role))) throw new Error(`Role ${role} is not an analyst login`);
  const id = root.escapeIdentifier(role);
  await root.query(`alter role ${id} nologin`);
  await root.query(
    "select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity where usename = $1 and pid <> pg_catalog.pg_backend_pid()",
    [role],
  );
  await inTransactionWithSettings(root, {}, async () => {
    await root.query(`drop owned by ${id}`);
    await root.query(`drop role ${id}`);
  });
  return true;
}
