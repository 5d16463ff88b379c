import path from "node:path";
import { ensureLocalSecrets, type LocalSecrets } from "../config/local-secrets.ts";
import type { Environment } from "../config/environment.ts";
import type { Logger } from "../observability/logger.ts";
import type { DatabaseUrls } from "./connection-urls.ts";
import { loadDemoDataIfEmpty, setDemoPassword } from "./demo-data.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { databaseUrls, provision } from "./provision.ts";

/**
 * The zero-configuration database of every local command: an embedded
 * PostgreSQL 18 whose data and generated secrets live under the data
 * directory. The server already running on that directory (another
 * command's, or one left by a crash) is used; otherwise one is started, and
 * the last command to let go of it stops it (embedded-postgres.ts). Set up
 * and migrated by every command (each step is idempotent); demo data is
 * loaded into it once.
 */
export const LOCAL_DATABASE_NAME = "ticketing";

export interface LocalDatabase {
  urls: DatabaseUrls;
  secrets: LocalSecrets;
  /** The server was already running when this command started. */
  reused: boolean;
  /** Lets go of the server; it stops when no other command uses it. */
  stop(): Promise<void>;
}

/** Where the local database lives and listens, as the environment says. */
type LocalDatabaseEnvironment = Pick<Environment, "DATA_DIR" | "EMBEDDED_POSTGRES_PORT">;

export async function startLocalDatabase(
  environment: LocalDatabaseEnvironment,
  logger: Logger,
): Promise<LocalDatabase> {
  const dataDir = path.resolve(environment.DATA_DIR);
  const { secrets, addedToExisting } = await ensureLocalSecrets(dataDir);
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(dataDir, "postgres"),
    port: environment.EMBEDDED_POSTGRES_PORT,
    password: secrets.superuserPassword,
    persistent: true,
    onLog: (message) => logger.trace({ scope: "postgres" }, message.trim()),
  });
  if (postgres.reused)
    logger.info({ port: postgres.port }, "using the embedded PostgreSQL already running on the data directory");
  const urls = databaseUrls(postgres.rootUrl, LOCAL_DATABASE_NAME, {
    owner: secrets.ownerPassword,
    authenticator: secrets.authenticatorPassword,
  });
  try {
    await provision(urls, { logger });
    if (await loadDemoDataIfEmpty(urls, secrets.demoPassword)) {
      logger.info("demo data loaded");
    } else if (addedToExisting.includes("demoPassword")) {
      await setDemoPassword(urls.owner, secrets.demoPassword);
      logger.info("demo logins now use this data directory's own password");
    }
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  return { urls, secrets, reused: postgres.reused, stop: () => postgres.stop() };
}
