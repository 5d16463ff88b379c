import { parseEnvironment } from "../config/environment.ts";
import { startLocalDatabase } from "../database/local-database.ts";
import { runMaintenance } from "../database/maintenance.ts";
import { migrationSettings, runCommittedMigrations } from "../database/migrations.ts";
import { createLogger } from "../observability/logger.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run db:migrate`: applies pending committed migrations, as the owner.
 * With no DATABASE_OWNER_URL it migrates the local embedded database.
 */
await runCli(async () => {
  const environment = parseEnvironment();
  const logger = createLogger(environment.LOG_LEVEL);
  const ownerUrl = environment.DATABASE_OWNER_URL;
  if (ownerUrl) {
    await runCommittedMigrations(migrationSettings({ ownerUrl, logger }));
    await runMaintenance(ownerUrl);
  } else {
    // Starting the local database already migrates it.
    const local = await startLocalDatabase(environment, logger);
    await local.stop();
  }
  logger.info("migrations up to date");
});
