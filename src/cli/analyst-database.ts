import type pg from "pg";
import { environmentFor } from "../config/command-inputs.ts";
import { ConfigurationError } from "../config/environment.ts";
import { withClient } from "../database/cluster-setup.ts";
import { databaseName, withDatabase } from "../database/connection-urls.ts";
import { startLocalDatabase } from "../database/local-database.ts";
import { commandLogger } from "./run-cli.ts";

/**
 * Where analyst:create and analyst:drop work: ROOT_DATABASE_URL on the
 * database named in DATABASE_OWNER_URL (or DATABASE_URL), or, with no URL
 * set outside production, the local embedded database (shared with a
 * running `npm start`, or started for the command and stopped afterwards).
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

export async function withAnalystDatabase<T>(
  command: "analyst:create" | "analyst:drop",
  work: (target: AnalystDatabase) => Promise<T>,
): Promise<T> {
  const environment = environmentFor(command);
  const databaseUrl = environment.DATABASE_OWNER_URL ?? environment.DATABASE_URL;
  const rootUrl = environment.ROOT_DATABASE_URL;
  if (databaseUrl || rootUrl) {
    if (!rootUrl) throw new ConfigurationError(`Invalid configuration: ROOT_DATABASE_URL is required by ${command}`);
    if (!databaseUrl) {
      throw new ConfigurationError(
        `Invalid configuration: DATABASE_OWNER_URL or DATABASE_URL is required by ${command}`,
      );
    }
    return onDatabase(rootUrl, databaseUrl, work);
  }
  const local = await startLocalDatabase(
    environment,
    commandLogger(environment.LOG_LEVEL === "info" ? "warn" : environment.LOG_LEVEL),
  );
  try {
    return await onDatabase(local.urls.root, local.urls.owner, work);
  } finally {
    await local.stop();
  }
}
