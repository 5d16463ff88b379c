import "./graphile-env.ts";
import { environmentFor } from "../config/command-inputs.ts";
import type { LocalDatabase } from "../database/local-database.ts";
import type { JobWorker } from "../worker/job-worker.ts";
import { workerConfigFrom } from "../worker/worker-config.ts";
import { commandLogger, runCli } from "./run-cli.ts";

/**
 * `npm run worker`: the job worker alone (webhook deliveries, scheduled
 * housekeeping), as the owner (DATABASE_OWNER_URL). Without it, outside
 * production, it works on the local embedded database. Run as many as
 * needed; stop with SIGINT or SIGTERM (running jobs finish first). The
 * worker's modules load once the configuration is known to be complete, as
 * in `npm start`.
 */
await runCli(async () => {
  const environment = environmentFor("worker");
  const logger = commandLogger(environment.LOG_LEVEL);
  let local: LocalDatabase | undefined;
  let ownerUrl = environment.DATABASE_OWNER_URL;
  if (!ownerUrl) {
    const { startLocalDatabase } = await import("../database/local-database.ts");
    local = await startLocalDatabase(environment, logger);
    ownerUrl = local.urls.owner;
  }
  let worker: JobWorker | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), environment.SHUTDOWN_TIMEOUT_MS).unref();
    await worker?.stop();
    await local?.stop();
    logger.info("job worker stopped");
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const config = workerConfigFrom(environment, ownerUrl);
  const { startJobWorker } = await import("../worker/job-worker.ts");
  worker = await startJobWorker(config, logger);
});
