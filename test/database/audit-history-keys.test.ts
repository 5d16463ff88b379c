import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { actAs, commitAs, sqlState, useTestDatabase } from "../support/test-database.ts";
import {
  activeUser,
  actorOf,
  expectHistoryInvariant,
  commentAs,
  deactivatedUser,
  demotedUser,
  fileTicketAs,
  type FixtureUser,
  readAs,
  ROLE,
  transitionAs,
  assignAs,
} from "../support/fixtures.ts";

/**
 * The records of issue 3: the audit log (who changed what, old and new
 * values, readable by admins only, edited by nobody), the status-history
 * partitions made ahead of time, and time-ordered version 7 keys.
 */
const database = useTestDatabase();
const people = {} as Record<"customer" | "agent" | "admin" | "staleAdmin" | "goneAdmin", FixtureUser>;

beforeAll(async () => {
  const owner = database.current.owner;
  people.customer = await activeUser(owner, "Audited Customer", "customer");
  people.agent = await activeUser(owner, "Audited Agent", "agent");
  people.admin = await activeUser(owner, "Audited Admin", "admin");
  people.staleAdmin = await demotedUser(owner, "Former Admin", "admin", "agent");
  people.goneAdmin = await deactivatedUser(owner, "Gone Admin", "admin");
});

interface Entry {
  actor_id: string | null;
  db_role: string | null;
  transaction_id: string;
  table_name: string;
  operation: string;
  record_id: string;
  old_data: Record<string, any> | null;
  new_data: Record<string, any>;
}

async function entriesFor(recordId: string): Promise<Entry[]> {
  return readAs<Entry & Record<string, any>>(
    database.current.authenticator,
    people.admin,
    "select * from app_public.audit_log_entries where record_id = $1 order by occurred_at, id",
    [recordId],
  );
}

describe("audit log", () => {
  it("records a user's creation and each real change with actor, role, old and new values", async () => {
    const owner = database.current.owner;
    const { rows } = await owner.query<{ id: string }>(
      "select id from app_private.create_user_account('audited.new@example.com', 'New Person', 'customer', 'argon2id$secret-hash-marker')",
    );
    const id = rows[0]!.id;
    const newcomer: FixtureUser = { id, tokenRole: ROLE.customer };
    await commitAs(database.current.authenticator, actorOf(newcomer), (client) =>
      client.query("update app_public.users set display_name = 'Renamed Person' where id = $1", [id]),
    );
    const entries = await entriesFor(id);
    expect(entries.map((entry) => [entry.table_name, entry.operation])).toEqual([
      ["app_public.users", "INSERT"],
      ["app_public.users", "UPDATE"],
    ]);
    expect(entries[0]).toMatchObject({
      old_data: null,
      new_data: { id, display_name: "New Person", role: "customer" },
    });
    expect(entries[1]).toMatchObject({
      actor_id: id,
      db_role: "ticketing_customer",
      old_data: { display_name: "New Person" },
      new_data: { display_name: "Renamed Person" },
    });
    // Secrets stay in app_private.user_accounts, which is not audited.
    const { rows: leaks } = await owner.query(
      "select count(*)::int as n from app_private.audit_log where new_data::text like '%secret-hash-marker%' or new_data::text like '%audited.new@%'",
    );
    expect(leaks[0].n).toBe(0);
  });

  it("records tickets and comments written through the real functions, attributed to the caller even inside security definer functions", async () => {
    const api = database.current.authenticator;
    const ticket = await fileTicketAs(api, people.customer, "Audited ticket", undefined, "urgent");
    await assignAs(api, people.admin, ticket, people.agent.id);
    await transitionAs(api, people.agent, ticket, "in_progress", "On it");
    const comment = await commentAs(api, people.agent, ticket, "Audited internal note", true);

    const ticketEntries = await entriesFor(ticket);
    expect(ticketEntries[0]).toMatchObject({
      actor_id: people.customer.id,
      db_role: "ticketing_customer",
      operation: "INSERT",
      old_data: null,
      new_data: {
        id: ticket,
        subject: "Audited ticket",
        status: "open",
        priority: "urgent",
        customer_id: people.customer.id,
      },
    });
    expect(ticketEntries[0]!.new_data).not.toHaveProperty("search");
    const assigned = ticketEntries.find((entry) => entry.actor_id === people.admin.id);
    expect(assigned).toMatchObject({
      db_role: "ticketing_admin",
      operation: "UPDATE",
      old_data: { agent_id: null },
      new_data: { agent_id: people.agent.id },
    });
    const moved = ticketEntries.find(
      (entry) => entry.old_data?.status === "open" && entry.new_data.status === "in_progress",
    );
    expect(moved).toMatchObject({ actor_id: people.agent.id, db_role: "ticketing_agent" });

    const commentEntries = await entriesFor(comment);
    expect(commentEntries).toHaveLength(1);
    expect(commentEntries[0]).toMatchObject({
      actor_id: people.agent.id,
      db_role: "ticketing_agent",
      table_name: "app_public.ticket_comments",
      operation: "INSERT",
      new_data: { ticket_id: ticket, body: "Audited internal note", is_internal: true, author_id: people.agent.id },
    });
    await expectHistoryInvariant(database.current.owner);
  });

  it("is read by active admins only: others are refused or see nothing", async () => {
    const api = database.current.authenticator;
    const count = "select count(*)::int as n from app_public.audit_log_entries";
    expect((await readAs(api, people.admin, count))[0]!.n).toBeGreaterThan(0);
    expect((await readAs(api, people.staleAdmin, count))[0]!.n).toBe(0);
    expect((await readAs(api, people.goneAdmin, count))[0]!.n).toBe(0);
    for (const who of [people.customer, people.agent]) {
      expect(await sqlState(() => readAs(api, who, count))).toBe("42501");
    }
    // A predicate of the caller never sees rows the view hides (security barrier).
    const peek = `select count(*)::int as n from app_public.audit_log_entries
                   where (select count(*) from pg_catalog.pg_class) > 0 and new_data is not null`;
    expect((await readAs(api, people.staleAdmin, peek))[0]!.n).toBe(0);
  });

  it("cannot be edited by anybody: admins through the view, the owner on the table", async () => {
    const api = database.current.authenticator;
    for (const sql of [
      "update app_public.audit_log_entries set operation = 'INSERT'",
      "delete from app_public.audit_log_entries",
      "insert into app_public.audit_log_entries (table_name, operation, new_data) values ('x', 'INSERT', '{}')",
    ]) {
      expect(await sqlState(() => actAs(api, actorOf(people.admin), (client) => client.query(sql))), sql).toBe("42501");
    }
    const owner = database.current.owner;
    for (const sql of [
      "update app_private.audit_log set actor_id = null",
      "delete from app_private.audit_log",
      "truncate app_private.audit_log",
    ]) {
      expect(["42501", "TKFBD"], sql).toContain(await sqlState(() => owner.query(sql)));
    }
  });
});

describe("status history partitions", () => {
  async function partitions(): Promise<string[]> {
    const { rows } = await database.current.owner.query<{ name: string }>(
      `select c.relname as name from pg_catalog.pg_inherits as i join pg_catalog.pg_class as c on c.oid = i.inhrelid
        where i.inhparent = 'app_public.ticket_status_history'::regclass order by 1`,
    );
    return rows.map((row) => row.name);
  }

  it("creates the months ahead idempotently, each as protected as the parent", async () => {
    const owner = database.current.owner;
    const { rows: months } = await owner.query<{ name: string }>(
      `select 'ticket_status_history_p' || to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => n), 'YYYYMM') as name
         from generate_series(0, 14) as n`,
    );
    const { rows: first } = await owner.query<{ created: number }>(
      "select app_private.create_status_history_partitions(14) as created",
    );
    expect(first[0]!.created).toBeGreaterThan(0);
    const after = await partitions();
    expect(after).toEqual(expect.arrayContaining(months.map((row) => row.name)));
    const { rows: again } = await owner.query<{ created: number }>(
      "select app_private.create_status_history_partitions(14) as created",
    );
    expect(again[0]!.created).toBe(0);
    expect(await partitions()).toEqual(after);

    const newest = months.at(-1)!.name;
    const { rows: protection } = await owner.query(
      `select c.relnamespace::regnamespace::text as schema, c.relrowsecurity as rls,
              has_table_privilege('ticketing_owner', c.oid, 'UPDATE') as owner_update,
              has_table_privilege('ticketing_owner', c.oid, 'DELETE') as owner_delete,
              has_table_privilege('ticketing_owner', c.oid, 'TRUNCATE') as owner_truncate,
              exists (select from pg_catalog.pg_trigger as t where t.tgrelid = c.oid and t.tgname = '_100_append_only_truncate') as truncate_trigger,
              exists (select from pg_catalog.pg_trigger as t where t.tgrelid = c.oid and t.tgname = '_100_append_only') as row_trigger
         from pg_catalog.pg_class as c where c.oid = to_regclass('app_private.' || $1)`,
      [newest],
    );
    expect(protection[0]).toEqual({
      schema: "app_private",
      rls: true,
      owner_update: false,
      owner_delete: false,
      owner_truncate: false,
      truncate_trigger: true,
      row_trigger: true,
    });
    for (const sql of [
      `update app_private.${newest} set note = 'x'`,
      `delete from app_private.${newest}`,
      `truncate app_private.${newest}`,
    ]) {
      expect(await sqlState(() => owner.query(sql)), sql).toBe("42501");
    }
    const client = await owner.connect();
    try {
      // Even after granting itself the rights back, the owner cannot empty a new partition.
      await client.query("begin");
      await client.query(`grant truncate, delete on app_private.${newest} to ticketing_owner`);
      expect(await sqlState(() => client.query(`truncate app_private.${newest}`))).toBe("TKFBD");
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  it("refuses silly horizons and is not callable by web roles", async () => {
    for (const months of [-1, 121, null]) {
      expect(
        await sqlState(() =>
          database.current.owner.query("select app_private.create_status_history_partitions($1)", [months]),
        ),
        String(months),
      ).toBe("TKVAL");
    }
    for (const who of [people.customer, people.agent, people.admin]) {
      expect(
        await sqlState(() =>
          readAs(database.current.authenticator, who, "select app_private.create_status_history_partitions(1)"),
        ),
      ).toBe("42501");
    }
  });

  it("leaves a month whose rows already sit in the default partition there", async () => {
    const client = await database.current.owner.connect();
    try {
      await client.query("begin");
      const { rows: ticket } = await client.query<{ id: string }>("select id from app_public.tickets limit 1");
      const { rows: target } = await client.query<{ at: string; name: string }>(
        `select date_trunc('month', now() at time zone 'UTC') + interval '30 months' + interval '3 days' as at,
                'ticket_status_history_p' || to_char(date_trunc('month', now() at time zone 'UTC') + interval '30 months', 'YYYYMM') as name`,
      );
      await client.query(
        "insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_at) values ($1, 'open', 'closed', $2)",
        [ticket[0]!.id, target[0]!.at],
      );
      await client.query("select app_private.create_status_history_partitions(31)");
      const { rows } = await client.query(
        "select to_regclass('app_private.' || $1) is null as skipped, (select count(*)::int from app_private.ticket_status_history_default where changed_at = $2) as in_default",
        [target[0]!.name, target[0]!.at],
      );
      expect(rows[0]).toEqual({ skipped: true, in_default: 1 });
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
});

describe("primary keys are UUID version 7", () => {
  it("every uuid primary key defaults to app_private.uuid_generate_v7()", async () => {
    const { rows } = await database.current.owner.query<{ column: string; default: string | null }>(
      `select c.relname || '.' || a.attname as column, pg_get_expr(d.adbin, d.adrelid) as default
         from pg_catalog.pg_index as i
         join pg_catalog.pg_class as c on c.oid = i.indrelid
         join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum = any (i.indkey)
         left join pg_catalog.pg_attrdef as d on d.adrelid = c.oid and d.adnum = a.attnum
        where i.indisprimary and not c.relispartition and a.atttypid = 'uuid'::regtype
          and c.relnamespace in ('app_public'::regnamespace, 'app_private'::regnamespace)
          and a.attname = 'id'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(rows.filter((row) => row.default !== "app_private.uuid_generate_v7()")).toEqual([]);
  });

  it("keys of real rows carry version 7, the RFC variant and the creation time", async () => {
    const before = Date.now();
    const id = await fileTicketAs(database.current.authenticator, people.customer, "Keyed ticket");
    const after = Date.now();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const millis = Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
    // The database clock and ours may differ by a little.
    expect(millis).toBeGreaterThanOrEqual(before - 5_000);
    expect(millis).toBeLessThanOrEqual(after + 5_000);
  });

  it("sort by creation time, within a millisecond too", async () => {
    const owner = database.current.owner;
    const generate = async () =>
      (
        await owner.query<{ id: string }>(
          "select app_private.uuid_generate_v7()::text as id from generate_series(1, 2000) with ordinality order by ordinality",
        )
      ).rows.map((row) => row.id);
    const first = await generate();
    await sleep(5);
    const second = await generate();
    // The time part (48-bit milliseconds, version, 12-bit fraction) never goes back.
    const timePart = (id: string) => id.replaceAll("-", "").slice(0, 16);
    const all = [...first, ...second].map(timePart);
    expect(all.every((part, index) => index === 0 || part >= all[index - 1]!)).toBe(true);
    expect(second.every((id) => id > first.at(-1)!)).toBe(true);
    expect(new Set([...first, ...second]).size).toBe(4000);
    expect([...first, ...second].every((id) => id[14] === "7" && "89ab".includes(id[19]!))).toBe(true);
  });
});
