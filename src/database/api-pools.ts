import pg from "pg";
import { limitsOf, type AppConfig } from "../config/app-config.ts";
import type { Logger } from "../observability/logger.ts";

/**
 * The API server's connection pools: the one requests and authentication
 * use, and the readiness probe's own.
 */

interface PoolOptions {
  max?: number;
  statementTimeoutMs?: number;
  applicationName?: string;
  /** Another URL than the API's (DATABASE_LISTEN_URL). */
  connectionString?: string;
}

/**
 * The API's pool. Its session `statement_timeout` bounds the API's own
 * queries (sign-in, refresh, sessions); request transactions set their
 * own per role (preset.ts). A request waits `poolWaitMs` at most for a
 * connection, then gets SERVICE_BUSY.
 */
export function createPool(config: AppConfig, logger: Logger, options: PoolOptions = {}): pg.Pool {
  const limits = limitsOf(config);
  const pool = new pg.Pool({
    connectionString: options.connectionString ?? config.databaseUrl,
    max: options.max ?? config.poolSize,
    connectionTimeoutMillis: limits.poolWaitMs,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? "ticketing-api",
    statement_timeout: options.statementTimeoutMs ?? limits.statementTimeoutMs,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", (error) => logger.warn({ err: error }, "idle database connection lost"));
  // Nor a checked-out one: pg-pool listens for errors only while a client is
  // idle, and PostGraphile holds clients between statements of a request. A
  // client that errs is not queryable any more; the pool discards it on release.
  pool.on("connect", (client) => {
    client.on("error", (error) => logger.warn({ err: error }, "database connection lost while in use"));
  });
  return pool;
}

/** Readiness checks get their own connection, so a pool saturated by slow requests does not read as "down". */
const READINESS_POOL: PoolOptions = { max: 1, statementTimeoutMs: 2_000, applicationName: "ticketing-api-readiness" };

export function createReadinessPool(config: AppConfig, logger: Logger): pg.Pool {
  return createPool(config, logger, READINESS_POOL);
}

/**
 * The realtime dispatcher's LISTEN connection, when DATABASE_LISTEN_URL names
 * one: straight to PostgreSQL, since a transaction-mode pooler (PgBouncer)
 * hands each transaction to any server connection and LISTEN needs a session
 * of its own. Undefined: the dispatcher listens on a connection of the API's pool.
 */
export function createListenPool(config: AppConfig, logger: Logger): pg.Pool | undefined {
  if (config.listenDatabaseUrl === undefined) return undefined;
  return createPool(config, logger, {
    max: 1,
    applicationName: "ticketing-api-listen",
    connectionString: config.listenDatabaseUrl,
  });
}
