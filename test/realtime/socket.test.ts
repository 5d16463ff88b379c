import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { bearer, startTestApi, useTestApi } from "../support/test-api.ts";
import { makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  connect,
  createTicket,
  MY_QUEUE,
  MY_TICKETS,
  Recorder,
  TICKET_CHANGED,
  tokenExpiringIn,
  useSockets,
} from "./realtime-helpers.ts";

/** The websocket itself: tokens, expiry, deactivation, limits, metrics and shutdown. */
const database = useTestDatabase();
const api = useTestApi(database);

let admin: string;
let customer: string;
let ticketId: string;
const sockets = useSockets(api);

beforeAll(async () => {
  admin = await makeUser(database.current.owner, "Socket Admin", "admin");
  customer = await makeUser(database.current.owner, "Socket Customer", "customer");
  ticketId = await createTicket(database.current, customer, "Socket ticket");
});

describe("tokens on the socket", () => {
  it.each([
    [
      "a forged signature",
      () => `Bearer ${tokenExpiringIn(customer, "ticketing_customer", 600, "another-secret-that-is-32-bytes-long!!")}`,
    ],
    ["an expired token", () => `Bearer ${tokenExpiringIn(customer, "ticketing_customer", -10)}`],
    ["a non-bearer value", () => "Basic dXNlcjpwYXNz"],
    ["garbage", () => "Bearer not.a.jwt"],
  ])("closes the socket with 4401 for %s", async (_label, authorization) => {
    const connection = sockets.connect(authorization());
    const recorder = new Recorder(connection, TICKET_CHANGED, { id: ticketId });
    const closed = await connection.closed;

    expect(closed).toEqual({ code: 4401, reason: "Invalid or expired access token" });
    expect(recorder.events).toEqual([]);
  });

  it("closes the socket with 4401 when the token expires during a subscription", async () => {
    // A first subscription waits for the API's schema; this one must not spend its token on that.
    const warm = new Recorder(sockets.connect(bearer(customer, "ticketing_customer")), TICKET_CHANGED, {
      id: ticketId,
    });
    await warm.ready();
    const connection = sockets.connect(`Bearer ${tokenExpiringIn(customer, "ticketing_customer", 4)}`);
    const recorder = new Recorder(connection, TICKET_CHANGED, { id: ticketId });
    await recorder.ready();
    expect(recorder.kinds()).toEqual(["SUBSCRIBED"]);

    const closed = await connection.closed;
    expect(closed).toEqual({ code: 4401, reason: "Access token expired" });
  });

  it("ends the subscriptions of a user who is deactivated", async () => {
    const db = database.current;
    const agent = await makeUser(db.owner, "Leaving Agent", "agent");
    const queue = new Recorder(sockets.connect(bearer(agent, "ticketing_agent")), MY_QUEUE);
    await queue.ready();

    rowsOf(await runAs(db.authenticator, ROLE.admin, admin, "select app_public.deactivate_user($1)", [agent]));
    await queue.until(() => queue.completed, 1_000, "completion");
    expect(queue.kinds()).toEqual(["SUBSCRIBED"]);

    // A token still within its lifetime opens nothing for a deactivated user.
    const again = new Recorder(sockets.connect(bearer(agent, "ticketing_agent")), MY_QUEUE);
    await again.until(() => again.completed, 2_000, "completion");
    expect(again.events).toEqual([]);
  });

  it("ends the subscriptions of a user whose role changed", async () => {
    const db = database.current;
    const promoted = await makeUser(db.owner, "Promoted Customer", "customer");
    const mine = new Recorder(sockets.connect(bearer(promoted, "ticketing_customer")), MY_TICKETS);
    await mine.ready();

    rowsOf(
      await runAs(db.authenticator, ROLE.admin, admin, "select app_public.set_user_role($1, 'agent')", [promoted]),
    );
    await mine.until(() => mine.completed, 1_000, "completion");
  });
});

describe("limits and metrics", () => {
  it("allows 20 subscriptions per connection and refuses the 21st", async () => {
    const connection = sockets.connect(bearer(customer, "ticketing_customer"));
    const recorders = Array.from({ length: 20 }, () => new Recorder(connection, TICKET_CHANGED, { id: ticketId }));
    await Promise.all(recorders.map((recorder) => recorder.ready()));
    expect(recorders.every((recorder) => recorder.kinds().join() === "SUBSCRIBED")).toBe(true);

    const extra = new Recorder(connection, TICKET_CHANGED, { id: ticketId });
    await extra.ready();
    expect(extra.errors).toMatchObject([{ extensions: { code: "TOO_MANY_SUBSCRIPTIONS" } }]);

    // The refused one does not disturb the others, and a freed slot can be reused.
    recorders[0]!.unsubscribe();
    const reused = new Recorder(connection, TICKET_CHANGED, { id: ticketId });
    await reused.ready();
    expect(reused.kinds()).toEqual(["SUBSCRIBED"]);
  });

  it("counts open subscriptions in /metrics", async () => {
    const gauge = async () => {
      const text = (await api.current.request.get("/metrics")).text;
      return Number(/^graphql_subscriptions_active (\d+)$/m.exec(text)?.[1]);
    };
    // Sockets of earlier tests close asynchronously.
    await expect.poll(gauge, { timeout: 2_000 }).toBe(0);
    const before = 0;
    const connection = sockets.connect(bearer(customer, "ticketing_customer"));
    const recorders = [
      new Recorder(connection, TICKET_CHANGED, { id: ticketId }),
      new Recorder(connection, MY_TICKETS),
    ];
    await Promise.all(recorders.map((recorder) => recorder.ready()));
    expect(await gauge()).toBe(before + 2);

    await connection.client.dispose();
    await expect.poll(gauge, { timeout: 1_000 }).toBe(before);
  });
});

describe("shutdown", () => {
  it("closes open sockets with 1001 and stops promptly", async () => {
    const { api: server } = await startTestApi(database.current);
    const { port: ownPort } = await server.listen();
    const subscribed = connect(ownPort, bearer(customer, "ticketing_customer"));
    const recorder = new Recorder(subscribed, TICKET_CHANGED, { id: ticketId });
    await recorder.ready();
    // A socket that was acknowledged but never sent an operation must not hold the server open either.
    const idle = new WebSocket(`ws://127.0.0.1:${ownPort}/graphql`, "graphql-transport-ws");
    const idleClosed = new Promise((resolve) => idle.once("close", resolve));
    await new Promise((resolve) => idle.once("open", resolve));
    idle.send(JSON.stringify({ type: "connection_init" }));
    await new Promise((resolve) => idle.once("message", resolve));

    const started = performance.now();
    await server.close();
    // Well under the 10 s grace period close() would otherwise wait for held sockets.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await subscribed.closed).toMatchObject({ code: 1001, reason: "Server shutting down" });
    await idleClosed;
  });
});
