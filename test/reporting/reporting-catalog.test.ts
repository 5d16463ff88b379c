import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { useAnalystSession } from "./analyst-session.ts";

/**
 * The shape of app_reporting, checked in the catalog: no column that could
 * hold a secret or free text, no view built on one, every view and column
 * documented.
 */
const database = useTestDatabase();
const analyst = useAnalystSession(database);

const FORBIDDEN_NAME = /email|password|hash|token|body|description|subject|note|search|secret/;

describe("app_reporting catalog", () => {
  it("has no column named like a secret or free text (as the analyst sees it)", async () => {
    const { rows } = await analyst.current.client.query<{ table_schema: string; column_name: string }>(
      "select table_schema, table_name, column_name from information_schema.columns where table_schema like 'app\\_%'",
    );
    expect(rows.length).toBeGreaterThan(50);
    // The analyst sees the columns of app_reporting and of no other application schema.
    expect(new Set(rows.map((row) => row.table_schema))).toEqual(new Set(["app_reporting"]));
    expect(rows.filter((row) => FORBIDDEN_NAME.test(row.column_name))).toEqual([]);
  });

  it("builds its views only on ticket facts and staff names, never on secrets or free text", async () => {
    const { rows } = await database.current.owner.query<{ source: string }>(
      `select distinct
              rn.nspname || '.' || rc.relname || coalesce('.' || a.attname, '') as source
       from pg_rewrite as r
       join pg_class as v on v.oid = r.ev_class
       join pg_namespace as vn on vn.oid = v.relnamespace
       join pg_depend as d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
       join pg_class as rc on rc.oid = d.refobjid
       join pg_namespace as rn on rn.oid = rc.relnamespace
       left join pg_attribute as a on a.attrelid = rc.oid and a.attnum = d.refobjsubid and d.refobjsubid > 0
       where vn.nspname = 'app_reporting' and rc.oid <> v.oid
       order by 1`,
    );
    const sources = rows.map((row) => row.source);
    const tables = new Set(sources.map((source) => source.split(".").slice(0, 2).join(".")));
    expect(tables).toEqual(
      new Set([
        "app_public.tickets",
        "app_public.ticket_status_history",
        "app_public.users",
        "app_reporting.tickets",
        // Organizations: their id, name, activity and membership counts; no domains.
        "app_public.organizations",
        "app_public.organization_memberships",
        // The change feed (ticket_events): ids, kinds and times of the event log.
        "app_private.realtime_events",
        // Attachments: counts and sizes only.
        "app_public.attachments",
        // SLA compliance on business time: the SLA events and calendar names.
        "app_public.sla_events",
        "app_public.business_calendars",
      ]),
    );
    expect(sources.filter((source) => source.startsWith("app_public.attachments.")).sort()).toEqual([
      "app_public.attachments.comment_id",
      "app_public.attachments.created_at",
      "app_public.attachments.id",
      "app_public.attachments.size",
      "app_public.attachments.state",
      "app_public.attachments.ticket_id",
    ]);
    expect(sources.filter((source) => source.startsWith("app_public.business_calendars.")).sort()).toEqual([
      "app_public.business_calendars.id",
      "app_public.business_calendars.name",
    ]);
    expect(sources.filter((source) => source.startsWith("app_private.realtime_events.")).sort()).toEqual([
      "app_private.realtime_events.agent_id",
      "app_private.realtime_events.customer_id",
      "app_private.realtime_events.id",
      "app_private.realtime_events.kind",
      "app_private.realtime_events.occurred_at",
      "app_private.realtime_events.ticket_id",
    ]);
    expect(sources.filter((source) => source.startsWith("app_public.users."))).toEqual([
      "app_public.users.display_name",
      "app_public.users.id",
      "app_public.users.is_active",
      "app_public.users.role",
    ]);
    expect(sources.filter((source) => source.startsWith("app_public.organizations."))).toEqual([
      "app_public.organizations.created_at",
      "app_public.organizations.id",
      "app_public.organizations.is_active",
      "app_public.organizations.name",
    ]);
    for (const column of [
      "app_public.tickets.subject",
      "app_public.tickets.description",
      "app_public.tickets.search",
      "app_public.ticket_status_history.note",
    ]) {
      expect(sources).not.toContain(column);
    }
    const { rows: definitions } = await database.current.owner.query<{ definition: string }>(
      "select pg_get_viewdef(c.oid) as definition from pg_class as c where c.relnamespace = 'app_reporting'::regnamespace",
    );
    for (const { definition } of definitions) {
      expect(definition).not.toMatch(/user_accounts|refresh_tokens|ticket_comments|audit_log|\.body\b|\.note\b/);
    }
  });

  it("documents every view and every column", async () => {
    const { rows } = await database.current.owner.query(
      `select c.relname as view, a.attname as column
       from pg_class as c
       left join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where c.relnamespace = 'app_reporting'::regnamespace
         and (obj_description(c.oid, 'pg_class') is null or col_description(c.oid, a.attnum) is null)`,
    );
    expect(rows).toEqual([]);
  });

  it("runs its views with the owner's rights, owned by ticketing_owner", async () => {
    const { rows } = await database.current.owner.query(
      `select c.relname as view, pg_get_userbyid(c.relowner) as owner, c.reloptions
       from pg_class as c
       where c.relnamespace = 'app_reporting'::regnamespace and c.relkind = 'v'
         and (pg_get_userbyid(c.relowner) <> 'ticketing_owner' or c.reloptions is not null)`,
    );
    expect(rows).toEqual([]);
  });
});
