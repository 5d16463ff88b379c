import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * The rules of issue 3 about how security is built, read from the catalog so
 * a new migration that breaks one fails here: policy helpers are app_private,
 * stable, security definer, pinned and evaluated once per statement; every
 * security definer function belongs to the owner and pins its search_path;
 * what the web roles may execute and read by name is an explicit list.
 */
const database = useTestDatabase();
const WEB_ROLES = [
  "ticketing_anonymous",
  "ticketing_customer",
  "ticketing_agent",
  "ticketing_admin",
  "ticketing_analyst",
];

async function query<T extends Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await database.current.owner.query<T>(sql, params)).rows;
}

describe("policy helpers", () => {
  it("are only ever called as (select app_private.fn(...)), so they run once per statement", async () => {
    const policies = await query<{ name: string; expression: string }>(
      `select tablename || '.' || policyname as name, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expression
         from pg_catalog.pg_policies where schemaname = 'app_public'`,
    );
    expect(policies.length).toBeGreaterThan(20);
    const bare: string[] = [];
    for (const { name, expression } of policies) {
      // Any function call that is not the sole target of a scalar subquery.
      for (const match of expression.matchAll(/([\w.]+)\(/g)) {
        const fn = match[1]!;
        if (["EXISTS", "SELECT", "ANY", "ALL"].includes(fn.toUpperCase()) || fn === "") continue;
        const before = expression.slice(0, match.index);
        if (!/\( SELECT $/.test(before)) bare.push(`${name}: ${fn}`);
      }
    }
    expect(bare).toEqual([]);
  });

  it("are app_private, stable, security definer, owned by the owner, with a pinned search_path", async () => {
    const helpers = await query<{
      name: string;
      schema: string;
      stable: boolean;
      definer: boolean;
      owner: string;
      config: string[] | null;
    }>(
      `select distinct p.proname as name, n.nspname as schema, p.provolatile = 's' as stable, p.prosecdef as definer,
              pg_get_userbyid(p.proowner) as owner, p.proconfig as config
         from pg_catalog.pg_policy as pol
         join pg_catalog.pg_depend as d on d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = pol.oid
                                        and d.refclassid = 'pg_catalog.pg_proc'::regclass
         join pg_catalog.pg_proc as p on p.oid = d.refobjid
         join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
         join pg_catalog.pg_class as c on c.oid = pol.polrelid
        where c.relnamespace = 'app_public'::regnamespace`,
    );
    expect(helpers.map((helper) => helper.name)).toContain("acting_user_id");
    for (const helper of helpers) {
      expect(helper, helper.name).toMatchObject({
        schema: "app_private",
        stable: true,
        definer: true,
        owner: "ticketing_owner",
      });
      expect(
        helper.config?.some((setting) => /^search_path=pg_catalog,.*pg_temp$/.test(setting)),
        helper.name,
      ).toBe(true);
    }
  });
});

describe("functions", () => {
  it("every security definer function is the owner's and pins search_path with pg_temp last", async () => {
    const loose = await query<{ name: string }>(
      `select n.nspname || '.' || p.proname as name
         from pg_catalog.pg_proc as p join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname in ('app_public', 'app_private', 'app_reporting')
          and (pg_get_userbyid(p.proowner) <> 'ticketing_owner'
               or not exists (select from unnest(p.proconfig) as setting
                               where setting ~ '^search_path=pg_catalog(, public)?, pg_temp$'))`,
    );
    expect(loose).toEqual([]);
  });

  it("functions without a pinned search_path run with the caller's rights", async () => {
    const unpinned = await query<{ name: string; definer: boolean }>(
      `select n.nspname || '.' || p.proname as name, p.prosecdef as definer
         from pg_catalog.pg_proc as p join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
        where n.nspname in ('app_public', 'app_private', 'app_reporting')
          and not exists (select from unnest(p.proconfig) as setting where setting like 'search_path=%')`,
    );
    expect(unpinned.filter((fn) => fn.definer)).toEqual([]);
  });

  it("nothing is executable by PUBLIC", async () => {
    const open = await query<{ name: string }>(
      `select n.nspname || '.' || p.proname as name
         from pg_catalog.pg_proc as p join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
        where n.nspname in ('app_public', 'app_private', 'app_reporting')
          and exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as acl
                       where acl.grantee = 0 and acl.privilege_type = 'EXECUTE')`,
    );
    expect(open).toEqual([]);
  });

  it("web roles execute in app_private exactly what policies, defaults, search and the SLA rules need", async () => {
    const granted = await query<{ role: string; functions: string[] }>(
      `select r.rolname as role, array_agg(p.proname::text order by p.proname) as functions
         from pg_catalog.pg_roles as r
        cross join pg_catalog.pg_proc as p
        where r.rolname = any ($1) and p.pronamespace = 'app_private'::regnamespace
          and has_function_privilege(r.oid, p.oid, 'EXECUTE')
        group by r.rolname order by r.rolname`,
      [WEB_ROLES],
    );
    // sanitize_file_name: create_attachment_upload's SQL-standard body calls it as the caller.
    // The SLA clock pieces run with the caller's rights: the ticket fields
    // (elapsed and remaining business minutes) call them, and ticket_sla_policy
    // (a security definer) gives them the targets of the ticket's organization;
    // business_minutes_between is the SLA's own unbounded count, which the
    // at-risk fields and elapsed minutes call (the caller's is bounded).
    // search_tickets holds all three matching helpers (one per kind of
    // caller, the others skipped at run time), so every web role executes them.
    const helpers = [
      "acting_user_id",
      "business_minutes_between",
      "current_user_role",
      "customer_cc_ticket_ids",
      "customer_colleague_ids",
      "customer_managed_organization_ids",
      "customer_organization_ids",
      "customer_sighted_organization_ids",
      "customer_writes_on",
      "sanitize_file_name",
      "search_matches",
      "search_matches_in_sight",
      "search_matches_within",
      "search_query",
      "sla_active_time",
      "sla_breached",
      "sla_elapsed_minutes",
      "ticket_sla_active_time",
      "ticket_sla_policy",
      "uuid_generate_v7",
    ];
    expect(granted).toEqual([
      // Calendars' time zone check runs with the writer's rights: admins write calendars.
      { role: "ticketing_admin", functions: [...helpers, "is_time_zone_name"].sort() },
      { role: "ticketing_agent", functions: helpers },
      // The reporting views call the SLA rule with the analyst's rights.
      { role: "ticketing_analyst", functions: ["sla_breached"] },
      { role: "ticketing_customer", functions: helpers },
    ]);
  });

  it("anonymous visitors may call only the identity functions of app_public", async () => {
    const granted = await query<{ name: string }>(
      `select p.proname as name from pg_catalog.pg_proc as p
        where p.pronamespace = 'app_public'::regnamespace and has_function_privilege('ticketing_anonymous', p.oid, 'EXECUTE')
        order by 1`,
    );
    expect(granted.map((row) => row.name)).toEqual(["current_user", "current_user_id", "users_email"]);
  });
});

describe("schemas and views", () => {
  it("no web role can create objects anywhere the functions look", async () => {
    const creators = await query<{ role: string; schema: string }>(
      `select r.rolname as role, n.nspname as schema
         from pg_catalog.pg_roles as r cross join pg_catalog.pg_namespace as n
        where r.rolname = any ($1) and n.nspname in ('public', 'app_public', 'app_private', 'app_reporting')
          and has_schema_privilege(r.oid, n.oid, 'CREATE')`,
      [[...WEB_ROLES, "ticketing_authenticator"]],
    );
    expect(creators).toEqual([]);
  });

  it("app_public has one view, the audit log window, readable by admins only and behind a security barrier", async () => {
    const views = await query<{ name: string; options: string[] | null; readers: string[] }>(
      `select c.relname as name, c.reloptions as options,
              array(select r.rolname::text from pg_catalog.pg_roles as r
                     where r.rolname = any ($1) and has_table_privilege(r.oid, c.oid, 'SELECT') order by 1) as readers
         from pg_catalog.pg_class as c
        where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('v', 'm')`,
      [WEB_ROLES],
    );
    expect(views).toEqual([
      { name: "audit_log_entries", options: ["security_barrier=true"], readers: ["ticketing_admin"] },
    ]);
  });

  it("partitions and every other table outside app_public are out of the web roles' reach", async () => {
    const reachable = await query<{ role: string; table: string }>(
      `select r.rolname as role, n.nspname || '.' || c.relname as table
         from pg_catalog.pg_roles as r
        cross join pg_catalog.pg_class as c
         join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where r.rolname = any ($1) and n.nspname = 'app_private' and c.relkind in ('r', 'p', 'v', 'm')
          and (has_table_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
               or has_any_column_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE'))`,
      [WEB_ROLES],
    );
    expect(reachable).toEqual([]);
    const withoutRls = await query<{ table: string }>(
      `select c.relname as table from pg_catalog.pg_class as c
        where c.relnamespace = 'app_private'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity`,
    );
    expect(withoutRls).toEqual([]);
  });
});
