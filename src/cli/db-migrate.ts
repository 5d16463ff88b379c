import { environmentFor } from "../config/command-inputs.ts";
import { startLocalDatabase } from "../database/local-database.ts";
import { runMaintenance } from "../database/maintenance.ts";
import { migrationSettings, runCommittedMigrations } from "../database/migrations.ts";
import { commandLogger, runCli } from "./run-cli.ts";

/**
 * `npm run db:migrate`: applies pending committed migrations, as the owner
 * (DATABASE_OWNER_URL: the only input it needs). Without it, outside
 * production, it migrates the local embedded database.
 */
await runCli(async () => {
  const environment = environmentFor("db:migrate");
  const logger = commandLogger(environment.LOG_LEVEL);
  const ownerUrl = environment.DATABASE_OWNER_URL;
  if (ownerUrl) {
    await runCommittedMigrations(migrationSettings({ ownerUrl, logger }));
    await runMaintenance(ownerUrl);
  } else {
    // Preparing the local database migrates it.
    const local = await startLocalDatabase(environment, logger);
    await local.stop();
  }
  logger.info("migrations up to date");
});
