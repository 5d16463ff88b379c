import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/**
 * The migration files shipped with this build, read without graphile-migrate:
 * the API server needs their names for its readiness probe, not the migration
 * runner (migrations.ts).
 */

/** The folder graphile-migrate reads: `committed/` plus `current.sql` or `current/`. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../migrations", import.meta.url));

/**
 * The committed migrations shipped with this build, named as graphile-migrate
 * records them once applied: `000001-some-message.sql` is `000001.sql`.
 */
export async function committedMigrationFiles(): Promise<string[]> {
  const files = await readdir(`${MIGRATIONS_FOLDER}/committed`).catch(() => []);
  return files
    .map((file) => /^(\d{6})(-[\w-]+)?\.sql$/.exec(file)?.[1])
    .filter((id): id is string => id !== undefined)
    .map((id) => `${id}.sql`)
    .sort();
}
