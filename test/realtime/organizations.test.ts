import { beforeAll, describe, expect, it } from "vitest";
import { bearer, useTestApi } from "../support/test-api.ts";
import { addMember, makeOrganization, makeUser, ROLE, rowsOf, runAs, ticketIn } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  createTicket,
  MY_QUEUE,
  MY_TICKETS,
  MY_TICKETS_AFTER,
  Recorder,
  TICKET_CHANGED,
  useSockets,
} from "./realtime-helpers.ts";

/**
 * Subscriptions follow the organization visibility: a manager's and a sharing
 * member's myTicketsChanged include the organization's tickets, a cc'd
 * customer hears the ticket, another organization's member hears nothing, and
 * losing the membership or the cc stops delivery at once. "Nothing" is shown
 * without waiting: after the event in question, each subscriber's own ticket
 * changes too, and events arrive in order, so once that control event arrived
 * an earlier event it was due would have arrived first.
 */
const database = useTestDatabase();
const api = useTestApi(database);

let admin: string;
const sockets = useSockets(api);

beforeAll(async () => {
  admin = await makeUser(database.current.owner, "Ada Admin", "admin");
});

async function subscribeAs(userId: string, query: string, variables = {}) {
  const recorder = sockets.subscribe(userId, "customer", query, variables);
  await recorder.ready();
  expect(recorder.kinds()).toEqual(["SUBSCRIBED"]);
  return recorder;
}

const asAdmin = async (sql: string, params: unknown[]) =>
  rowsOf(await runAs(database.current.authenticator, ROLE.admin, admin, sql, params));

/**
 * A staff member's first public reply also meets the ticket's first-response
 * clock (SLA_MET, docs/business-hours.md), heard by the same subscribers; these
 * tests are about who hears a ticket's changes, so they look at the rest.
 */
const isSla = (kind: string | undefined) => kind?.startsWith("SLA_") ?? false;

describe("myTicketsChanged and organizations", () => {
  it("reaches the manager, the sharing member and the cc, not another organization; stops when sight is lost", async () => {
    const db = database.current;
    const acme = await makeOrganization(db.owner, "Realtime Acme");
    const globex = await makeOrganization(db.owner, "Realtime Globex");
    const people = {
      requester: await makeUser(db.owner, "Rita Requester", "customer"),
      manager: await makeUser(db.owner, "Mona Manager", "customer"),
      member: await makeUser(db.owner, "Milo Member", "customer"),
      cc: await makeUser(db.owner, "Cleo Copied", "customer"),
      outsider: await makeUser(db.owner, "Otto Outsider", "customer"),
    };
    await addMember(db.owner, acme, people.requester);
    await addMember(db.owner, acme, people.manager, "manager");
    await addMember(db.owner, acme, people.member, "member", true);
    await addMember(db.owner, acme, people.cc);
    await addMember(db.owner, globex, people.outsider, "manager", true);
    const shared = await createTicket(db, people.requester, "Shared printer");
    rowsOf(
      await runAs(
        db.authenticator,
        ROLE.customer,
        people.requester,
        "select app_public.add_ticket_participant($1, $2)",
        [shared, people.cc],
      ),
    );
    const listeners = ["manager", "member", "cc", "outsider"] as const;
    const own = Object.fromEntries(
      await Promise.all(listeners.map(async (who) => [who, await ticketIn(db.owner, people[who], "open")] as const)),
    );
    const recorders = Object.fromEntries(
      await Promise.all(listeners.map(async (who) => [who, await subscribeAs(people[who], MY_TICKETS)] as const)),
    );

    /**
     * Comments on the shared ticket, then on each listener's own ticket; waits for every control
     * event. Controls are counted without SLA events: the first reply also brings SLA_MET, which
     * would let round 2's wait end on round 1's events, before the shared comment arrived.
     */
    let round = 0;
    async function commentRound(): Promise<void> {
      round += 1;
      await asAdmin("select app_public.add_comment($1, $2)", [shared, `Shared update ${round}`]);
      for (const who of listeners)
        await asAdmin("select app_public.add_comment($1, $2)", [own[who], `Control ${round}`]);
      await Promise.all(
        listeners.map((who) =>
          recorders[who]!.until(
            () =>
              recorders[who]!.events.filter((event) => event.ticketId === own[who] && !isSla(event.kind)).length >=
              round,
            5_000,
            `control ${round} for ${who}`,
          ),
        ),
      );
    }
    const heardShared = (who: (typeof listeners)[number]) =>
      recorders[who]!.events.filter((event) => event.ticketId === shared && !isSla(event.kind)).length;

    await commentRound();
    expect(Object.fromEntries(listeners.map((who) => [who, heardShared(who)]))).toEqual({
      manager: 1,
      member: 1,
      cc: 1,
      outsider: 0,
    });
    expect(recorders.manager!.events.find((event) => event.ticketId === shared)?.comment?.body).toBe("Shared update 1");

    // The member leaves the organization, the cc is taken off: the next change reaches the manager only.
    await asAdmin("select app_public.remove_organization_member($1, $2)", [acme, people.member]);
    rowsOf(
      await runAs(
        db.authenticator,
        ROLE.customer,
        people.requester,
        "select app_public.remove_ticket_participant($1, $2)",
        [shared, people.cc],
      ),
    );
    const before = Object.fromEntries(listeners.map((who) => [who, heardShared(who)]));
    await commentRound();
    const after = Object.fromEntries(listeners.map((who) => [who, heardShared(who) - before[who]!]));
    expect(after).toEqual({ manager: 1, member: 0, cc: 0, outsider: 0 });
    for (const who of listeners) expect(recorders[who]!.errors).toEqual([]);
  });

  it("picks up sight gained after the subscription started (a cc, a shared membership), and drops it when lost", async () => {
    const db = database.current;
    const acme = await makeOrganization(db.owner, "Realtime Later Acme");
    const people = {
      requester: await makeUser(db.owner, "Lena Later", "customer"),
      cc: await makeUser(db.owner, "Carl Copied Later", "customer"),
      member: await makeUser(db.owner, "Mia Member Later", "customer"),
    };
    await addMember(db.owner, acme, people.requester);
    await addMember(db.owner, acme, people.cc);
    // A member without shared sight yet.
    await addMember(db.owner, acme, people.member);
    const shared = await createTicket(db, people.requester, "Seen later");
    const listeners = ["cc", "member"] as const;
    const own = Object.fromEntries(
      await Promise.all(listeners.map(async (who) => [who, await ticketIn(db.owner, people[who], "open")] as const)),
    );
    // Subscribed before any sight of the shared ticket.
    const recorders = Object.fromEntries(
      await Promise.all(listeners.map(async (who) => [who, await subscribeAs(people[who], MY_TICKETS)] as const)),
    );

    let round = 0;
    /**
     * A comment on the shared ticket, then on each listener's own ticket (the control; counted as
     * comments, since the first staff reply also brings SLA_MET); how many shared comments each heard.
     */
    async function commentRound(): Promise<Record<(typeof listeners)[number], number>> {
      round += 1;
      const before = Object.fromEntries(listeners.map((who) => [who, heardShared(who)]));
      await asAdmin("select app_public.add_comment($1, $2)", [shared, `Later update ${round}`]);
      for (const who of listeners)
        await asAdmin("select app_public.add_comment($1, $2)", [own[who], `Later control ${round}`]);
      await Promise.all(
        listeners.map((who) =>
          recorders[who]!.until(
            () =>
              recorders[who]!.events.filter((event) => event.ticketId === own[who] && event.kind === "COMMENTED")
                .length >= round,
            5_000,
            `control ${round} for ${who}`,
          ),
        ),
      );
      return { cc: heardShared("cc") - before.cc!, member: heardShared("member") - before.member! };
    }
    const heardShared = (who: (typeof listeners)[number]) =>
      recorders[who]!.events.filter((event) => event.ticketId === shared && event.kind === "COMMENTED").length;

    expect(await commentRound()).toEqual({ cc: 0, member: 0 });

    // Sight gained while subscribed: copied in by the requester; the membership given shared sight by an admin.
    rowsOf(
      await runAs(
        db.authenticator,
        ROLE.customer,
        people.requester,
        "select app_public.add_ticket_participant($1, $2)",
        [shared, people.cc],
      ),
    );
    await asAdmin("select app_public.add_organization_member($1, $2, 'member', true)", [acme, people.member]);
    expect(await commentRound()).toEqual({ cc: 1, member: 1 });
    expect(recorders.cc!.events.find((event) => event.ticketId === shared)?.comment?.body).toBe(
      `Later update ${round}`,
    );

    // Sight lost: the cc leaves on their own, the membership stops sharing sight.
    rowsOf(
      await runAs(db.authenticator, ROLE.customer, people.cc, "select app_public.remove_ticket_participant($1, $2)", [
        shared,
        people.cc,
      ]),
    );
    await asAdmin("select app_public.add_organization_member($1, $2, 'member', false)", [acme, people.member]);
    expect(await commentRound()).toEqual({ cc: 0, member: 0 });

    // And gained again, on the same subscriptions.
    rowsOf(
      await runAs(
        db.authenticator,
        ROLE.customer,
        people.requester,
        "select app_public.add_ticket_participant($1, $2)",
        [shared, people.cc],
      ),
    );
    await asAdmin("select app_public.add_organization_member($1, $2, 'manager', false)", [acme, people.member]);
    expect(await commentRound()).toEqual({ cc: 1, member: 1 });
    for (const who of listeners) expect(recorders[who]!.errors).toEqual([]);
  });

  it("a follower added after myQueueChanged started hears the ticket while they can read it, and nothing once it is in work for another agent", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Fay Followed", "customer");
    const assignee = await makeUser(db.owner, "Abe Assignee", "agent");
    const follower = await makeUser(db.owner, "Flo Follower", "agent");
    // Open but assigned to someone else: agents read open tickets, but it is in nobody's pool.
    const followed = await ticketIn(db.owner, customer, "open", assignee);
    const own = await ticketIn(db.owner, customer, "in_progress", follower);
    const connection = sockets.connect(bearer(follower, "ticketing_agent"));
    const queue = new Recorder(connection, MY_QUEUE);
    await queue.ready();
    expect(queue.kinds()).toEqual(["SUBSCRIBED"]);

    let round = 0;
    async function commentRound(): Promise<number> {
      round += 1;
      const before = queue.events.filter((event) => event.ticketId === followed && event.kind === "COMMENTED").length;
      await asAdmin("select app_public.add_comment($1, $2, true)", [followed, `Followed ${round}`]);
      await asAdmin("select app_public.add_comment($1, $2, true)", [own, `Own ${round}`]);
      await queue.until(
        () => queue.events.filter((event) => event.ticketId === own && event.kind === "COMMENTED").length >= round,
        5_000,
        `control ${round}`,
      );
      return queue.events.filter((event) => event.ticketId === followed && event.kind === "COMMENTED").length - before;
    }

    expect(await commentRound()).toBe(0);
    await asAdmin("select app_public.add_ticket_participant($1, $2, 'follower')", [followed, follower]);
    expect(await commentRound()).toBe(1);
    // Following is not sight: once the ticket is no longer open (and not theirs), the follower hears nothing.
    await db.owner.query("update app_public.tickets set status = 'in_progress' where id = $1", [followed]);
    expect(await commentRound()).toBe(0);
    expect(queue.errors).toEqual([]);
  });

  it("ticketChanged on an organization's ticket: heard by its manager, silent for a member without sight and another organization", async () => {
    const db = database.current;
    const acme = await makeOrganization(db.owner, "Realtime Ticket Acme");
    const globex = await makeOrganization(db.owner, "Realtime Ticket Globex");
    const requester = await makeUser(db.owner, "Rae Requester", "customer");
    const manager = await makeUser(db.owner, "Mel Manager", "customer");
    const blind = await makeUser(db.owner, "Bea Blind", "customer");
    const outsider = await makeUser(db.owner, "Oli Outsider", "customer");
    await addMember(db.owner, acme, requester);
    await addMember(db.owner, acme, manager, "manager");
    await addMember(db.owner, acme, blind);
    await addMember(db.owner, globex, outsider, "manager", true);
    const shared = await createTicket(db, requester, "Acme only");
    const forManager = await subscribeAs(manager, TICKET_CHANGED, { id: shared });
    // Each snoop watches the shared ticket and, on the same socket, their own: events reach a
    // socket in the order they were committed, so once their own ticket's event arrived, an
    // event of the shared ticket they were due would have arrived before it.
    const snoops = await Promise.all(
      [blind, outsider].map(async (userId) => {
        const own = await ticketIn(db.owner, userId, "open");
        const connection = sockets.connect(bearer(userId, "ticketing_customer"));
        const onShared = new Recorder(connection, TICKET_CHANGED, { id: shared });
        const onOwn = new Recorder(connection, TICKET_CHANGED, { id: own });
        await Promise.all([onShared.ready(), onOwn.ready()]);
        return { own, onShared, onOwn };
      }),
    );
    await asAdmin("select app_public.add_comment($1, 'For Acme')", [shared]);
    for (const snoop of snoops) await asAdmin("select app_public.add_comment($1, 'Control')", [snoop.own]);
    await forManager.untilCount(2);
    for (const snoop of snoops) {
      await snoop.onOwn.untilCount(2);
      expect(snoop.onShared.kinds()).toEqual(["SUBSCRIBED"]);
    }
    expect(forManager.kinds().filter((kind) => !isSla(kind))).toEqual(["SUBSCRIBED", "COMMENTED"]);
  });

  it("replays the organization's missed events to a manager resuming with after", async () => {
    const db = database.current;
    const acme = await makeOrganization(db.owner, "Realtime Resume Acme");
    const requester = await makeUser(db.owner, "Rex Requester", "customer");
    const manager = await makeUser(db.owner, "Max Manager", "customer");
    await addMember(db.owner, acme, requester);
    await addMember(db.owner, acme, manager, "manager");
    const ticket = await createTicket(db, requester, "Resume me");
    const first = await subscribeAs(manager, MY_TICKETS);
    const cursor = first.events[0]!.cursor;
    first.unsubscribe();
    await asAdmin("select app_public.add_comment($1, 'While you were away')", [ticket]);
    // A resume replays before SUBSCRIBED: the first event is the missed comment.
    const connection = sockets.connect(bearer(manager, "ticketing_customer"));
    const recorder = new Recorder(connection, MY_TICKETS_AFTER, { after: cursor });
    await recorder.live(5_000);
    expect(recorder.kinds().filter((kind) => !isSla(kind))).toEqual(["COMMENTED", "SUBSCRIBED"]);
    expect(recorder.events[0]?.ticketId).toBe(ticket);
  });
});
