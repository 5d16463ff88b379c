import { Logger, migrate, watch, type Settings } from "graphile-migrate";
// Internal but stable: see releaseMigrationPools.
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import type { Logger as AppLogger } from "../observability/logger.ts";
import { installJobQueueSchema } from "../worker/job-queue-schema.ts";
import { MIGRATIONS_FOLDER } from "./migration-files.ts";

export const DATABASE_OWNER_ROLE = "ticketing_owner";

/**
 * How long a migration statement waits for a lock before it fails (SQLSTATE
 * 55P03, "canceling statement due to lock timeout") and the whole migration
 * rolls back. Without it an ALTER TABLE queued behind a long transaction
 * would wait forever while every query on that table queues behind it.
 * Retry the migration when the database is quieter, or raise this value.
 */
export const MIGRATION_LOCK_TIMEOUT = "5s";

/**
 * What `db:dev -- commit` leaves in migrations/current/ (next to its
 * README.md, which it keeps): one file with a short reminder instead of
 * graphile-migrate's `-- Enter migration here`. Comments alone apply nothing.
 */
export const CURRENT_MIGRATION_TEMPLATE = `--! split: 100-next.sql
-- The next migration: add statements here, or in more NNN-name.sql files of
-- this folder (see README.md here and docs/extending.md). \`npm run db:dev --
-- watch\` re-runs the folder on every save, so write statements that can run
-- twice: create or replace, drop … if exists, create … if not exists.
`;

/** Routes graphile-migrate's messages into the application's log. */
function migrationLogger(logger: AppLogger): Logger {
  return new Logger(() => (level, message) => {
    if (level === "error") logger.error({ scope: "migrate" }, message);
    else if (level === "warning") logger.warn({ scope: "migrate" }, message);
    else logger.debug({ scope: "migrate" }, message);
  });
}

export function migrationSettings(options: {
  ownerUrl: string;
  rootUrl?: string;
  shadowUrl?: string;
  logger: AppLogger;
}): Settings {
  return {
    connectionString: options.ownerUrl,
    ...(options.rootUrl ? { rootConnectionString: options.rootUrl } : {}),
    ...(options.shadowUrl ? { shadowConnectionString: options.shadowUrl } : {}),
    databaseOwner: DATABASE_OWNER_ROLE,
    migrationsFolder: MIGRATIONS_FOLDER,
    // Set on every connection graphile-migrate opens, before any migration runs.
    pgSettings: { lock_timeout: MIGRATION_LOCK_TIMEOUT },
    blankMigrationContent: CURRENT_MIGRATION_TEMPLATE,
    logger: migrationLogger(options.logger),
  };
}

/**
 * graphile-migrate keeps its pools for a moment after use and exits the
 * process if one of them loses its connection; a server process must not
 * die because its database restarted right after start-up, and a command
 * must close them before it stops the local server, so the pools are closed
 * as soon as migrating is done.
 */
export function releaseMigrationPools(): void {
  clearAllPools();
}

/**
 * graphile-migrate refuses at once when another process holds its migration
 * lock; two local commands started together (`npm start` and `db:dev`) both
 * migrate the shared database, so the second waits its turn instead.
 */
const LOCK_WAIT_MS = 30_000;

async function migrateWhenUnlocked(settings: Settings): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      return await migrate(settings);
    } catch (error) {
      if (!/Failed to get exclusive lock/.test((error as Error).message) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Applies pending committed migrations, then the job queue's schema, as the owner. */
export async function runCommittedMigrations(settings: Settings): Promise<void> {
  try {
    await migrateWhenUnlocked(settings);
  } finally {
    releaseMigrationPools();
  }
  if (settings.connectionString) await installJobQueueSchema(settings.connectionString);
}

/**
 * Applies the work-in-progress migration (`migrations/current*`) once, on top
 * of the committed ones. Development and tests only; production runs
 * committed migrations alone.
 */
export async function runCurrentMigration(settings: Settings): Promise<void> {
  try {
    await watch(settings, true);
  } finally {
    releaseMigrationPools();
  }
}
