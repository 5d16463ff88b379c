import { environmentFor } from "../config/command-inputs.ts";
import { setupCluster } from "../database/cluster-setup.ts";
import { runMaintenance } from "../database/maintenance.ts";
import { migrationSettings, runCommittedMigrations } from "../database/migrations.ts";
import { commandLogger, runCli } from "./run-cli.ts";

/**
 * `npm run db:setup`: prepares a PostgreSQL you run yourself. Idempotent:
 * roles (passwords taken from the URLs), the database, then migrations.
 * Needs ROOT_DATABASE_URL, DATABASE_OWNER_URL and DATABASE_URL, nothing else.
 */
await runCli(async () => {
  const environment = environmentFor("db:setup");
  const logger = commandLogger(environment.LOG_LEVEL);
  const urls = {
    root: environment.ROOT_DATABASE_URL!,
    owner: environment.DATABASE_OWNER_URL!,
    authenticator: environment.DATABASE_URL!,
  };
  await setupCluster(urls);
  logger.info("roles and database ready");
  await runCommittedMigrations(migrationSettings({ ownerUrl: urls.owner, rootUrl: urls.root, logger }));
  await runMaintenance(urls.owner);
  logger.info("migrations applied");
});
