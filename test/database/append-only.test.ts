import type pg from "pg";
import { describe, expect, it } from "vitest";
import { sqlState, useTestDatabase } from "../support/test-database.ts";

/**
 * app_private.make_append_only(table) is the one way a table becomes
 * append-only. The existing records are built with it (checked from the
 * catalog), and on a new table it refuses UPDATE, DELETE and TRUNCATE to the
 * owner, even after the owner grants itself the rights back, and can be
 * applied twice.
 */
const database = useTestDatabase();

async function inRolledBackTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await database.current.owner.connect();
  try {
    await client.query("begin");
    await work(client);
  } finally {
    await client.query("rollback");
    client.release();
  }
}

/** The same statement in a savepoint, so a refusal does not end the transaction. */
async function stateOf(client: pg.PoolClient, sql: string): Promise<string> {
  await client.query("savepoint probe");
  const state = await sqlState(() => client.query(sql));
  await client.query(state === "ok" ? "release savepoint probe" : "rollback to savepoint probe");
  return state;
}

const PROTECTION = `
  select c.oid::regclass::text as table,
         exists (select from pg_catalog.pg_trigger as t
                  where t.tgrelid = c.oid and t.tgname = '_100_append_only'
                    and t.tgfoid = 'app_private.tg_forbid_change'::regproc) as row_trigger,
         exists (select from pg_catalog.pg_trigger as t
                  where t.tgrelid = c.oid and t.tgname = '_100_append_only_truncate'
                    and t.tgfoid = 'app_private.tg_forbid_change'::regproc) as truncate_trigger,
         has_table_privilege('ticketing_owner', c.oid, 'UPDATE, DELETE, TRUNCATE') as owner_may_change,
         exists (select from aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) as acl where acl.grantee = 0) as public_granted
    from pg_catalog.pg_class as c`;

describe("append-only tables", () => {
  it("the histories, their partitions and the audit log are protected alike", async () => {
    const { rows } = await database.current.owner.query(
      `${PROTECTION}
        where c.oid in ('app_public.ticket_status_history'::regclass, 'app_public.ticket_assignment_history'::regclass,
                        'app_private.audit_log'::regclass)
           or c.oid in (select inhrelid from pg_catalog.pg_inherits where inhparent = 'app_public.ticket_status_history'::regclass)
        order by 1`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      expect(row, row.table).toMatchObject({
        row_trigger: true,
        truncate_trigger: true,
        owner_may_change: false,
        public_granted: false,
      });
    }
  });

  it("make_append_only turns a new table append-only, even for its owner, and can run twice", async () => {
    await inRolledBackTransaction(async (client) => {
      await client.query("create table app_private.probe_records (id integer primary key, note text)");
      await client.query("grant select on app_private.probe_records to public");
      await client.query("select app_private.make_append_only('app_private.probe_records')");
      await client.query("select app_private.make_append_only('app_private.probe_records')");

      const { rows } = await client.query(`${PROTECTION} where c.oid = 'app_private.probe_records'::regclass`);
      expect(rows[0]).toMatchObject({
        row_trigger: true,
        truncate_trigger: true,
        owner_may_change: false,
        public_granted: false,
      });
      const { rows: triggers } = await client.query(
        "select count(*)::int as n from pg_catalog.pg_trigger where tgrelid = 'app_private.probe_records'::regclass",
      );
      expect(triggers[0].n).toBe(2);

      expect(await stateOf(client, "insert into app_private.probe_records values (1, 'kept')")).toBe("ok");
      for (const sql of [
        "update app_private.probe_records set note = 'changed'",
        "delete from app_private.probe_records",
        "truncate app_private.probe_records",
      ]) {
        expect(await stateOf(client, sql), sql).toBe("42501");
      }
      // Granting the rights back does not help: the triggers refuse.
      await client.query("grant update, delete, truncate on app_private.probe_records to ticketing_owner");
      for (const sql of [
        "update app_private.probe_records set note = 'changed'",
        "delete from app_private.probe_records",
        "truncate app_private.probe_records",
      ]) {
        expect(await stateOf(client, sql), sql).toBe("TKFBD");
      }
      const { rows: kept } = await client.query("select note from app_private.probe_records");
      expect(kept).toEqual([{ note: "kept" }]);
    });
  });

  it("web roles cannot call make_append_only", async () => {
    const { rows } = await database.current.owner.query(
      `select r.rolname from pg_catalog.pg_roles as r
        where r.rolname like 'ticketing\\_%' and r.rolname <> 'ticketing_owner'
          and has_function_privilege(r.oid, 'app_private.make_append_only(regclass)', 'EXECUTE')`,
    );
    expect(rows).toEqual([]);
  });
});
