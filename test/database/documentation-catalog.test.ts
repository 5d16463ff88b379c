import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * SQL is documented code: every table, view, column, function and policy of
 * the application's schemas carries a COMMENT ON (PostGraphile publishes the
 * app_public ones as GraphQL documentation).
 */
const database = useTestDatabase();
const SCHEMAS = ["app_public", "app_private", "app_reporting"];

async function undocumented(sql: string): Promise<string[]> {
  const { rows } = await database.current.owner.query<{ name: string }>(sql, [SCHEMAS]);
  return rows.map((row) => row.name);
}

describe("every object has a comment", () => {
  it("tables and views", async () => {
    expect(
      await undocumented(
        `select n.nspname || '.' || c.relname as name
           from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
          where n.nspname = any ($1) and c.relkind in ('r', 'p', 'v', 'm')
            and obj_description(c.oid, 'pg_class') is null`,
      ),
    ).toEqual([]);
  });

  it("columns of tables and views (partitions inherit their parent's)", async () => {
    expect(
      await undocumented(
        `select n.nspname || '.' || c.relname || '.' || a.attname as name
           from pg_catalog.pg_attribute as a
           join pg_catalog.pg_class as c on c.oid = a.attrelid
           join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
          where n.nspname = any ($1) and c.relkind in ('r', 'p', 'v', 'm') and not c.relispartition
            and a.attnum > 0 and not a.attisdropped
            and col_description(c.oid, a.attnum) is null`,
      ),
    ).toEqual([]);
  });

  it("functions", async () => {
    expect(
      await undocumented(
        `select n.nspname || '.' || p.proname as name
           from pg_catalog.pg_proc as p join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
          where n.nspname = any ($1) and obj_description(p.oid, 'pg_proc') is null`,
      ),
    ).toEqual([]);
  });

  it("policies", async () => {
    expect(
      await undocumented(
        `select n.nspname || '.' || c.relname || '.' || pol.polname as name
           from pg_catalog.pg_policy as pol
           join pg_catalog.pg_class as c on c.oid = pol.polrelid
           join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
          where n.nspname = any ($1) and obj_description(pol.oid, 'pg_policy') is null`,
      ),
    ).toEqual([]);
  });
});
