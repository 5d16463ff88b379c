import { setupCluster } from "../database/cluster-setup.ts";
import { runMaintenance } from "../database/maintenance.ts";
import { migrationSettings, runCommittedMigrations } from "../database/migrations.ts";
import { ConfigurationError, parseEnvironment } from "../config/environment.ts";
import { createLogger } from "../observability/logger.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run db:setup`: prepares a PostgreSQL you run yourself. Idempotent:
 * roles (passwords taken from the URLs), the database, then migrations.
 */
function required(value: string | undefined, variable: string): string {
  if (!value) throw new ConfigurationError(`Invalid configuration: ${variable} is required by db:setup`);
  return value;
}

await runCli(async () => {
  const environment = parseEnvironment();
  const logger = createLogger(environment.LOG_LEVEL);
  const urls = {
    root: required(environment.ROOT_DATABASE_URL, "ROOT_DATABASE_URL"),
    owner: required(environment.DATABASE_OWNER_URL, "DATABASE_OWNER_URL"),
    authenticator: required(environment.DATABASE_URL, "DATABASE_URL"),
  };
  await setupCluster(urls);
  logger.info("roles and database ready");
  await runCommittedMigrations(migrationSettings({ ownerUrl: urls.owner, rootUrl: urls.root, logger }));
  await runMaintenance(urls.owner);
  logger.info("migrations applied");
});
