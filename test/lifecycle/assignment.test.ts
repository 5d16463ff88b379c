import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { beginWithSettings } from "../../src/database/request-transaction.ts";
import { actorSettings, testPool, useTestDatabase } from "../support/test-database.ts";
import {
  type Cast,
  codeOf,
  expectAssignmentInvariant,
  expectHistoryInvariant,
  makeTicket,
  makeUser,
  ROLE,
  rowsOf,
  runAs,
  standardCast,
} from "../support/fixtures.ts";

/**
 * assign_ticket, the deactivation/demotion rule and take_next_ticket — the
 * last one under real concurrency: many connections, many agents, many
 * tickets, each claimed exactly once without blocking.
 */
const database = useTestDatabase();
const as = (role: string, userId: string, sql: string, params: unknown[] = []) =>
  runAs(database.current.authenticator, role, userId, sql, params);
const people = {} as Cast & Record<"inactiveAgent", string>;

beforeAll(async () => {
  const owner = database.current.owner;
  Object.assign(people, await standardCast(owner));
  people.inactiveAgent = await makeUser(owner, "Inactive Agent", "agent", false);
});

describe("assign_ticket", () => {
  it("lets agents take only unassigned tickets, for themselves; admins assign any active agent", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "open");
    const assign = (role: string, actor: string, agent: string | null) =>
      as(role, actor, "select * from app_public.assign_ticket($1, $2)", [ticket.id, agent]);
    expect(codeOf(await assign(ROLE.customer, people.customer, people.agent))).toBe("TKFBD");
    expect(codeOf(await assign(ROLE.agent, people.agent, people.otherAgent))).toBe("TKFBD");
    expect(codeOf(await assign(ROLE.agent, people.agent, null))).toBe("TKFBD");
    expect(rowsOf(await assign(ROLE.agent, people.agent, people.agent))[0]).toMatchObject({
      agent_id: people.agent,
      status: "open",
    });
    expect(codeOf(await assign(ROLE.agent, people.otherAgent, people.otherAgent))).toBe("TKFBD");
    expect(codeOf(await assign(ROLE.admin, people.admin, people.customer))).toBe("TKVAL");
    expect(codeOf(await assign(ROLE.admin, people.admin, people.inactiveAgent))).toBe("TKVAL");
    expect(rowsOf(await assign(ROLE.admin, people.admin, people.otherAgent))[0]!.agent_id).toBe(people.otherAgent);
    rowsOf(
      await as(ROLE.agent, people.otherAgent, "select app_public.transition_ticket($1, 'in_progress')", [ticket.id]),
    );
    // Unassigning work in progress sends the ticket back to the queue.
    expect(rowsOf(await assign(ROLE.admin, people.admin, null))[0]).toMatchObject({ agent_id: null, status: "open" });

    const { rows } = await database.current.owner.query(
      "select from_agent_id, to_agent_id, changed_by from app_public.ticket_assignment_history where ticket_id = $1 order by changed_at, id",
      [ticket.id],
    );
    expect(rows).toEqual([
      { from_agent_id: null, to_agent_id: people.agent, changed_by: people.agent },
      { from_agent_id: people.agent, to_agent_id: people.otherAgent, changed_by: people.admin },
      { from_agent_id: people.otherAgent, to_agent_id: null, changed_by: people.admin },
    ]);
  });

  it("refuses admins, demoted and inactive agents as assignees; a no-op records nothing", async () => {
    const owner = database.current.owner;
    const ticket = await makeTicket(owner, people.customer, "open");
    const demoted = await makeUser(owner, "Demoted Assignee", "agent");
    await owner.query("update app_public.users set role = 'customer' where id = $1", [demoted]);
    const assign = (agent: string | null) =>
      as(ROLE.admin, people.admin, "select app_public.assign_ticket($1, $2)", [ticket.id, agent]);
    for (const target of [
      people.admin,
      demoted,
      people.inactiveAgent,
      people.customer,
      "00000000-0000-7000-8000-000000000000",
    ]) {
      expect(codeOf(await assign(target))).toBe("TKVAL");
    }
    const history = async () =>
      (
        await owner.query("select count(*)::int as n from app_public.ticket_assignment_history where ticket_id = $1", [
          ticket.id,
        ])
      ).rows[0].n;
    expect(codeOf(await assign(null))).toBe("ok");
    expect(await history()).toBe(0);
    expect(codeOf(await assign(people.agent))).toBe("ok");
    expect(codeOf(await assign(people.agent))).toBe("ok");
    expect(
      codeOf(await as(ROLE.agent, people.agent, "select app_public.assign_ticket($1, $2)", [ticket.id, people.agent])),
    ).toBe("ok");
    expect(await history()).toBe(1);
    // A stale agent token of a demoted user carries no agent rights.
    const open = await makeTicket(owner, people.customer, "open");
    expect(codeOf(await as(ROLE.agent, demoted, "select app_public.assign_ticket($1, $2)", [open.id, demoted]))).toBe(
      "TKFBD",
    );
  });

  it("refuses closed, unknown and invisible tickets", async () => {
    const closed = await makeTicket(database.current.owner, people.customer, "closed", people.agent);
    expect(
      codeOf(
        await as(ROLE.admin, people.admin, "select app_public.assign_ticket($1, $2)", [closed.id, people.otherAgent]),
      ),
    ).toBe("TKINV");
    expect(codeOf(await as(ROLE.admin, people.admin, "select app_public.assign_ticket(gen_random_uuid(), null)"))).toBe(
      "TKNTF",
    );
    const others = await makeTicket(database.current.owner, people.customer, "in_progress", people.otherAgent);
    expect(
      codeOf(await as(ROLE.agent, people.agent, "select app_public.assign_ticket($1, $2)", [others.id, people.agent])),
    ).toBe("TKNTF");
  });
});

describe("an agent who leaves keeps no tickets", () => {
  it.each([
    ["demoted", "update app_public.users set role = 'customer' where id = $1"],
    ["deactivated", "update app_public.users set is_active = false where id = $1"],
  ])("when %s, open work returns to the queue; closed tickets keep their agent", async (_how, change) => {
    const owner = database.current.owner;
    const leaving = await makeUser(owner, "Leaving", "agent");
    const make = (status: string) => makeTicket(owner, people.customer, status, leaving);
    const [working, waiting, resolved, closed, open] = await Promise.all(
      ["in_progress", "waiting_on_customer", "resolved", "closed", "open"].map(make),
    );
    // The change is made by an admin, so the histories name them.
    await runAs(owner, null, people.admin, change, [leaving]);
    const { rows } = await owner.query(
      "select id, status, agent_id from app_public.tickets where agent_id = $1 or id = any($2)",
      [leaving, [working!.id, waiting!.id, resolved!.id, closed!.id, open!.id]],
    );
    const byId = Object.fromEntries(rows.map((row) => [row.id, row]));
    expect(byId[working!.id]).toMatchObject({ status: "open", agent_id: null });
    expect(byId[waiting!.id]).toMatchObject({ status: "open", agent_id: null });
    expect(byId[resolved!.id]).toMatchObject({ status: "resolved", agent_id: null });
    expect(byId[open!.id]).toMatchObject({ status: "open", agent_id: null });
    expect(byId[closed!.id]).toMatchObject({ status: "closed", agent_id: leaving });
    const history = await owner.query(
      "select changed_by, note from app_public.ticket_status_history where ticket_id = $1 order by changed_at desc, id desc limit 1",
      [working!.id],
    );
    expect(history.rows[0].changed_by).toBe(people.admin);
    expect(history.rows[0].note).toMatch(/returned to the queue/);
    // Every released ticket records the change of assignee, by the admin.
    const released = await owner.query(
      "select ticket_id, to_agent_id, changed_by from app_public.ticket_assignment_history where from_agent_id = $1 order by ticket_id",
      [leaving],
    );
    expect(released.rows).toEqual(
      [working!.id, waiting!.id, resolved!.id, open!.id]
        .sort()
        .map((id) => ({ ticket_id: id, to_agent_id: null, changed_by: people.admin })),
    );
    await expectAssignmentInvariant(owner);
    expect(codeOf(await as(ROLE.agent, leaving, "select app_public.take_next_ticket()"))).toBe("TKFBD");
  });
});

describe("take_next_ticket", () => {
  it("is for active agents only, and gives the most urgent, oldest open ticket", async () => {
    expect(codeOf(await as(ROLE.customer, people.customer, "select app_public.take_next_ticket()"))).toBe("TKFBD");
    expect(codeOf(await as(ROLE.admin, people.admin, "select app_public.take_next_ticket()"))).toBe("TKFBD");
    await database.current.owner.query(
      "update app_public.tickets set agent_id = $1, status = 'in_progress' where status = 'open' and agent_id is null",
      [people.otherAgent],
    );
    const low = await makeTicket(database.current.owner, people.customer, "open", null, { priority: "low" });
    const firstUrgent = await makeTicket(database.current.owner, people.customer, "open", null, { priority: "urgent" });
    await makeTicket(database.current.owner, people.customer, "open", null, { priority: "urgent" });
    const [taken] = rowsOf(await as(ROLE.agent, people.agent, "select * from app_public.take_next_ticket()"));
    expect(taken).toMatchObject({ id: firstUrgent.id, status: "in_progress", agent_id: people.agent });
    rowsOf(await as(ROLE.agent, people.agent, "select * from app_public.take_next_ticket()"));
    const [last] = rowsOf(await as(ROLE.agent, people.agent, "select * from app_public.take_next_ticket()"));
    expect(last!.id).toBe(low.id);
    const [none] = rowsOf(await as(ROLE.agent, people.agent, "select (app_public.take_next_ticket()).id"));
    expect(none!.id).toBeNull();
  });

  it("only assigns the ticket when admins removed open -> in_progress from the workflow", async () => {
    const owner = database.current.owner;
    await owner.query("update app_public.tickets set status = 'closed' where status = 'open' and agent_id is null");
    const ticket = await makeTicket(owner, people.customer, "open", null, { priority: "urgent" });
    const removed = await as(
      ROLE.admin,
      people.admin,
      "delete from app_public.ticket_transitions where from_status = 'open' and to_status = 'in_progress' returning allowed_roles::text[] as roles",
    );
    const roles = rowsOf(removed)[0]!.roles as string[];
    try {
      const [taken] = rowsOf(await as(ROLE.agent, people.agent, "select * from app_public.take_next_ticket()"));
      expect(taken).toMatchObject({ id: ticket.id, status: "open", agent_id: people.agent });
      // Assigned, it has left the unassigned queue.
      const [none] = rowsOf(await as(ROLE.agent, people.otherAgent, "select (app_public.take_next_ticket()).id"));
      expect(none!.id).toBeNull();
    } finally {
      rowsOf(
        await as(
          ROLE.admin,
          people.admin,
          "insert into app_public.ticket_transitions values ('open', 'in_progress', $1)",
          [roles],
        ),
      );
    }
    await expectHistoryInvariant(owner);
  });

  it("does not block: a second agent gets another ticket while the first holds its claim open", async () => {
    await makeTicket(database.current.owner, people.customer, "open", null, { priority: "high" });
    await makeTicket(database.current.owner, people.customer, "open", null, { priority: "high" });
    const first = await database.current.authenticator.connect();
    const second = await database.current.authenticator.connect();
    try {
      const begin = async (client: pg.PoolClient, agent: string) => {
        await beginWithSettings(client, actorSettings({ role: ROLE.agent, userId: agent }));
        await client.query("set local lock_timeout = '2s'");
      };
      await begin(first, people.agent);
      await begin(second, people.otherAgent);
      const a = (await first.query("select id from app_public.take_next_ticket()")).rows[0].id;
      const b = (await second.query("select id from app_public.take_next_ticket()")).rows[0].id;
      expect(a).not.toBeNull();
      expect(b).not.toBeNull();
      expect(a).not.toBe(b);
    } finally {
      await first.query("rollback");
      await second.query("rollback");
      first.release();
      second.release();
    }
  });

  it("under concurrency, claims every ticket exactly once with no deadlock", { timeout: 60_000 }, async () => {
    const owner = database.current.owner;
    await owner.query(
      "update app_public.tickets set agent_id = $1, status = 'in_progress' where status = 'open' and agent_id is null",
      [people.otherAgent],
    );
    const TICKETS = 400;
    const AGENTS = 12;
    await owner.query(
      `insert into app_public.tickets (subject, customer_id, priority)
       select 'Load ' || n, $1, (array['low', 'normal', 'high', 'urgent'])[1 + n % 4]::app_public.ticket_priority
         from generate_series(1, $2::int) as n`,
      [people.customer, TICKETS],
    );
    const agents = await Promise.all(
      Array.from({ length: AGENTS }, (_, n) => makeUser(owner, `Load Agent ${n}`, "agent")),
    );
    const connections = testPool(database.current.urls.authenticator, AGENTS);
    const claims: { agent: string; ticket: string }[] = [];
    const errors: string[] = [];
    try {
      await Promise.all(
        agents.map(async (agent) => {
          for (;;) {
            const outcome = await runAs(
              connections,
              ROLE.agent,
              agent,
              "select id, agent_id from app_public.take_next_ticket()",
            );
            if (!outcome.ok) {
              errors.push(outcome.code);
              break;
            }
            const row = outcome.rows[0]!;
            if (row.id === null) break;
            expect(row.agent_id).toBe(agent);
            claims.push({ agent, ticket: row.id });
          }
        }),
      );
    } finally {
      await connections.end();
    }
    expect(errors).toEqual([]);
    expect(claims).toHaveLength(TICKETS);
    expect(new Set(claims.map((claim) => claim.ticket)).size).toBe(TICKETS);
    expect(new Set(claims.map((claim) => claim.agent)).size).toBeGreaterThan(1);
    const left = await owner.query(
      "select count(*)::int as n from app_public.tickets where status = 'open' and agent_id is null",
    );
    expect(left.rows[0].n).toBe(0);
    // Each claim wrote exactly one assignment and one status change, by its agent.
    const trail = await owner.query(
      `select t.id,
              (select count(*) from app_public.ticket_assignment_history as a
                where a.ticket_id = t.id and a.from_agent_id is null and a.to_agent_id = t.agent_id and a.changed_by = t.agent_id)::int as assigned,
              (select count(*) from app_public.ticket_assignment_history as a where a.ticket_id = t.id)::int as assignments,
              (select count(*) from app_public.ticket_status_history as h
                where h.ticket_id = t.id and h.from_status = 'open' and h.to_status = 'in_progress'
                  and h.changed_by = t.agent_id and h.note = 'Taken from the queue')::int as taken
         from app_public.tickets as t where t.subject like 'Load %'`,
    );
    expect(trail.rows).toHaveLength(TICKETS);
    expect(trail.rows.filter((row) => row.assigned !== 1 || row.assignments !== 1 || row.taken !== 1)).toEqual([]);
    await expectHistoryInvariant(owner);
    await expectAssignmentInvariant(owner);
  });
});
