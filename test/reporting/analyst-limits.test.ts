import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAnalystLogin, type AnalystLogin } from "../../src/database/analyst-roles.ts";
import { migrationSettings, runCommittedMigrations } from "../../src/database/migrations.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { sqlState, useTestDatabase } from "../support/test-database.ts";
import { dropLogin, uniqueAnalystName } from "./analyst-session.ts";

/**
 * An analyst cannot get in the application's way: no advisory locks (so
 * never graphile-migrate's), a forgotten open transaction is ended by the
 * server, and a query waiting for a lock gives up instead of queueing. The
 * session timeouts are shortened here so the test need not wait a minute;
 * the defaults are checked in analyst-access.test.ts.
 */
const database = useTestDatabase();

/** graphile-migrate's lock key ("GRAPHILE MIGRATE" on a phone keypad). */
const MIGRATION_LOCK = "4727445306447283";

let login: AnalystLogin;
beforeAll(async () => {
  const root = await database.current.root.connect();
  try {
    login = await createAnalystLogin(root, {
      name: uniqueAnalystName(),
      databaseUrl: database.current.urls.owner,
      limits: { idleInTransactionSessionTimeout: "1s", lockTimeout: "300ms" },
    });
  } finally {
    root.release();
  }
});

afterAll(async () => {
  if (login) await dropLogin(database.current, login.role);
});

async function analystSession(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: login.connectionString });
  await client.connect();
  return client;
}

describe("advisory locks", () => {
  it("an analyst can take none of them, in any form", async () => {
    const analyst = await analystSession();
    try {
      for (const call of [
        `pg_try_advisory_lock(${MIGRATION_LOCK})`,
        `pg_advisory_lock(${MIGRATION_LOCK})`,
        `pg_advisory_lock_shared(${MIGRATION_LOCK})`,
        "pg_try_advisory_lock(1, 2)",
        "pg_advisory_xact_lock(1)",
        "pg_try_advisory_xact_lock_shared(1)",
      ]) {
        expect(await sqlState(() => analyst.query(`select ${call}`)), call).toBe("42501");
      }
    } finally {
      await analyst.end();
    }
  });

  it("the owner still can, so migrations run (graphile-migrate takes its lock)", async () => {
    const { rows } = await database.current.owner.query(`select pg_try_advisory_lock(${MIGRATION_LOCK}) as locked`);
    expect(rows[0].locked).toBe(true);
    await database.current.owner.query(`select pg_advisory_unlock_all()`);
    await runCommittedMigrations(
      migrationSettings({ ownerUrl: database.current.urls.owner, logger: createLogger("silent") }),
    );
  });
});

describe("session limits", () => {
  it("an analyst idle in a transaction is disconnected", async () => {
    const analyst = await analystSession();
    const ended = new Promise<string | undefined>((resolve) => {
      analyst.on("error", (error: Error & { code?: string }) => resolve(error.code));
      analyst.on("end", () => resolve(undefined));
    });
    await analyst.query("begin");
    await analyst.query("select count(*) from backlog");
    const code = await ended;
    // 25P03: idle_in_transaction_session_timeout (when the message arrives before the socket closes).
    expect([undefined, "25P03"]).toContain(code);
    const sessions = async () =>
      (
        await database.current.root.query(
          "select count(*)::int as n from pg_catalog.pg_stat_activity where usename = $1",
          [login.role],
        )
      ).rows[0].n;
    await vi.waitFor(async () => expect(await sessions()).toBe(0), { timeout: 5_000, interval: 200 });
    await analyst.end().catch(() => undefined);
  });

  it("an analyst query waiting for a lock gives up after lock_timeout instead of queueing", async () => {
    const owner = await database.current.owner.connect();
    const analyst = await analystSession();
    try {
      await owner.query("begin");
      await owner.query("lock table app_public.tickets in access exclusive mode");
      expect(await sqlState(() => analyst.query("select count(*) from tickets"))).toBe("55P03");
    } finally {
      await owner.query("rollback");
      owner.release();
      await analyst.end();
    }
  });
});
