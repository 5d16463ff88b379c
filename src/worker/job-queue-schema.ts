import { Logger as WorkerLogger, runMigrations } from "graphile-worker";
import type { Logger } from "../observability/logger.ts";

/**
 * The job queue's own schema (`graphile_worker`), installed and upgraded by
 * graphile-worker's migrations, as the owner, right after the application's
 * migrations (migrations.ts): SQL functions queue jobs with
 * `graphile_worker.add_job` in the transaction of the change, so the schema
 * must exist whether or not a worker has ever run. Workers run the same
 * migrations when they start; running them twice changes nothing.
 */
export async function installJobQueueSchema(ownerUrl: string, logger?: Logger): Promise<void> {
  await runMigrations({ connectionString: ownerUrl, logger: workerLogger(logger) });
}

/** Routes graphile-worker's messages into the application's log (debug and below stay quiet). */
export function workerLogger(logger: Logger | undefined): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    if (!logger) return;
    const fields = { scope: "worker", ...scope, ...(meta ?? {}) };
    if (level === "error") logger.error(fields, message);
    else if (level === "warning") logger.warn(fields, message);
    else logger.debug(fields, message);
  });
}
