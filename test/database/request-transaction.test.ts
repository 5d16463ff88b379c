import { describe, expect, it } from "vitest";
import { inRequestTransaction } from "../../src/database/request-transaction.ts";
import { pgSettingsFor } from "../../src/database/web-roles.ts";
import { makeUser } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";

const database = useTestDatabase();

const WHO_AM_I = `select current_user as role,
        current_setting('jwt.claims.user_id', true) as user_id,
        current_setting('jwt.claims.role', true) as claimed_role,
        (select setting from pg_settings where name = 'statement_timeout') as statement_timeout`;

describe("inRequestTransaction", () => {
  it("acts as a signed-in user with the API's own settings: role, claims and statement timeout", async () => {
    const userId = await makeUser(database.current.owner, "Request Customer", "customer");
    const claims = { userId, role: "ticketing_customer" as const };
    const seen = await inRequestTransaction(
      database.current.authenticator,
      claims,
      async (client) => (await client.query(WHO_AM_I)).rows[0],
    );
    const settings = pgSettingsFor(claims);
    expect(seen).toEqual({
      role: settings.role,
      user_id: settings["jwt.claims.user_id"],
      claimed_role: settings["jwt.claims.role"],
      statement_timeout: settings.statement_timeout,
    });
  });

  it("acts as the anonymous role with the anonymous timeout when there are no claims", async () => {
    const seen = await inRequestTransaction(
      database.current.authenticator,
      undefined,
      async (client) => (await client.query(WHO_AM_I)).rows[0],
    );
    expect(seen.role).toBe("ticketing_anonymous");
    expect(seen.statement_timeout).toBe(pgSettingsFor(undefined).statement_timeout);
  });

  it("uses the timeouts it is given", async () => {
    const timeouts = { anonymousMs: 1_234, signedInMs: 5_678 };
    const seen = await inRequestTransaction(
      database.current.authenticator,
      undefined,
      async (client) => (await client.query(WHO_AM_I)).rows[0],
      { timeouts },
    );
    expect(seen.statement_timeout).toBe("1234");
  });

  it("keeps the settings local to the transaction on a client it was handed", async () => {
    const client = await database.current.authenticator.connect();
    try {
      await inRequestTransaction(client, undefined, (c) => c.query("select 1"));
      const { rows } = await client.query(
        "select current_user as role, current_setting('statement_timeout') as timeout",
      );
      expect(rows[0]).toEqual({ role: "ticketing_authenticator", timeout: "0" });
    } finally {
      client.release();
    }
  });

  it("commits by default, rolls back when asked, and rolls back and rethrows on failure", async () => {
    const userId = await makeUser(database.current.owner, "Request Filer", "customer");
    const claims = { userId, role: "ticketing_customer" as const };
    const file = (subject: string) => (client: { query: (sql: string, values: unknown[]) => Promise<unknown> }) =>
      client.query("insert into app_public.tickets (subject) values ($1)", [subject]);
    await inRequestTransaction(database.current.authenticator, claims, file("kept"));
    await inRequestTransaction(database.current.authenticator, claims, file("looked at"), { ending: "rollback" });
    const failure = inRequestTransaction(database.current.authenticator, claims, async (client) => {
      await file("half done")(client);
      await client.query("select 1 / 0");
    });
    await expect(failure).rejects.toMatchObject({ code: "22012" });
    const { rows } = await database.current.owner.query(
      "select subject from app_public.tickets where customer_id = $1",
      [userId],
    );
    expect(rows).toEqual([{ subject: "kept" }]);
  });

  it("returns the pool's client after a failure", async () => {
    const pool = database.current.authenticator;
    for (let i = 0; i < 8; i += 1) {
      await expect(inRequestTransaction(pool, undefined, (client) => client.query("select 1 / 0"))).rejects.toThrow();
    }
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });
});
