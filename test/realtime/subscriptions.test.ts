import { beforeAll, describe, expect, it } from "vitest";
import { bearer, useTestApi } from "../support/test-api.ts";
import { makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { createTicket, MY_QUEUE, MY_TICKETS, Recorder, sleep, TICKET_CHANGED, useSockets } from "./realtime-helpers.ts";

/**
 * Subscriptions deliver each change, in order and within a second, to those
 * who may see it, and nothing to anyone else. "Nothing" is checked by waiting
 * 1.5 s after a control event reached someone else.
 */
const database = useTestDatabase();
const api = useTestApi(database);
const QUIET_MS = 1_500;

let admin: string;
const sockets = useSockets(api);

beforeAll(async () => {
  admin = await makeUser(database.current.owner, "Ada Admin", "admin");
});

async function subscribeAs(userId: string, role: "customer" | "agent" | "admin", query: string, variables = {}) {
  const recorder = sockets.subscribe(userId, role, query, variables);
  await recorder.ready();
  expect(recorder.kinds()).toEqual(["SUBSCRIBED"]);
  return recorder;
}

describe("ticketChanged", () => {
  it("tells the customer and the agent about each change, never the internal note to the customer", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Carla Customer", "customer");
    const agent = await makeUser(db.owner, "Arno Agent", "agent");
    const ticketId = await createTicket(db, customer, "Printer on fire");
    const forCustomer = await subscribeAs(customer, "customer", TICKET_CHANGED, { id: ticketId });
    const forAgent = await subscribeAs(agent, "agent", TICKET_CHANGED, { id: ticketId });

    rowsOf(
      await runAs(db.authenticator, ROLE.agent, agent, "select app_public.assign_ticket($1, $2)", [ticketId, agent]),
    );
    await Promise.all([forCustomer.untilCount(2), forAgent.untilCount(2)]);
    rowsOf(
      await runAs(
        db.authenticator,
        ROLE.agent,
        agent,
        "select app_public.add_comment($1, 'Customer seems angry', true)",
        [ticketId],
      ),
    );
    await forAgent.untilCount(3);
    // The first public reply also meets the first-response target (SLA_MET).
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, agent, "select app_public.add_comment($1, 'On my way')", [ticketId]),
    );
    await Promise.all([forCustomer.untilCount(4), forAgent.untilCount(5)]);
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, agent, "select app_public.transition_ticket($1, 'in_progress')", [
        ticketId,
      ]),
    );
    await Promise.all([forCustomer.untilCount(5), forAgent.untilCount(6)]);
    await sleep(QUIET_MS);

    expect(forAgent.kinds()).toEqual(["SUBSCRIBED", "ASSIGNED", "COMMENTED", "COMMENTED", "SLA_MET", "STATUS_CHANGED"]);
    expect(forAgent.events[2]?.comment).toMatchObject({ body: "Customer seems angry", isInternal: true });
    expect(forCustomer.kinds()).toEqual(["SUBSCRIBED", "ASSIGNED", "COMMENTED", "SLA_MET", "STATUS_CHANGED"]);
    expect(forCustomer.events[1]?.ticket).toMatchObject({ rowId: ticketId, agentId: agent, status: "open" });
    expect(forCustomer.events[2]?.comment).toMatchObject({ body: "On my way", isInternal: false });
    expect(forCustomer.events[4]?.ticket?.status).toBe("in_progress");
    expect(JSON.stringify(forCustomer.events)).not.toContain("angry");
    expect(forCustomer.errors).toEqual([]);
  });

  it("delivers nothing about another customer's ticket", async () => {
    const db = database.current;
    const owner = await makeUser(db.owner, "Olga Owner", "customer");
    const snoop = await makeUser(db.owner, "Sam Snoop", "customer");
    const ticketId = await createTicket(db, owner, "Private matter");
    const forOwner = await subscribeAs(owner, "customer", TICKET_CHANGED, { id: ticketId });
    const forSnoop = await subscribeAs(snoop, "customer", TICKET_CHANGED, { id: ticketId });

    rowsOf(
      await runAs(db.authenticator, ROLE.customer, owner, "select app_public.add_comment($1, 'Any news?')", [ticketId]),
    );
    await forOwner.untilCount(2);
    await sleep(QUIET_MS);

    expect(forOwner.kinds()).toEqual(["SUBSCRIBED", "COMMENTED"]);
    expect(forSnoop.kinds()).toEqual(["SUBSCRIBED"]);
  });
});

describe("myTicketsChanged", () => {
  it("tells each customer about their own tickets only", async () => {
    const db = database.current;
    const alice = await makeUser(db.owner, "Alice", "customer");
    const bob = await makeUser(db.owner, "Bob", "customer");
    const forAlice = await subscribeAs(alice, "customer", MY_TICKETS);
    const forBob = await subscribeAs(bob, "customer", MY_TICKETS);

    const aliceTicket = await createTicket(db, alice, "Alice's laptop");
    await forAlice.untilCount(2);
    rowsOf(
      await runAs(
        db.authenticator,
        ROLE.customer,
        alice,
        "update app_public.tickets set subject = 'Alice''s old laptop' where id = $1",
        [aliceTicket],
      ),
    );
    await forAlice.untilCount(3);
    const bobTicket = await createTicket(db, bob, "Bob's phone");
    await forBob.untilCount(2);
    await sleep(QUIET_MS);

    expect(forAlice.kinds()).toEqual(["SUBSCRIBED", "CREATED", "UPDATED"]);
    expect(forAlice.events.slice(1).map((event) => event.ticketId)).toEqual([aliceTicket, aliceTicket]);
    expect(forAlice.events[2]?.ticket?.subject).toBe("Alice's old laptop");
    expect(forBob.kinds()).toEqual(["SUBSCRIBED", "CREATED"]);
    expect(forBob.events[1]?.ticketId).toBe(bobTicket);
  });
});

describe("myQueueChanged", () => {
  it("follows the open pool and the agent's own tickets, and stops once a ticket is reassigned away", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Queue Customer", "customer");
    const first = await makeUser(db.owner, "First Agent", "agent");
    const second = await makeUser(db.owner, "Second Agent", "agent");
    const forFirst = await subscribeAs(first, "agent", MY_QUEUE);
    const forSecond = await subscribeAs(second, "agent", MY_QUEUE);

    // Open and unassigned: both agents see it in the pool.
    const ticketId = await createTicket(db, customer, "Cannot log in");
    await Promise.all([forFirst.untilCount(2), forSecond.untilCount(2)]);
    // The first agent claims it: still open, so the second agent still sees it.
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, first, "select app_public.assign_ticket($1, $2)", [ticketId, first]),
    );
    await Promise.all([forFirst.untilCount(3), forSecond.untilCount(3)]);
    // In progress with the first agent: the second agent no longer may see it.
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, first, "select app_public.transition_ticket($1, 'in_progress')", [
        ticketId,
      ]),
    );
    await forFirst.untilCount(4);
    // Reassigned to the second agent: now only they hear about it.
    rowsOf(
      await runAs(db.authenticator, ROLE.admin, admin, "select app_public.assign_ticket($1, $2)", [ticketId, second]),
    );
    await forSecond.untilCount(4);
    // The reply meets the first-response target too (SLA_MET).
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, second, "select app_public.add_comment($1, 'Reset your password')", [
        ticketId,
      ]),
    );
    await forSecond.untilCount(6);
    await sleep(QUIET_MS);

    expect(forFirst.kinds()).toEqual(["SUBSCRIBED", "CREATED", "ASSIGNED", "STATUS_CHANGED"]);
    expect(forSecond.kinds()).toEqual(["SUBSCRIBED", "CREATED", "ASSIGNED", "ASSIGNED", "COMMENTED", "SLA_MET"]);
    expect(forSecond.events[3]?.ticket).toMatchObject({ agentId: second, status: "in_progress" });
  });

  it("refuses customers and anonymous visitors", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Curious Customer", "customer");
    const asCustomer = sockets.connect(bearer(customer, "ticketing_customer"));
    const anonymous = sockets.connect();
    const customerQueue = new Recorder(asCustomer, MY_QUEUE);
    const anonymousTicket = new Recorder(anonymous, TICKET_CHANGED, { id: customer });
    await Promise.all([customerQueue.ready(), anonymousTicket.ready()]);

    expect(customerQueue.events).toEqual([]);
    expect(customerQueue.errors).toMatchObject([{ extensions: { code: "FORBIDDEN" } }]);
    expect(anonymousTicket.errors).toMatchObject([
      { message: "Sign in to subscribe", extensions: { code: "FORBIDDEN" } },
    ]);
  });
});
