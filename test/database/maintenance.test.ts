import { describe, expect, it } from "vitest";
import { PARTITION_MONTHS_AHEAD, runMaintenance } from "../../src/database/maintenance.ts";
import { useTestDatabase } from "../support/test-database.ts";

const database = useTestDatabase();

async function monthlyPartitions(): Promise<string[]> {
  const { rows } = await database.current.owner.query<{ name: string }>(
    `select c.relname as name
       from pg_catalog.pg_inherits as i
       join pg_catalog.pg_class as c on c.oid = i.inhrelid
      where i.inhparent = 'app_public.ticket_status_history'::regclass
        and c.relname ~ '_p[0-9]{6}$'
      order by 1`,
  );
  return rows.map((row) => row.name);
}

describe("maintenance", () => {
  it("keeps monthly status-history partitions ahead, idempotently", async () => {
    await runMaintenance(database.current.urls.owner);
    const { rows } = await database.current.owner.query<{ month: string }>(
      `select to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => n), 'YYYYMM') as month
         from generate_series(0, $1::int) as n`,
      [PARTITION_MONTHS_AHEAD],
    );
    const expected = rows.map((row) => `ticket_status_history_p${row.month}`);
    const partitions = await monthlyPartitions();
    expect(partitions).toEqual(expect.arrayContaining(expected));
    await runMaintenance(database.current.urls.owner);
    expect(await monthlyPartitions()).toEqual(partitions);
  });
});
