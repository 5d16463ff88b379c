import type pg from "pg";
import { withClient } from "./cluster-setup.ts";
import { pruneSecurityRows, type PruneResult } from "./housekeeping.ts";

/**
 * Routine upkeep, run as the owner after every migration run and by
 * `npm run db:maintain` (schedule it, e.g. hourly from cron): status
 * history is partitioned by month, and the partitions must exist before
 * their month starts, or rows fall into the default partition for good;
 * expired security rows are pruned (the API also does this every few
 * minutes, see housekeeping.ts). Returns what was pruned.
 */
export const PARTITION_MONTHS_AHEAD = 3;

export async function runMaintenance(ownerUrl: string): Promise<PruneResult> {
  return withClient(ownerUrl, maintain);
}

/** The same upkeep on a connection of the owner (the worker's housekeeping task uses its own). */
export async function maintain(owner: Pick<pg.ClientBase, "query">): Promise<PruneResult> {
  {
    const { rows } = await owner.query<{ partitions: boolean; prune: boolean }>(
      `select to_regprocedure('app_private.create_status_history_partitions(integer)') is not null as partitions,
              to_regprocedure('app_private.prune_security_rows()') is not null as prune`,
    );
    // Databases migrated to an older release lack one or the other.
    if (rows[0]?.partitions) {
      await owner.query("select app_private.create_status_history_partitions($1)", [PARTITION_MONTHS_AHEAD]);
    }
    return rows[0]?.prune ? pruneSecurityRows(owner) : {};
  }
}
