import { describe, expect, it } from "vitest";
import { activeUser, readAs } from "../support/fixtures.ts";
import { sqlState, useTestDatabase } from "../support/test-database.ts";

const database = useTestDatabase();

/** Monthly partitions with their bounds, oldest first. */
async function monthlyPartitions(): Promise<{ name: string; bound: string }[]> {
  const { rows } = await database.current.owner.query<{ name: string; bound: string }>(
    `select c.relname as name, pg_catalog.pg_get_expr(c.relpartbound, c.oid) as bound
       from pg_catalog.pg_inherits as i
       join pg_catalog.pg_class as c on c.oid = i.inhrelid
      where i.inhparent = 'app_public.ticket_status_history'::regclass
        and c.relname ~ '_p[0-9]{6}$'
      order by 1`,
  );
  return rows;
}

/** The UTC month `offset` months from now, as YYYYMM. */
async function monthFromNow(offset: number): Promise<string> {
  const { rows } = await database.current.owner.query<{ month: string }>(
    "select to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => $1), 'YYYYMM') as month",
    [offset],
  );
  return rows[0]!.month;
}

describe("create_status_history_partitions_from", () => {
  it("creates every month from the first month to the months ahead, UTC-bounded in any session time zone, idempotently", async () => {
    const client = await database.current.owner.connect();
    try {
      // A zone whose offset is not whole hours and which has daylight saving.
      await client.query("set timezone = 'Pacific/Chatham'");
      const { rows } = await client.query<{ created: number }>(
        "select app_private.create_status_history_partitions_from(((now() at time zone 'UTC') - interval '14 months')::date, 2) as created",
      );
      expect(rows[0]!.created).toBeGreaterThanOrEqual(14);
    } finally {
      await client.query("reset timezone");
      client.release();
    }
    const partitions = await monthlyPartitions();
    const expected: string[] = [];
    for (let offset = -14; offset <= 2; offset += 1)
      expected.push(`ticket_status_history_p${await monthFromNow(offset)}`);
    expect(partitions.map((p) => p.name)).toEqual(expect.arrayContaining(expected));
    for (const { name, bound } of partitions) {
      const month = name.slice(-6);
      const next = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(4)), 1));
      const nextMonth = `${next.getUTCFullYear()}-${String(next.getUTCMonth() + 1).padStart(2, "0")}`;
      // pg_get_expr prints bounds in the reading session's zone (UTC for the pool): midnight of the 1st, both ends.
      expect(bound, name).toBe(
        `FOR VALUES FROM ('${month.slice(0, 4)}-${month.slice(4)}-01 00:00:00+00') TO ('${nextMonth}-01 00:00:00+00')`,
      );
    }

    const { rows: again } = await database.current.owner.query<{ created: number }>(
      "select app_private.create_status_history_partitions_from(((now() at time zone 'UTC') - interval '14 months')::date, 2) as created",
    );
    expect(again[0]!.created).toBe(0);
    expect(await monthlyPartitions()).toEqual(partitions);
  });

  it("refuses a missing, future or far-past first month and a silly horizon", async () => {
    const call = (first: string | null, ahead: number | null) => () =>
      database.current.owner.query("select app_private.create_status_history_partitions_from($1::date, $2)", [
        first,
        ahead,
      ]);
    const nextMonth = await monthFromNow(1);
    for (const [first, ahead] of [
      [null, 3],
      [`${nextMonth.slice(0, 4)}-${nextMonth.slice(4)}-01`, 3],
      ["1900-01-01", 3],
      ["2020-01-01", -1],
      ["2020-01-01", 121],
      ["2020-01-01", null],
    ] as const) {
      expect(await sqlState(call(first, ahead)), `${first}, ${ahead}`).toBe("TKVAL");
    }
  });

  it("is the owner's alone", async () => {
    const { rows } = await database.current.owner.query(
      `select r as role, has_function_privilege(r, 'app_private.create_status_history_partitions_from(date, integer)', 'execute') as can
         from unnest(array['ticketing_anonymous', 'ticketing_customer', 'ticketing_agent', 'ticketing_admin',
                           'ticketing_authenticator', 'ticketing_analyst', 'ticketing_owner']) as r`,
    );
    expect(Object.fromEntries(rows.map((row) => [row.role, row.can]))).toEqual({
      ticketing_anonymous: false,
      ticketing_customer: false,
      ticketing_agent: false,
      ticketing_admin: false,
      ticketing_authenticator: false,
      ticketing_analyst: false,
      ticketing_owner: true,
    });
    const admin = await activeUser(database.current.owner, "Partition Admin", "admin");
    expect(
      await sqlState(() =>
        readAs(
          database.current.authenticator,
          admin,
          "select app_private.create_status_history_partitions_from(current_date, 1)",
        ),
      ),
    ).toBe("42501");
  });
});
