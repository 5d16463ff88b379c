import { environmentFor } from "../config/command-inputs.ts";
import { startLocalDatabase } from "../database/local-database.ts";
import { runMaintenance } from "../database/maintenance.ts";
import { commandLogger, runCli } from "./run-cli.ts";

/**
 * `npm run db:maintain`: creates the status-history partitions of the coming
 * months and prunes expired security rows, as the owner (DATABASE_OWNER_URL:
 * the only input it needs). Without it, outside production, it maintains
 * the local embedded database.
 */
await runCli(async () => {
  const environment = environmentFor("db:maintain");
  const logger = commandLogger(environment.LOG_LEVEL);
  if (environment.DATABASE_OWNER_URL) {
    const pruned = await runMaintenance(environment.DATABASE_OWNER_URL);
    logger.info({ pruned }, "security rows pruned");
  } else {
    // Preparing the local database already runs maintenance.
    const local = await startLocalDatabase(environment, logger);
    await local.stop();
  }
  logger.info("maintenance done");
});
