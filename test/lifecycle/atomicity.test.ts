import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { type Cast, codeOf, makeTicket, makeUser, ROLE, runAs, standardCast } from "../support/fixtures.ts";

/**
 * All or nothing: a lifecycle operation that fails after it has already
 * changed the ticket and written histories and audit rows leaves no trace.
 * The failure is injected by test-only triggers in this file's database that
 * fire last (after the history, assignment and audit triggers) on rows marked
 * by a magic subject, comment body or display name. Each case first runs the
 * same operation unmarked, to show what it writes when it succeeds.
 */
const database = useTestDatabase();
const api = useTestApi(database);
let people: Cast;
const EXPLODE = "Explode after the work is done";

beforeAll(async () => {
  const owner = database.current.owner;
  people = await standardCast(owner);
  await owner.query(`
    create function app_private.tg_test_explode() returns trigger
    language plpgsql as $$
    begin
      raise exception 'injected failure after % on %', tg_op, tg_table_name;
    end;
    $$;
    create trigger _999_test_explode after update on app_public.tickets
      for each row when (new.subject = '${EXPLODE}')
      execute function app_private.tg_test_explode();
    create trigger _999_test_explode after insert on app_public.ticket_comments
      for each row when (new.body = '${EXPLODE}')
      execute function app_private.tg_test_explode();
    create trigger _999_test_explode after update on app_public.users
      for each row when (new.display_name = '${EXPLODE}')
      execute function app_private.tg_test_explode();
  `);
});

/** Everything a lifecycle operation may write, as plain values. */
async function state() {
  const { rows } = await database.current.owner.query(`
    select (select jsonb_agg(to_jsonb(t) - 'search' order by t.id) from app_public.tickets as t) as tickets,
           (select jsonb_agg(to_jsonb(u) order by u.id) from app_public.users as u) as users,
           (select count(*) from app_public.ticket_status_history)::int as status_history,
           (select count(*) from app_public.ticket_assignment_history)::int as assignment_history,
           (select count(*) from app_public.ticket_comments)::int as comments,
           (select count(*) from app_private.audit_log)::int as audit`);
  return rows[0] as {
    tickets: unknown;
    users: unknown;
    status_history: number;
    assignment_history: number;
    comments: number;
    audit: number;
  };
}

type Counts = Partial<Record<"status_history" | "assignment_history" | "comments" | "audit", number>>;

/** Runs `operation` and returns how much each count grew. */
async function growth(operation: () => Promise<unknown>): Promise<Counts> {
  const before = await state();
  await operation();
  const after = await state();
  return {
    status_history: after.status_history - before.status_history,
    assignment_history: after.assignment_history - before.assignment_history,
    comments: after.comments - before.comments,
    audit: after.audit - before.audit,
  };
}

/** Runs `operation`, expects it to fail with the injected error, and nothing to have changed. */
async function expectNoTrace(operation: () => Promise<string>): Promise<void> {
  const before = await state();
  expect(await operation()).toBe("P0001");
  expect(await state()).toEqual(before);
}

const as = (role: string, userId: string, sql: string, params: unknown[] = []) =>
  runAs(database.current.authenticator, role, userId, sql, params);
const marked = (status: string, agent: string | null, priority: "low" | "urgent" = "low") =>
  makeTicket(database.current.owner, people.customer, status, agent, { subject: EXPLODE, priority });
const plain = (status: string, agent: string | null, priority: "low" | "urgent" = "low") =>
  makeTicket(database.current.owner, people.customer, status, agent, { priority });

describe("a lifecycle operation failing after its writes leaves nothing behind", () => {
  it("transition_ticket (status, timestamps, status history, audit)", async () => {
    const transition = (id: string) =>
      as(ROLE.agent, people.agent, "select app_public.transition_ticket($1, 'resolved', 'done')", [id]);
    const ok = await plain("in_progress", people.agent);
    expect(await growth(async () => expect(codeOf(await transition(ok.id))).toBe("ok"))).toMatchObject({
      status_history: 1,
      audit: 1,
    });
    const bad = await marked("in_progress", people.agent);
    await expectNoTrace(async () => codeOf(await transition(bad.id)));
  });

  it("assign_ticket, reassigning (agent, assignment history, audit)", async () => {
    const reassign = (id: string) =>
      as(ROLE.admin, people.admin, "select app_public.assign_ticket($1, $2)", [id, people.otherAgent]);
    const ok = await plain("in_progress", people.agent);
    expect(await growth(async () => expect(codeOf(await reassign(ok.id))).toBe("ok"))).toMatchObject({
      assignment_history: 1,
      audit: 1,
    });
    const bad = await marked("in_progress", people.agent);
    await expectNoTrace(async () => codeOf(await reassign(bad.id)));
  });

  it("assign_ticket, unassigning work in progress (agent, status, both histories, audit)", async () => {
    const unassign = (id: string) => as(ROLE.admin, people.admin, "select app_public.assign_ticket($1, null)", [id]);
    const ok = await plain("waiting_on_customer", people.agent);
    expect(await growth(async () => expect(codeOf(await unassign(ok.id))).toBe("ok"))).toMatchObject({
      status_history: 1,
      assignment_history: 1,
      audit: 1,
    });
    const bad = await marked("waiting_on_customer", people.agent);
    await expectNoTrace(async () => codeOf(await unassign(bad.id)));
  });

  it("take_next_ticket (claim, status, both histories, audit)", async () => {
    const take = () => as(ROLE.agent, people.agent, "select app_public.take_next_ticket()");
    await database.current.owner.query(
      "update app_public.tickets set status = 'closed' where status = 'open' and agent_id is null",
    );
    await plain("open", null, "urgent");
    expect(await growth(async () => expect(codeOf(await take())).toBe("ok"))).toMatchObject({
      status_history: 1,
      assignment_history: 1,
      audit: 1,
    });
    const bad = await marked("open", null, "urgent");
    await expectNoTrace(async () => codeOf(await take()));
    // The failed claim left the ticket at the head of the queue, unclaimed.
    const { rows } = await database.current.owner.query(
      "select status, agent_id from app_public.tickets where id = $1",
      [bad.id],
    );
    expect(rows[0]).toEqual({ status: "open", agent_id: null });
  });

  it("add_comment by the customer on a waiting ticket (comment, status, history, first response, audit)", async () => {
    const reply = (id: string, body: string) =>
      as(ROLE.customer, people.customer, "select app_public.add_comment($1, $2)", [id, body]);
    const ok = await plain("waiting_on_customer", people.agent);
    expect(await growth(async () => expect(codeOf(await reply(ok.id, "Here you go"))).toBe("ok"))).toMatchObject({
      comments: 1,
      status_history: 1,
      audit: 2,
    });
    const bad = await plain("waiting_on_customer", people.agent);
    await expectNoTrace(async () => codeOf(await reply(bad.id, EXPLODE)));
    const staff = await plain("in_progress", people.agent);
    await expectNoTrace(async () =>
      codeOf(await as(ROLE.agent, people.agent, "select app_public.add_comment($1, $2)", [staff.id, EXPLODE])),
    );
  });

  it("deactivating an agent (user, released tickets, both histories, audit)", async () => {
    const owner = database.current.owner;
    const deactivate = (id: string, name: string) =>
      runAs(
        owner,
        null,
        people.admin,
        "update app_public.users set is_active = false, display_name = $2 where id = $1",
        [id, name],
      );
    const leaving = await makeUser(owner, "Leaving Agent", "agent");
    await plain("in_progress", leaving);
    expect(await growth(async () => expect(codeOf(await deactivate(leaving, "Gone"))).toBe("ok"))).toMatchObject({
      status_history: 1,
      assignment_history: 1,
      audit: 2,
    });
    const staying = await makeUser(owner, "Staying Agent", "agent");
    await plain("in_progress", staying);
    await plain("waiting_on_customer", staying);
    await expectNoTrace(async () => codeOf(await deactivate(staying, EXPLODE)));
  });
});

describe("over GraphQL", () => {
  const TRANSITION = `mutation Move($ticketId: UUID!) {
    transitionTicket(input: { ticketId: $ticketId, toStatus: resolved, note: "done" }) { ticket { status } }
  }`;

  it("an unexpected failure is answered with a masked error and leaves no trace", async () => {
    const bad = await marked("in_progress", people.agent);
    const before = await state();
    const response = await graphql(
      api.current.request,
      TRANSITION,
      { ticketId: bad.id },
      bearer(people.agent, "ticketing_agent"),
    );
    expect(response.status).toBe(200);
    expect(response.body.data.transitionTicket).toBeNull();
    expect(response.body.errors).toHaveLength(1);
    expect(JSON.stringify(response.body)).not.toMatch(
      /injected|explode|trigger|app_p|select|update|P0001|\.ts:\d+|\.js:\d+/i,
    );
    expect(await state()).toEqual(before);
  });

  it.each([
    ["INVALID_TRANSITION", "agent", "open"],
    ["FORBIDDEN", "otherAgent", "open"],
    ["NOT_FOUND", "otherAgent", "in_progress"],
  ] as const)(
    "a refusal (%s for %s on a %s ticket) has a stable code, a clean message and no trace",
    async (code, who, status) => {
      // Nobody may resolve an open ticket in the seeded workflow; an open ticket is
      // visible to every agent (FORBIDDEN), another agent's work is not (NOT_FOUND).
      const ticket = await plain(status, people.agent);
      const before = await state();
      const response = await graphql(
        api.current.request,
        TRANSITION,
        { ticketId: ticket.id },
        bearer(people[who], "ticketing_agent"),
      );
      expect(response.body.data.transitionTicket).toBeNull();
      expect(response.body.errors[0].extensions).toEqual({ code });
      expect(response.body.errors[0].message).toMatch(/^[A-Z][^\n]{5,120}$/);
      expect(JSON.stringify(response.body)).not.toMatch(/TKINV|TKFBD|TKNTF|app_public|select|stack|\.ts:\d+/i);
      expect(await state()).toEqual(before);
    },
  );
});
