import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeUser } from "../support/fixtures.ts";
import { bearer, startTestApi, type TestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { connect, createTicket, MY_TICKETS, Recorder } from "./realtime-helpers.ts";

/**
 * DATABASE_LISTEN_URL: the dispatcher LISTENs on a connection of its own to
 * that URL (straight to PostgreSQL when DATABASE_URL goes through a
 * transaction-mode pooler, docs/deploy.md), while events are still read and
 * checked on the API's pool. The pooler itself is in `npm run cluster:test`.
 */
const database = useTestDatabase();
let testApi: TestApi;
let port: number;

beforeAll(async () => {
  testApi = await startTestApi(database.current, { listenDatabaseUrl: database.current.urls.authenticator });
  port = (await testApi.api.listen()).port;
});

afterAll(async () => {
  await testApi?.api.close();
});

describe("DATABASE_LISTEN_URL", () => {
  it("LISTENs on its own connection, and subscribers hear events", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Listening Customer", "customer");
    const connection = connect(port, bearer(customer, "ticketing_customer"));
    try {
      const recorder = new Recorder(connection, MY_TICKETS);
      await recorder.ready();
      const { rows } = await db.root.query<{ application_name: string }>(
        `select application_name from pg_stat_activity
          where datname = current_database() and query ilike 'listen ticketing_events%'`,
      );
      expect(rows).toEqual([{ application_name: "ticketing-api-listen" }]);
      const ticketId = await createTicket(db, customer, "Heard on the listen connection");
      await recorder.untilCount(2);
      expect(recorder.events[1]).toMatchObject({ kind: "CREATED", ticketId });
    } finally {
      await connection.client.dispose();
    }
  });
});
