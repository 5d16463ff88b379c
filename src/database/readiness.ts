import type pg from "pg";

/**
 * Ready means: the database answers, and every committed migration shipped
 * with this build has been applied to it. Checked on each probe, so a
 * database that comes back makes the API ready again without a restart.
 */
export type Readiness = { ready: true } | { ready: false; reason: string };

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, milliseconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), milliseconds);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function checkReadiness(pool: pg.Pool, committedMigrations: readonly string[]): Promise<Readiness> {
  let applied: Set<string>;
  try {
    const { rows } = await withTimeout(
      pool.query<{ filename: string }>("select filename from graphile_migrate.migrations"),
      PROBE_TIMEOUT_MS,
    );
    applied = new Set(rows.map((row) => row.filename));
  } catch {
    return { ready: false, reason: "database unavailable" };
  }
  const pending = committedMigrations.filter((file) => !applied.has(file));
  if (pending.length > 0) return { ready: false, reason: `${pending.length} migration(s) pending` };
  return { ready: true };
}
