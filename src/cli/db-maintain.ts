import { parseEnvironment } from "../config/environment.ts";
import { startLocalDatabase } from "../database/local-database.ts";
import { runMaintenance } from "../database/maintenance.ts";
import { createLogger } from "../observability/logger.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run db:maintain`: creates the status-history partitions of the coming
 * months and prunes expired security rows. With no DATABASE_OWNER_URL it
 * maintains the local embedded database.
 */
await runCli(async () => {
  const environment = parseEnvironment();
  const logger = createLogger(environment.LOG_LEVEL);
  if (environment.DATABASE_OWNER_URL) {
    const pruned = await runMaintenance(environment.DATABASE_OWNER_URL);
    logger.info({ pruned }, "security rows pruned");
  } else {
    // Starting the local database already runs maintenance.
    const local = await startLocalDatabase(environment, logger);
    await local.stop();
  }
  logger.info("maintenance done");
});
