import { describe, expect, it, vi } from "vitest";
import { bearer, countRequests, startTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * close() under load: requests already in flight finish with their answer,
 * new connections are refused, and close() returns once the pools are
 * closed. The in-flight requests are held by a table lock, so they are
 * really waiting on the database when close() is called.
 */
const database = useTestDatabase();

const TICKETS = "query Tickets { tickets(first: 5) { totalCount } }";

describe("graceful shutdown", () => {
  it("drains in-flight GraphQL requests, then refuses new ones", async () => {
    const { api } = await startTestApi(database.current, { poolSize: 4 });
    const { port } = await api.listen();
    const url = `http://127.0.0.1:${port}/graphql`;
    const { rows } = await database.current.owner.query<{ id: string }>(
      "select id from app_private.create_user_account('shutdown-admin@example.com', 'Admin', 'admin', 'x')",
    );
    const authorization = bearer(rows[0]!.id, "ticketing_admin");
    const call = () =>
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: authorization },
        body: JSON.stringify({ query: TICKETS }),
      }).then(async (response) => ({
        status: response.status,
        connection: response.headers.get("connection"),
        body: (await response.json()) as unknown,
      }));

    // The schema is built (introspection) before the lock is taken.
    expect((await call()).status).toBe(200);
    const locker = await database.current.owner.connect();
    let closing: Promise<void> | undefined;
    try {
      await locker.query("begin");
      await locker.query("lock table app_public.tickets in access exclusive mode");
      // More requests than pooled connections: some wait for the lock, some for a connection.
      // All ten must have reached the server before close(): a connection still in the
      // listen backlog when the server stops accepting is reset, which is not a request in flight.
      const received = countRequests(api.server);
      const inFlight = Array.from({ length: 10 }, call);
      await vi.waitFor(
        async () => {
          expect(received()).toBe(10);
          const { rows: waiting } = await database.current.root.query<{ count: number }>(
            "select count(*)::int as count from pg_stat_activity where application_name = 'ticketing-api' and wait_event_type = 'Lock'",
          );
          expect(waiting[0]!.count).toBeGreaterThanOrEqual(4);
        },
        { timeout: 10_000, interval: 50 },
      );
      closing = api.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await locker.query("commit");
      const answers = await Promise.all(inFlight);
      for (const answer of answers) {
        // Each answer also closes its keep-alive connection, so close() need not wait for idle timeouts.
        expect(answer).toEqual({ status: 200, connection: "close", body: { data: { tickets: { totalCount: 0 } } } });
      }
      await closing;
    } finally {
      await locker.query("rollback").catch(() => undefined);
      locker.release();
      if (!closing) await api.close();
    }
    await expect(call()).rejects.toThrow();
  });
});
