import { withClient } from "./cluster-setup.ts";

/**
 * Routine upkeep, run as the owner after every migration run and by
 * `npm run db:maintain` (schedule it monthly, e.g. from cron): status
 * history is partitioned by month, and the partitions must exist before
 * their month starts, or rows fall into the default partition for good.
 */
export const PARTITION_MONTHS_AHEAD = 3;

export async function runMaintenance(ownerUrl: string): Promise<void> {
  await withClient(ownerUrl, async (owner) => {
    const { rows } = await owner.query<{ present: boolean }>(
      "select to_regprocedure('app_private.create_status_history_partitions(integer)') is not null as present",
    );
    // Databases migrated to an older release have no partitions to keep.
    if (!rows[0]?.present) return;
    await owner.query("select app_private.create_status_history_partitions($1)", [PARTITION_MONTHS_AHEAD]);
  });
}
