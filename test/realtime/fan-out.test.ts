import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, useTestApi } from "../support/test-api.ts";
import { makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { connect, createTicket, Recorder, TICKET_CHANGED, type Connection } from "./realtime-helpers.ts";

/**
 * Many subscribers, few connections: 200 agents watch one open ticket, each
 * on their own websocket, while the API's pool has 4 connections. All share
 * one LISTEN connection; the database is used only briefly per event.
 */
const database = useTestDatabase();
const SUBSCRIBERS = 200;
// Every test socket comes from 127.0.0.1: room for all of them on one address.
const api = useTestApi(database, { websocketLimits: { maxSocketsPerAddress: SUBSCRIBERS + 10 } });

let port: number;
const connections: Connection[] = [];

beforeAll(async () => {
  port = (await api.current.api.listen()).port;
});

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.client.dispose()));
});

async function createAgents(count: number): Promise<string[]> {
  const { rows } = await database.current.owner.query<{ id: string }>(
    "insert into app_public.users (display_name, role) select 'Agent ' || n, 'agent' from generate_series(1, $1) as n returning id",
    [count],
  );
  return rows.map((row) => row.id);
}

async function apiConnections(): Promise<number> {
  const { rows } = await database.current.root.query<{ count: number }>(
    "select count(*)::int as count from pg_stat_activity where datname = current_database() and application_name = 'ticketing-api'",
  );
  return rows[0]!.count;
}

describe("fan-out", () => {
  it(`delivers one change to ${SUBSCRIBERS} concurrent subscribers`, { timeout: 60_000 }, async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Popular Customer", "customer");
    const ticketId = await createTicket(db, customer, "Everyone is watching");
    const agents = await createAgents(SUBSCRIBERS);

    const recorders = agents.map((agent) => {
      const connection = connect(port, bearer(agent, "ticketing_agent"));
      connections.push(connection);
      return new Recorder(connection, TICKET_CHANGED, { id: ticketId });
    });
    await Promise.all(recorders.map((recorder) => recorder.ready(30_000)));
    expect(recorders.every((recorder) => recorder.kinds().join() === "SUBSCRIBED")).toBe(true);
    // The pool bound holds: subscriptions do not each keep a database connection.
    expect(await apiConnections()).toBeLessThanOrEqual(4);

    const started = performance.now();
    rowsOf(
      await runAs(db.authenticator, ROLE.customer, customer, "select app_public.add_comment($1, 'Hello, everyone')", [
        ticketId,
      ]),
    );
    await Promise.all(recorders.map((recorder) => recorder.untilCount(2, 10_000)));
    const slowest = Math.max(...recorders.map((recorder) => recorder.arrivals[1]! - started));

    expect(recorders.every((recorder) => recorder.events[1]?.comment?.body === "Hello, everyone")).toBe(true);
    // Reported, not asserted: speed belongs to the benchmark. Delivery itself is
    // bounded by untilCount's 10 s deadline above.
    console.info(`fan-out: ${SUBSCRIBERS} subscribers received the event within ${Math.round(slowest)} ms`);
  });
});
