import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import {
  expectAssignmentInvariant,
  expectHistoryInvariant,
  makeTicket,
  makeUser,
  ROLE,
  runAs,
} from "../support/fixtures.ts";
import { seededRandom } from "../support/seeded-random.ts";

/**
 * Property-style: a long random sequence of operations by many users, from
 * a fixed seed so any failure replays exactly. Afterwards the audit
 * invariants hold, and every refused operation changed nothing.
 */
const database = useTestDatabase();
const SEED = 20_261_126;
const OPERATIONS = 1_200;
const STATUSES = ["open", "in_progress", "waiting_on_customer", "resolved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];

async function snapshot(ticketId: string) {
  const { rows } = await database.current.owner.query(
    `select t.status, t.agent_id, t.priority, t.updated_at,
            (select count(*) from app_public.ticket_status_history as h where h.ticket_id = t.id)::int as history,
            (select count(*) from app_public.ticket_comments as c where c.ticket_id = t.id)::int as comments,
            -- A refused operation writes nothing anywhere, not only on this ticket.
            (select count(*) from app_public.tickets)::int as all_tickets,
            (select count(*) from app_public.ticket_status_history)::int as all_status_history,
            (select count(*) from app_public.ticket_assignment_history)::int as all_assignment_history,
            (select count(*) from app_public.ticket_comments)::int as all_comments,
            (select count(*) from app_private.audit_log)::int as all_audit
       from app_public.tickets as t where t.id = $1`,
    [ticketId],
  );
  return rows[0];
}

describe("a long random sequence of operations", () => {
  it(`keeps every invariant (seed ${SEED}, ${OPERATIONS} operations)`, { timeout: 120_000 }, async () => {
    const owner = database.current.owner;
    const next = seededRandom(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const customers = await Promise.all([1, 2, 3].map((n) => makeUser(owner, `Random Customer ${n}`, "customer")));
    const agents = await Promise.all([1, 2, 3].map((n) => makeUser(owner, `Random Agent ${n}`, "agent")));
    const admins = [await makeUser(owner, "Random Admin", "admin")];
    const actors = [
      ...customers.map((id) => [ROLE.customer, id] as const),
      ...agents.map((id) => [ROLE.agent, id] as const),
      ...admins.map((id) => [ROLE.admin, id] as const),
    ];
    const tickets: string[] = [];
    for (let n = 0; n < 20; n += 1) tickets.push((await makeTicket(owner, pick(customers), "open")).id);

    let succeeded = 0;
    for (let step = 0; step < OPERATIONS; step += 1) {
      const [role, actor] = pick(actors);
      const ticket = pick(tickets);
      const roll = next();
      const [sql, params]: [string, unknown[]] =
        roll < 0.08
          ? [
              "insert into app_public.tickets (subject, customer_id, priority) values ('Random', $1, $2) returning id",
              [pick(customers), pick(PRIORITIES)],
            ]
          : roll < 0.45
            ? ["select app_public.transition_ticket($1, $2, 'random')", [ticket, pick(STATUSES)]]
            : roll < 0.6
              ? ["select app_public.assign_ticket($1, $2)", [ticket, pick([...agents, null, actor])]]
              : roll < 0.7
                ? ["select id from app_public.take_next_ticket()", []]
                : roll < 0.8
                  ? ["update app_public.tickets set priority = $2 where id = $1", [ticket, pick(PRIORITIES)]]
                  : ["select app_public.add_comment($1, 'random reply', $2)", [ticket, next() < 0.3]];
      // Customers file tickets without naming a customer.
      const statement =
        role === ROLE.customer && sql.startsWith("insert")
          ? ([
              "insert into app_public.tickets (subject, priority) values ('Random', $1) returning id",
              [params[1]],
            ] as const)
          : ([sql, params] as const);
      const before = await snapshot(ticket);
      const outcome = await runAs(database.current.authenticator, role, actor, statement[0], [...statement[1]]);
      if (outcome.ok) {
        succeeded += 1;
        if (statement[0].startsWith("insert")) tickets.push(outcome.rows[0]!.id);
      } else {
        expect(outcome.code, `step ${step}: ${outcome.message}`).toMatch(/^(TK...|42501)$/);
        expect(await snapshot(ticket), `step ${step} was refused but changed the ticket`).toEqual(before);
      }
    }

    // Enough operations went through for the check to mean something.
    expect(succeeded).toBeGreaterThan(OPERATIONS / 5);
    await expectHistoryInvariant(owner);
    await expectAssignmentInvariant(owner);
    const unassignedWork = await owner.query(
      "select count(*)::int as n from app_public.tickets where status in ('in_progress', 'waiting_on_customer') and agent_id is null",
    );
    expect(unassignedWork.rows[0].n).toBe(0);
  });
});
