import { run } from "graphile-migrate";
// The pools graphile-migrate keeps after `run`; closed here as src/database/migrations.ts does.
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATION_LOCK_TIMEOUT, migrationSettings } from "../../src/database/migrations.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * A migration waits a bounded time for locks: behind a long transaction its
 * ALTER TABLE fails with lock_timeout (55P03) instead of queueing forever
 * while every query on the table queues behind it.
 */
const database = useTestDatabase();

afterAll(() => {
  clearAllPools();
});

function settings() {
  return migrationSettings({ ownerUrl: database.current.urls.owner, logger: createLogger("silent") });
}

describe("migration lock timeout", () => {
  it("is set on the connections migrations run on", async () => {
    const rows = await run<{ lock_timeout: string }>(
      settings(),
      "select current_setting('lock_timeout') as lock_timeout",
      "lock-timeout-probe.sql",
    );
    expect(rows?.[0]?.lock_timeout).toBe(MIGRATION_LOCK_TIMEOUT);
  });

  it("fails a migration that waits for a lock held by a long transaction, leaving nothing behind", async () => {
    const holder = await database.current.owner.connect();
    try {
      // An open transaction that read the table: ALTER TABLE needs it to end first.
      await holder.query("begin");
      await holder.query("select count(*) from app_public.tickets");
      const started = Date.now();
      const failure = await run(
        settings(),
        "alter table app_public.tickets add column lock_probe text",
        "lock-probe.sql",
      ).then(
        () => undefined,
        (error: { code?: string }) => error,
      );
      const waitedMs = Date.now() - started;
      expect(failure?.code).toBe("55P03");
      // It waited for the lock (never less than the timeout) but gave up on its own.
      expect(waitedMs).toBeGreaterThanOrEqual(4_500);
      expect(waitedMs).toBeLessThan(30_000);
    } finally {
      await holder.query("rollback");
      holder.release();
    }
    const { rows } = await database.current.owner.query(
      "select 1 from information_schema.columns where table_schema = 'app_public' and table_name = 'tickets' and column_name = 'lock_probe'",
    );
    expect(rows).toHaveLength(0);
  });
});
