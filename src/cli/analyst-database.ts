import path from "node:path";
import pg from "pg";
import { ConfigurationError, parseEnvironment } from "../config/environment.ts";
import { loadLocalSecrets } from "../config/local-secrets.ts";
import { withClient } from "../database/cluster-setup.ts";
import { buildUrl, databaseName, withDatabase } from "../database/connection-urls.ts";
import { LOCAL_DATABASE_NAME, startLocalDatabase } from "../database/local-database.ts";
import { createLogger } from "../observability/logger.ts";

/**
 * Where analyst:create and analyst:drop work: ROOT_DATABASE_URL on the
 * database named in DATABASE_OWNER_URL (or DATABASE_URL), or, with no URL
 * set, the local embedded database — the running one of `npm start` when
 * there is one, else started for the command and stopped afterwards.
 */
export interface AnalystDatabase {
  /** Superuser connection to the analysts' database. */
  root: pg.Client;
  /** A URL of that database: host, port and options for analysts' connection strings. */
  databaseUrl: string;
}

async function onDatabase<T>(rootUrl: string, databaseUrl: string, work: (target: AnalystDatabase) => Promise<T>) {
  return withClient(withDatabase(rootUrl, databaseName(databaseUrl)), (root) => work({ root, databaseUrl }));
}

/** The embedded server of a running `npm start`, if it answers with this data directory's secrets. */
async function runningLocalUrls(dataDir: string, port: number): Promise<{ root: string; database: string } | undefined> {
  const secrets = await loadLocalSecrets(path.resolve(dataDir));
  const url = (database: string) =>
    buildUrl({ user: "postgres", password: secrets.superuserPassword, host: "127.0.0.1", port, database });
  const probe = new pg.Client({ connectionString: url(LOCAL_DATABASE_NAME), connectionTimeoutMillis: 2000 });
  try {
    await probe.connect();
    return { root: url("postgres"), database: url(LOCAL_DATABASE_NAME) };
  } catch {
    return undefined;
  } finally {
    await probe.end().catch(() => undefined);
  }
}

export async function withAnalystDatabase<T>(command: string, work: (target: AnalystDatabase) => Promise<T>): Promise<T> {
  const environment = parseEnvironment();
  const databaseUrl = environment.DATABASE_OWNER_URL ?? environment.DATABASE_URL;
  const rootUrl = environment.ROOT_DATABASE_URL;
  if (databaseUrl || rootUrl) {
    if (!rootUrl) throw new ConfigurationError(`Invalid configuration: ROOT_DATABASE_URL is required by ${command}`);
    if (!databaseUrl) {
      throw new ConfigurationError(`Invalid configuration: DATABASE_OWNER_URL or DATABASE_URL is required by ${command}`);
    }
    return onDatabase(rootUrl, databaseUrl, work);
  }
  const running = await runningLocalUrls(environment.DATA_DIR, environment.EMBEDDED_POSTGRES_PORT);
  if (running) return onDatabase(running.root, running.database, work);
  const local = await startLocalDatabase(environment, createLogger(environment.LOG_LEVEL === "info" ? "warn" : environment.LOG_LEVEL));
  try {
    return await onDatabase(local.urls.root, local.urls.owner, work);
  } finally {
    await local.stop();
  }
}
