import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import {
  type Cast,
  codeOf,
  expectHistoryInvariant,
  makeTicket,
  makeUser,
  ROLE,
  rowsOf,
  runAs,
  standardCast,
} from "../support/fixtures.ts";

/**
 * transition_ticket against the seeded workflow: every (from, to, role)
 * combination, callers without rights, timestamps, history notes, and the
 * workflow as data.
 */
const database = useTestDatabase();
const as = (role: string, userId: string, sql: string, params: unknown[] = []) =>
  runAs(database.current.authenticator, role, userId, sql, params);

const STATUSES = ["open", "in_progress", "waiting_on_customer", "resolved", "closed"] as const;
const people = {} as Cast & Record<"deactivated" | "demoted", string>;
let workflow: { from: string; to: string; roles: string[] }[] = [];

beforeAll(async () => {
  const owner = database.current.owner;
  Object.assign(people, await standardCast(owner));
  people.deactivated = await makeUser(owner, "Gone", "customer", false);
  people.demoted = await makeUser(owner, "Demoted", "agent");
  await owner.query("update app_public.users set role = 'customer' where id = $1", [people.demoted]);
  const { rows } = await owner.query(
    "select from_status as from, to_status as to, allowed_roles::text[] as roles from app_public.ticket_transitions",
  );
  workflow = rows;
});

/** What the seeded workflow allows; leaving closed is the admins' alone whatever the rows say. */
function allowed(from: string, to: string, role: string): boolean {
  if (from === to) return false;
  if (from === "closed" && role !== "admin") return false;
  return workflow.some((row) => row.from === from && row.to === to && row.roles.includes(role));
}

const MATRIX = STATUSES.flatMap((from) =>
  STATUSES.flatMap((to) => (["customer", "agent", "admin"] as const).map((role) => [from, to, role] as const)),
);

describe("the seeded workflow, every (from, to, role)", () => {
  it("has the 12 documented moves", () => {
    expect(workflow).toHaveLength(12);
  });

  it.each(MATRIX)("%s -> %s by %s", async (from, to, role) => {
    const ticket = await makeTicket(database.current.owner, people.customer, from, people.agent);
    const outcome = await as(ROLE[role], people[role], "select * from app_public.transition_ticket($1, $2, 'a note')", [
      ticket.id,
      to,
    ]);
    if (!allowed(from, to, role)) {
      expect(codeOf(outcome)).toBe("TKINV");
      const { rows } = await database.current.owner.query("select status from app_public.tickets where id = $1", [
        ticket.id,
      ]);
      expect(rows[0].status).toBe(from);
      return;
    }
    const [moved] = rowsOf(outcome);
    expect(moved!.status).toBe(to);
    expect(moved!.closed_at !== null).toBe(to === "closed");
    if (to === "resolved") expect(moved!.resolved_at).not.toBeNull();
    if (to === "open" || to === "in_progress" || to === "waiting_on_customer") expect(moved!.resolved_at).toBeNull();
    const { rows } = await database.current.owner.query(
      "select from_status, to_status, changed_by, note from app_public.ticket_status_history where ticket_id = $1 order by changed_at desc, id desc limit 1",
      [ticket.id],
    );
    expect(rows[0]).toEqual({ from_status: from, to_status: to, changed_by: people[role], note: "a note" });
  });
});

describe("callers without rights on the ticket", () => {
  const MOVES = STATUSES.flatMap((from) => STATUSES.filter((to) => to !== from).map((to) => [from, to] as const));

  it.each(MOVES)(
    "%s -> %s: other customer, other agent, deactivated and demoted users are refused",
    async (from, to) => {
      const ticket = await makeTicket(database.current.owner, people.customer, from, people.agent);
      const call = (role: string, userId: string) =>
        as(role, userId, "select app_public.transition_ticket($1, $2)", [ticket.id, to]).then(codeOf);
      expect(await call(ROLE.customer, people.otherCustomer)).toBe("TKNTF");
      // An open ticket is visible to every agent, so the refusal says FORBIDDEN there.
      expect(await call(ROLE.agent, people.otherAgent)).toBe(from === "open" ? "TKFBD" : "TKNTF");
      expect(await call(ROLE.customer, people.deactivated)).toBe("TKFBD");
      expect(["TKFBD", "TKNTF"]).toContain(await call(ROLE.agent, people.demoted));
      const { rows } = await database.current.owner.query("select status from app_public.tickets where id = $1", [
        ticket.id,
      ]);
      expect(rows[0].status).toBe(from);
    },
  );
});

describe("rules beyond the table", () => {
  it("refuses unknown tickets, missing arguments and long notes", async () => {
    const unknown = "select app_public.transition_ticket(gen_random_uuid(), 'closed')";
    expect(codeOf(await as(ROLE.customer, people.customer, unknown))).toBe("TKNTF");
    expect(
      codeOf(await as(ROLE.customer, people.customer, "select app_public.transition_ticket(null, 'closed')")),
    ).toBe("TKVAL");
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    // The note's length is its history column's constraint, the one statement of that rule.
    const long = "select app_public.transition_ticket($1, 'resolved', repeat('x', 2001))";
    const refused = await as(ROLE.agent, people.agent, long, [ticket.id]);
    expect(codeOf(refused)).toBe("23514");
    expect(refused.ok ? "" : refused.message).toMatch(/ticket_status_history_note_length/);
  });

  it("does not start work on an unassigned ticket", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "open");
    const start = "select app_public.transition_ticket($1, 'in_progress')";
    expect(codeOf(await as(ROLE.admin, people.admin, start, [ticket.id]))).toBe("TKINV");
  });

  it("drops an assignee who is no longer an active agent when an admin reopens", async () => {
    const gone = await makeUser(database.current.owner, "Leaving Agent", "agent");
    const ticket = await makeTicket(database.current.owner, people.customer, "closed", gone);
    await database.current.owner.query("update app_public.users set is_active = false where id = $1", [gone]);
    const [reopened] = rowsOf(
      await as(ROLE.admin, people.admin, "select * from app_public.transition_ticket($1, 'open')", [ticket.id]),
    );
    expect(reopened).toMatchObject({ status: "open", agent_id: null, closed_at: null });
  });

  it("obeys workflow rows an admin adds and removes", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "resolved", people.agent);
    const move = "select app_public.transition_ticket($1, 'waiting_on_customer')";
    expect(codeOf(await as(ROLE.agent, people.agent, move, [ticket.id]))).toBe("TKINV");
    const add = "insert into app_public.ticket_transitions values ('resolved', 'waiting_on_customer', '{agent}')";
    expect(codeOf(await as(ROLE.admin, people.admin, add))).toBe("ok");
    expect(codeOf(await as(ROLE.agent, people.agent, move, [ticket.id]))).toBe("ok");
    const remove =
      "delete from app_public.ticket_transitions where from_status = 'resolved' and to_status = 'waiting_on_customer'";
    expect(codeOf(await as(ROLE.admin, people.admin, remove))).toBe("ok");
    await database.current.owner.query("update app_public.tickets set status = 'resolved' where id = $1", [ticket.id]);
    expect(codeOf(await as(ROLE.agent, people.agent, move, [ticket.id]))).toBe("TKINV");
    const selfLoop = "insert into app_public.ticket_transitions values ('open', 'open', '{agent}')";
    expect(codeOf(await as(ROLE.admin, people.admin, selfLoop))).toBe("23514");
  });

  it("keeps closed final for non-admins even when a workflow row says otherwise", async () => {
    const owner = database.current.owner;
    const ticket = await makeTicket(owner, people.customer, "closed", people.agent);
    const add = "insert into app_public.ticket_transitions values ('closed', 'resolved', '{customer,agent}')";
    const remove = "delete from app_public.ticket_transitions where from_status = 'closed' and to_status = 'resolved'";
    expect(codeOf(await as(ROLE.admin, people.admin, add))).toBe("ok");
    try {
      const reopen = (role: string, userId: string) =>
        as(role, userId, "select app_public.transition_ticket($1, 'resolved')", [ticket.id]).then(codeOf);
      expect(await reopen(ROLE.customer, people.customer)).toBe("TKINV");
      expect(await reopen(ROLE.agent, people.agent)).toBe("TKINV");
      // The row does not name admins, and admins follow the rows like everyone else.
      expect(await reopen(ROLE.admin, people.admin)).toBe("TKINV");
    } finally {
      expect(codeOf(await as(ROLE.admin, people.admin, remove))).toBe("ok");
    }
    const { rows } = await owner.query("select status from app_public.tickets where id = $1", [ticket.id]);
    expect(rows[0].status).toBe("closed");
  });

  it("lets only admins edit the workflow", async () => {
    const edits = [
      "insert into app_public.ticket_transitions values ('open', 'resolved', '{agent}')",
      "update app_public.ticket_transitions set allowed_roles = '{customer,agent,admin}' where from_status = 'open' and to_status = 'closed'",
      "delete from app_public.ticket_transitions where from_status = 'open' and to_status = 'closed'",
    ];
    for (const sql of edits) {
      expect(codeOf(await as(ROLE.customer, people.customer, sql))).toBe("42501");
      expect(codeOf(await as(ROLE.agent, people.agent, sql))).toBe("42501");
    }
    const { rows } = await database.current.owner.query(
      "select from_status as from, to_status as to, allowed_roles::text[] as roles from app_public.ticket_transitions",
    );
    expect(rows).toEqual(expect.arrayContaining(workflow));
    expect(rows).toHaveLength(workflow.length);
  });

  it("leaves nothing behind when a statement fails midway", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    const counts = async () =>
      (
        await database.current.owner.query(
          `select (select count(*) from app_private.audit_log)::int as audit,
                  (select count(*) from app_public.ticket_status_history)::int as history,
                  (select status from app_public.tickets where id = $1) as status`,
          [ticket.id],
        )
      ).rows[0];
    const before = await counts();
    const both =
      "select app_public.transition_ticket($1, 'resolved'), app_public.transition_ticket(gen_random_uuid(), 'closed')";
    expect(codeOf(await as(ROLE.agent, people.agent, both, [ticket.id]))).toBe("TKNTF");
    expect(await counts()).toEqual(before);
  });

  it("keeps the history invariant", async () => {
    await expectHistoryInvariant(database.current.owner);
  });
});
