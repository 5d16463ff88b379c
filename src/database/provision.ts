import type { Logger } from "../observability/logger.ts";
import { AUTHENTICATOR_ROLE, setupCluster } from "./cluster-setup.ts";
import { buildUrl, type DatabaseUrls } from "./connection-urls.ts";
import { runMaintenance } from "./maintenance.ts";
import { DATABASE_OWNER_ROLE, migrationSettings, runCommittedMigrations, runCurrentMigration } from "./migrations.ts";

/**
 * The one way a database is made ready, wherever it runs (`npm start`'s
 * local database, `db:setup`, the test template, the bench, the soak):
 * roles and database, then migrations, then maintenance (partitions ahead,
 * pruning). Every step is idempotent, so running it again is safe.
 */

export interface ProvisionOptions {
  logger: Logger;
  /**
   * Also apply the work in progress (`migrations/current`) on top of the
   * committed migrations: development, tests and bench. Production never does.
   */
  current?: boolean;
}

export async function provision(urls: DatabaseUrls, options: ProvisionOptions): Promise<void> {
  await setupCluster(urls);
  const settings = migrationSettings({ ownerUrl: urls.owner, rootUrl: urls.root, logger: options.logger });
  await runCommittedMigrations(settings);
  if (options.current) await runCurrentMigration(settings);
  await runMaintenance(urls.owner);
}

/** Passwords of the project's login roles. */
export interface RolePasswords {
  owner: string;
  authenticator: string;
}

/**
 * The project's URLs for `database` on the server `rootUrl` reaches: the
 * owner and the API's connection role, same host and port, each with its
 * password; the root URL as given.
 */
export function databaseUrls(rootUrl: string, database: string, passwords: RolePasswords): DatabaseUrls {
  const root = new URL(rootUrl);
  const url = (user: string, password: string) =>
    buildUrl({ user, password, host: root.hostname, port: Number(root.port || 5432), database });
  return {
    root: rootUrl,
    owner: url(DATABASE_OWNER_ROLE, passwords.owner),
    authenticator: url(AUTHENTICATOR_ROLE, passwords.authenticator),
  };
}
