import pg from "pg";
import { describe, expect, it } from "vitest";
import { ANALYST_GROUP, ANALYST_LIMITS } from "../../src/database/analyst-roles.ts";
import { sqlState, useTestDatabase } from "../support/test-database.ts";
import { useAnalystSession } from "./analyst-session.ts";

/**
 * What an analyst login cannot do, tried for real over its own connection.
 * The read-only default refuses writes with 25006; an analyst can switch it
 * off (`begin read write`), so every write is tried again that way and must
 * still fail on privileges (42501): the grants alone make the role read-only.
 */
const database = useTestDatabase();
const analyst = useAnalystSession(database);

const READ_ONLY = "25006";
const DENIED = "42501";
/** In the default mode either guard may answer first (the order differs between statements and versions). */
const REFUSED = [READ_ONLY, DENIED];

/** The SQLSTATE of `sql` run by the analyst, in the session's default (read-only) transaction mode. */
function asAnalyst(sql: string): Promise<string> {
  return sqlState(() => analyst.current.client.query(sql));
}

/** The same inside a transaction block; always rolled back. */
async function asAnalystInTransaction(sql: string, begin = "begin"): Promise<string> {
  const client = analyst.current.client;
  await client.query(begin);
  try {
    return await sqlState(() => client.query(sql));
  } finally {
    await client.query("rollback");
  }
}

/** In a transaction the analyst explicitly made read-write. */
function asAnalystReadWrite(sql: string): Promise<string> {
  return asAnalystInTransaction(sql, "begin read write");
}

const WRITES_ON_VIEWS = [
  "insert into app_reporting.tickets (id) values (gen_random_uuid())",
  "update app_reporting.tickets set agent_id = null",
  "delete from app_reporting.tickets",
];

const WRITES_ON_TABLES = [
  "insert into app_public.users (display_name) values ('x')",
  "update app_public.tickets set status = 'closed'",
  "delete from app_public.ticket_comments",
  "truncate app_public.tickets",
  "update app_private.user_accounts set password_hash = null",
  "delete from app_private.refresh_tokens",
  "insert into app_private.audit_log (table_name, operation, new_data) values ('x', 'INSERT', '{}')",
];

const DDL = [
  "create table app_reporting.scratch (id integer)",
  "create table public.scratch (id integer)",
  "create temporary table scratch (id integer)",
  "create schema scratch",
  "create view app_reporting.scratch as select 1 as one",
  "create function public.scratch() returns integer language sql as 'select 1'",
  "alter view app_reporting.tickets rename to scratch",
  "drop view app_reporting.daily_flow",
  "comment on view app_reporting.tickets is 'x'",
];

const WRITING_FUNCTIONS = [
  "select app_public.transition_ticket(gen_random_uuid(), 'closed')",
  "select app_public.assign_ticket(gen_random_uuid(), null)",
  "select app_public.take_next_ticket()",
  "select app_public.add_comment(gen_random_uuid(), 'x')",
  "select app_public.deactivate_user(gen_random_uuid())",
  "select app_private.create_status_history_partitions(1)",
  "select app_private.revoke_user_sessions(gen_random_uuid(), 'logout')",
  "select app_private.start_session(gen_random_uuid(), '\\x00')",
  "select app_private.create_user_account('x@example.com', 'x', null, 'customer')",
  "select lo_create(0)",
  "select lo_from_bytea(0, '\\x00')",
];

describe("analyst login", () => {
  it("is a LOGIN role in the analyst group with the documented limits", async () => {
    const { login } = analyst.current;
    expect(login.role).toMatch(/^analyst_t_[0-9a-f]{10}$/);
    const url = new URL(login.connectionString);
    expect(url.protocol).toBe("postgres:");
    expect(url.username).toBe(login.role);
    expect(url.pathname).toBe(`/${database.current.name}`);
    const { rows } = await database.current.root.query(
      `select r.rolcanlogin, r.rolinherit, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication,
              r.rolbypassrls, r.rolconnlimit,
              array(select g.rolname::text from pg_auth_members as m join pg_roles as g on g.oid = m.roleid
                    where m.member = r.oid) as member_of,
              (select s.setconfig from pg_db_role_setting as s where s.setrole = r.oid and s.setdatabase = 0) as settings
       from pg_roles as r
       where r.rolname = $1`,
      [login.role],
    );
    expect(rows[0]).toEqual({
      rolcanlogin: true,
      rolinherit: true,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolreplication: false,
      rolbypassrls: false,
      rolconnlimit: ANALYST_LIMITS.connectionLimit,
      member_of: [ANALYST_GROUP],
      settings: [
        "default_transaction_read_only=on",
        `statement_timeout=${ANALYST_LIMITS.statementTimeout}`,
        `idle_in_transaction_session_timeout=${ANALYST_LIMITS.idleInTransactionSessionTimeout}`,
        `lock_timeout=${ANALYST_LIMITS.lockTimeout}`,
        "search_path=app_reporting",
      ],
    });
  });

  it("starts read-only, with the timeouts, reading app_reporting unqualified", async () => {
    const { rows } = await analyst.current.client.query(
      `select current_setting('transaction_read_only') as read_only,
              current_setting('statement_timeout') as statement_timeout,
              current_setting('idle_in_transaction_session_timeout') as idle_timeout,
              current_setting('lock_timeout') as lock_timeout,
              (select count(*)::integer from backlog) as backlog_rows`,
    );
    expect(rows[0]).toEqual({
      read_only: "on",
      statement_timeout: "30s",
      idle_timeout: "1min",
      lock_timeout: "5s",
      backlog_rows: 12,
    });
  });

  it("stores the password only as a SCRAM verifier, and the printed connection string works", async () => {
    const { rows } = await database.current.root.query("select rolpassword from pg_authid where rolname = $1", [
      analyst.current.login.role,
    ]);
    expect(rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    const client = new pg.Client({ connectionString: analyst.current.login.connectionString });
    await client.connect();
    expect((await client.query("select current_user as me")).rows[0].me).toBe(analyst.current.login.role);
    await client.end();
  });
});

describe("an analyst cannot", () => {
  it("read app_public or app_private tables, views or partitions", async () => {
    for (const relation of [
      "app_public.tickets",
      "app_public.users",
      "app_public.ticket_comments",
      "app_public.ticket_status_history",
      "app_public.ticket_assignment_history",
      "app_public.sla_policies",
      "app_public.audit_log_entries",
      "app_private.user_accounts",
      "app_private.refresh_tokens",
      "app_private.login_attempts",
      "app_private.audit_log",
      "app_private.ticket_status_history_default",
      "graphile_migrate.migrations",
    ]) {
      expect(await asAnalyst(`select * from ${relation} limit 1`), relation).toBe(DENIED);
    }
  });

  it("write through the views: refused read-only, and on privileges when read-write", async () => {
    for (const sql of WRITES_ON_VIEWS) {
      expect(REFUSED, sql).toContain(await asAnalyst(sql));
      expect(await asAnalystReadWrite(sql), sql).toBe(DENIED);
    }
    // A strong lock on a view would lock the tables behind it and stall the API.
    const lock = "lock table app_reporting.tickets in exclusive mode";
    expect(REFUSED).toContain(await asAnalystInTransaction(lock));
    expect(await asAnalystReadWrite(lock)).toBe(DENIED);
  });

  it("write the base tables: refused in either mode", async () => {
    for (const sql of WRITES_ON_TABLES) {
      expect(REFUSED, sql).toContain(await asAnalyst(sql));
      expect(await asAnalystReadWrite(sql), sql).toBe(DENIED);
    }
  });

  it("run DDL: refused read-only, and on privileges when read-write", async () => {
    for (const sql of DDL) {
      expect(REFUSED, sql).toContain(await asAnalyst(sql));
      expect(await asAnalystReadWrite(sql), sql).toBe(DENIED);
    }
  });

  it("call functions that write, or any app_public/app_private function", async () => {
    for (const sql of WRITING_FUNCTIONS) {
      expect(await asAnalystReadWrite(sql), sql).toBe(DENIED);
    }
    expect(await asAnalyst("select app_public.current_user_id()")).toBe(DENIED);
    expect(await asAnalyst("select * from app_public.search_tickets('x')")).toBe(DENIED);
  });

  it("become another role", async () => {
    for (const role of [
      "ticketing_owner",
      "ticketing_authenticator",
      "ticketing_admin",
      "ticketing_agent",
      "ticketing_customer",
      "ticketing_anonymous",
      "postgres",
    ]) {
      expect(await asAnalyst(`set role ${role}`), role).toBe(DENIED);
      expect(await asAnalyst(`set session authorization ${role}`), role).toBe(DENIED);
      expect(await asAnalystReadWrite(`grant ${role} to current_user`), role).toBe(DENIED);
    }
  });

  it("lift its own role limits", async () => {
    for (const sql of [
      "alter role current_user connection limit 100",
      "alter role current_user createrole",
      "alter role current_user bypassrls",
      `alter role ${ANALYST_GROUP} login`,
      "copy (select 1) to '/tmp/analyst-copy'",
    ]) {
      expect(await asAnalystReadWrite(sql), sql).toBe(DENIED);
    }
    expect((await analyst.current.client.query("select current_user as me")).rows[0].me).toBe(
      analyst.current.login.role,
    );
  });
});

describe("analyst privileges in the catalog", () => {
  it("are SELECT on the app_reporting views and nothing else", async () => {
    const { rows } = await database.current.owner.query(
      `select n.nspname || '.' || c.relname as relation, p.privilege
       from pg_class as c
       join pg_namespace as n on n.oid = c.relnamespace
       cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as p (privilege)
       where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
         and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
         and has_table_privilege($1, c.oid, p.privilege)
       order by 1, 2`,
      [ANALYST_GROUP],
    );
    expect(rows).toEqual(
      [
        "agent_workload",
        "attachments",
        "backlog",
        "daily_flow",
        "first_response_times",
        "organizations",
        "resolution_times",
        "sla_compliance",
        "sla_event_compliance",
        "ticket_events",
        "ticket_status_history",
        "tickets",
      ].map((view) => ({ relation: `app_reporting.${view}`, privilege: "SELECT" })),
    );
  });

  it("give no EXECUTE on application functions but the pure SLA rule, nor on any volatile function outside pg_catalog", async () => {
    const { rows } = await database.current.owner.query(
      `select p.oid::regprocedure::text as function, p.provolatile as volatility
       from pg_proc as p
       join pg_namespace as n on n.oid = p.pronamespace
       where n.nspname not in ('pg_catalog', 'information_schema')
         and (n.nspname like 'app\\_%' or p.provolatile = 'v')
         and has_function_privilege($1, p.oid, 'EXECUTE')`,
      [ANALYST_GROUP],
    );
    // app_reporting.tickets calls it, and a view's functions run with the reader's rights.
    expect(rows).toEqual([
      { function: "app_private.sla_breached(timestamp with time zone,timestamp with time zone)", volatility: "i" },
    ]);
  });

  it("give USAGE only on app_reporting among the application's schemas, CREATE nowhere, no TEMP", async () => {
    const { rows } = await database.current.owner.query(
      `select n.nspname as schema,
              has_schema_privilege($1, n.oid, 'USAGE') as usage,
              has_schema_privilege($1, n.oid, 'CREATE') as create
       from pg_namespace as n
       where n.nspname in ('app_public', 'app_private', 'app_reporting', 'public', 'graphile_migrate')
       order by 1`,
      [ANALYST_GROUP],
    );
    expect(rows).toEqual([
      { schema: "app_private", usage: false, create: false },
      { schema: "app_public", usage: false, create: false },
      { schema: "app_reporting", usage: true, create: false },
      { schema: "graphile_migrate", usage: false, create: false },
      { schema: "public", usage: true, create: false },
    ]);
    const { rows: databaseRights } = await database.current.owner.query(
      `select has_database_privilege($1, current_database(), 'CONNECT') as connect,
              has_database_privilege($1, current_database(), 'CREATE') as create,
              has_database_privilege($1, current_database(), 'TEMPORARY') as temporary`,
      [analyst.current.login.role],
    );
    expect(databaseRights[0]).toEqual({ connect: true, create: false, temporary: false });
  });
});
