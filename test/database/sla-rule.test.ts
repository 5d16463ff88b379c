import { beforeAll, describe, expect, it } from "vitest";
import { actAs, useTestDatabase } from "../support/test-database.ts";
import { activeUser, actorOf, type FixtureUser, ticketIn } from "../support/fixtures.ts";

/**
 * The SLA breach rule lives in one function, app_private.sla_breached(due,
 * done); the ticket fields (firstResponseBreached, resolutionBreached) and the
 * analysts' app_reporting.tickets view call it and so cannot disagree.
 * (The figures of the fields and the views are checked in
 * test/lifecycle/conversation-sla-search.test.ts and test/reporting/.)
 */
const database = useTestDatabase();
let admin: FixtureUser;
const tickets: string[] = [];

beforeAll(async () => {
  const owner = database.current.owner;
  const customer = await activeUser(owner, "SLA Customer", "customer");
  const agent = await activeUser(owner, "SLA Agent", "agent");
  admin = await activeUser(owner, "SLA Admin", "admin");
  // Due in the past or the future; replied, resolved, closed or still waiting.
  for (const [status, dueInMinutes, replied] of [
    ["in_progress", -60, false],
    ["in_progress", 60, false],
    ["in_progress", -60, true],
    ["resolved", -30, false],
    ["closed", 30, true],
    ["open", 5, false],
  ] as const) {
    const id = await ticketIn(owner, customer.id, status, status === "open" ? null : agent.id);
    await owner.query(
      `update app_public.tickets
          set created_at = now() - interval '2 hours',
              first_response_due_at = now() + make_interval(mins => $2),
              resolution_due_at = now() + make_interval(mins => $2 * 2),
              first_responded_at = case when $3 then now() - interval '1 hour' end
        where id = $1`,
      [id, dueInMinutes, replied],
    );
    tickets.push(id);
  }
});

describe("sla_breached(due, done)", () => {
  it("is late when done comes after due, never without a target", async () => {
    const { rows } = await database.current.owner.query(
      `select app_private.sla_breached(due, done) as breached
         from (values
           (null::timestamptz, now()),
           (now(), now()),
           (now(), now() - interval '1 second'),
           (now(), now() + interval '1 second')
         ) as cases (due, done)`,
    );
    expect(rows.map((row) => row.breached)).toEqual([false, false, false, true]);
  });

  it("is an immutable plain SQL function the planner can inline", async () => {
    const { rows } = await database.current.owner.query(
      `select p.provolatile, p.prosecdef, p.proconfig, p.prosqlbody is not null as stored_body
         from pg_catalog.pg_proc as p where p.oid = 'app_private.sla_breached(timestamptz, timestamptz)'::regprocedure`,
    );
    expect(rows[0]).toEqual({ provolatile: "i", prosecdef: false, proconfig: null, stored_body: true });
  });

  it("is what the ticket fields and the reporting view call", async () => {
    const { rows } = await database.current.owner.query(
      `select distinct coalesce(p.oid::regprocedure::text, v.oid::regclass::text) as caller
         from pg_catalog.pg_depend as d
         left join pg_catalog.pg_proc as p on d.classid = 'pg_catalog.pg_proc'::regclass and p.oid = d.objid
         left join pg_catalog.pg_rewrite as r on d.classid = 'pg_catalog.pg_rewrite'::regclass and r.oid = d.objid
         left join pg_catalog.pg_class as v on v.oid = r.ev_class
        where d.refclassid = 'pg_catalog.pg_proc'::regclass
          and d.refobjid = 'app_private.sla_breached(timestamptz, timestamptz)'::regprocedure
        order by 1`,
    );
    expect(rows.map((row) => row.caller)).toEqual([
      "app_public.tickets_first_response_breached(app_public.tickets)",
      "app_public.tickets_resolution_breached(app_public.tickets)",
      "app_reporting.tickets",
    ]);
  });

  it("judges the ticket fields: late, on time, met exactly at the due time, ended without a reply", async () => {
    const fields = await actAs(database.current.authenticator, actorOf(admin), async (client) => {
      const { rows } = await client.query(
        `select app_public.tickets_first_response_breached(t) as first_response,
                app_public.tickets_resolution_breached(t) as resolution
           from app_public.tickets as t where t.id = any ($1::uuid[]) order by array_position($1::uuid[], t.id)`,
        [tickets],
      );
      return rows;
    });
    expect(fields.map((row) => row.first_response)).toEqual([true, false, false, true, false, false]);
    expect(fields.map((row) => row.resolution)).toEqual([true, false, true, true, false, false]);
  });

  it("gives the ticket fields and the analysts' view the same answers", async () => {
    const fields = await actAs(database.current.authenticator, actorOf(admin), async (client) => {
      const { rows } = await client.query(
        `select t.id, app_public.tickets_first_response_breached(t) as first_response_breached,
                app_public.tickets_resolution_breached(t) as resolution_breached
           from app_public.tickets as t where t.id = any ($1::uuid[]) order by t.id`,
        [tickets],
      );
      return rows;
    });
    const { rows: report } = await database.current.owner.query(
      `select id, first_response_breached, resolution_breached
         from app_reporting.tickets where id = any ($1::uuid[]) order by id`,
      [tickets],
    );
    expect(fields).toEqual(report);
    // Both answers occur, so the comparison says something.
    expect(new Set(fields.map((row) => row.first_response_breached))).toEqual(new Set([true, false]));
    expect(new Set(fields.map((row) => row.resolution_breached))).toEqual(new Set([true, false]));
  });
});
