import { describe, expect, it } from "vitest";
import { makeUser } from "../support/fixtures.ts";
import { useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { createTicket, MY_TICKETS, useSockets } from "./realtime-helpers.ts";

/**
 * The process's one LISTEN connection (realtime-dispatcher.ts): when it is
 * lost, events may have been missed, so every subscription ends with an
 * error; the next subscription listens again and hears what follows.
 */
const database = useTestDatabase();
const api = useTestApi(database);

const sockets = useSockets(api);

describe("the listening connection", () => {
  it("ends every subscription with an error when lost, and listens again for the next", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Interrupted Customer", "customer");
    const first = sockets.subscribe(customer, "customer", MY_TICKETS);
    const second = sockets.subscribe(customer, "customer", MY_TICKETS);
    await Promise.all([first.ready(), second.ready()]);

    const { rows } = await db.root.query<{ terminated: boolean }>(
      `select pg_terminate_backend(pid) as terminated from pg_stat_activity
        where datname = current_database() and query ilike 'listen ticketing_events%'`,
    );
    expect(rows).toEqual([{ terminated: true }]);
    await Promise.all(
      [first, second].map((recorder) => recorder.until(() => recorder.errors.length > 0, 5_000, "an error")),
    );
    expect([first.errors, second.errors]).toMatchObject([
      [{ extensions: { code: "SUBSCRIPTION_INTERRUPTED" } }],
      [{ extensions: { code: "SUBSCRIPTION_INTERRUPTED" } }],
    ]);

    const again = sockets.subscribe(customer, "customer", MY_TICKETS);
    await again.ready();
    expect(again.kinds()).toEqual(["SUBSCRIBED"]);
    const ticketId = await createTicket(db, customer, "After the interruption");
    await again.untilCount(2);
    expect(again.events[1]).toMatchObject({ kind: "CREATED", ticketId });
  });
});
