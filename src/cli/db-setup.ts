import { environmentFor } from "../config/command-inputs.ts";
import { provision } from "../database/provision.ts";
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
  await provision(urls, { logger });
  logger.info("roles and database ready, migrations applied");
});
