import type pg from "pg";
import type { Logger } from "../observability/logger.ts";

/**
 * Housekeeping of security rows (login attempts, ended sessions, rotated
 * refresh tokens, counted writes): the rules are app_private.prune_security_rows()
 * and app_private.housekeeping_policy(); this module only runs it, from the
 * API every few minutes and from `npm run db:maintain`. Several API
 * instances may run it: the function takes an advisory lock, and an
 * instance that finds it taken skips the round.
 */
export const DEFAULT_HOUSEKEEPING_MINUTES = 10;

/** The first round runs soon after start-up, not a whole interval later, so a server restarted often still prunes. */
const FIRST_ROUND_MS = 60_000;

/** Rows deleted per table; empty when another instance was pruning at that moment. */
export type PruneResult = Record<string, number>;

type Queryable = Pick<pg.ClientBase, "query">;

export async function pruneSecurityRows(client: Queryable): Promise<PruneResult> {
  const { rows } = await client.query<{ table_name: string; deleted_rows: string }>(
    "select table_name, deleted_rows from app_private.prune_security_rows()",
  );
  return Object.fromEntries(rows.map((row) => [row.table_name, Number(row.deleted_rows)]));
}

export interface Housekeeping {
  /** Stops the schedule and waits for a round in progress. */
  stop(): Promise<void>;
}

/**
 * Runs pruneSecurityRows on `pool` every `minutes` (0: never). A failed
 * round is logged and the next one tried at the usual time. The timers do
 * not keep the process alive.
 */
export function startHousekeeping(options: { pool: pg.Pool; minutes: number; logger: Logger }): Housekeeping {
  const { pool, minutes, logger } = options;
  if (minutes <= 0) return { stop: async () => undefined };
  const intervalMs = minutes * 60_000;
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const round = async () => {
    try {
      const deleted = await pruneSecurityRows(pool);
      logger.debug({ scope: "housekeeping", deleted }, "security rows pruned");
    } catch (error) {
      logger.warn({ scope: "housekeeping", err: error }, "pruning security rows failed; retrying next round");
    }
  };
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      running = round().finally(() => {
        running = undefined;
        if (!stopped) schedule(intervalMs);
      });
    }, delayMs);
    timer.unref();
  };
  schedule(Math.min(FIRST_ROUND_MS, intervalMs));

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
