import pg from "pg";
import { describe, expect, it } from "vitest";
import { castFor } from "../../bench/database.ts";
import { BENCH_PASSWORD } from "../../bench/scale.ts";
import { CEILING_SQL, SCENARIOS } from "../../bench/scenarios.ts";
import { inRequestTransaction } from "../../src/database/request-transaction.ts";
import { readSeedMarker, SEED_VERSION, seed } from "../../bench/seed.ts";
import {
  expectAssignmentInvariant,
  expectHistoryInvariant,
  expectSearchableCommentsInStep,
} from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, startTestApi } from "../support/test-api.ts";

/**
 * The benchmark's seeder at a tiny scale, so the bench cannot rot silently:
 * the data it loads must obey the same invariants as data made through the
 * API, its users must be able to log in, and every scenario's GraphQL
 * operation and hand-written SQL must run against it. No timings here.
 */
const database = useTestDatabase();
const TICKETS = 600;

function rootOfDatabase(): string {
  const url = new URL(database.current.urls.root);
  url.pathname = `/${database.current.name}`;
  return url.toString();
}

describe("benchmark seeder", () => {
  it("loads consistent, realistic data and marks the database", { timeout: 120_000 }, async () => {
    const root = new pg.Client({ connectionString: rootOfDatabase() });
    await root.connect();
    const steps: string[] = [];
    // The seeder sets secondary indexes aside while loading: all of them come
    // back, valid, with their comments, on every history partition too.
    const indexes = () =>
      root.query(
        `select indexrelid::regclass::text as name, pg_get_indexdef(indexrelid) as definition, indisvalid as valid,
                obj_description(indexrelid, 'pg_class') as comment
           from pg_catalog.pg_index join pg_catalog.pg_class on pg_class.oid = indexrelid
          where relnamespace = 'app_public'::regnamespace order by 1`,
      );
    // The history table's index count and each partition's count of valid
    // indexes, distinct: one row when every partition has all of the parent's.
    const historyIndexCounts = () =>
      root.query(
        `select count(*)::int as n from pg_catalog.pg_index where indrelid = 'app_public.ticket_status_history'::regclass
         union
         select count(i.indexrelid)::int from pg_catalog.pg_inherits as p
           left join pg_catalog.pg_index as i on i.indrelid = p.inhrelid and i.indisvalid
          where p.inhparent = 'app_public.ticket_status_history'::regclass group by p.inhrelid`,
      );
    try {
      const before = (await indexes()).rows;
      // Three months instead of two years: at this size every status still shows up.
      await seed(root, { tickets: TICKETS, customers: 40, agents: 6 }, (step) => steps.push(step), 3);
      expect(await readSeedMarker(root)).toMatchObject({
        version: SEED_VERSION,
        tickets: TICKETS,
        customers: 40,
        agents: 6,
      });
      expect((await indexes()).rows).toEqual(before);
      expect((await historyIndexCounts()).rows).toHaveLength(1);
    } finally {
      await root.end();
    }
    expect(steps).toContain("indexes");
    expect(steps).toContain("vacuum analyze");

    const owner = database.current.owner;
    await expectHistoryInvariant(owner);
    await expectAssignmentInvariant(owner);

    const statuses = await owner.query("select status, count(*)::int as n from app_public.tickets group by status");
    expect(statuses.rows.map((row) => row.status).sort()).toEqual([
      "closed",
      "in_progress",
      "open",
      "resolved",
      "waiting_on_customer",
    ]);
    expect(statuses.rows.find((row) => row.status === "closed")!.n / TICKETS).toBeGreaterThan(0.4);
    const priorities = await owner.query("select count(distinct priority)::int as n from app_public.tickets");
    expect(priorities.rows[0].n).toBe(4);

    const shape = await owner.query(
      `select (select count(*) from app_public.ticket_status_history)::float / $1 as history,
              (select count(*) from app_public.ticket_comments)::float / $1 as comments,
              (select count(*) from app_public.attachments)::float / $1 as attachments,
              (select count(*) from app_private.ticket_status_history_default)::int as in_default,
              (select count(distinct tableoid) from app_public.ticket_status_history)::int as partitions_used,
              (select count(*) from app_public.tickets t1 join app_public.tickets t2
                 on t2.number > t1.number and t2.created_at < t1.created_at)::int as numbers_out_of_order`,
      [TICKETS],
    );
    expect(shape.rows[0].history).toBeGreaterThan(3.5);
    expect(shape.rows[0].comments).toBeGreaterThan(2);
    // Two files on the question of one ticket in three.
    expect(shape.rows[0].attachments).toBeGreaterThan(0.6);
    expect(shape.rows[0].attachments).toBeLessThan(0.7);
    expect(shape.rows[0].in_default).toBe(0);
    expect(shape.rows[0].partitions_used).toBeGreaterThanOrEqual(3);
    expect(shape.rows[0].numbers_out_of_order).toBe(0);

    // Triggers were skipped while loading: what they guard is checked here instead.
    const broken = await owner.query(
      `select
         (select count(*) from app_public.tickets
           where (status in ('in_progress', 'waiting_on_customer') and agent_id is null)
              or resolution_due_at is null or first_response_due_at is null
              or updated_at > now() or (status <> 'open') <> (first_responded_at is not null))::int as tickets,
         (select count(*) from app_public.ticket_status_history as h
           where changed_at > now() or changed_at < (select created_at from app_public.tickets where id = h.ticket_id)
              or not exists (select 1 from app_public.users where id = h.changed_by))::int as history,
         (select count(*) from app_public.ticket_comments as c
           where created_at > now()
              or not exists (select 1 from app_public.users as u
                              where u.id = c.author_id
                                and u.id in (select customer_id from app_public.tickets where id = c.ticket_id
                                             union all select agent_id from app_public.tickets where id = c.ticket_id)))::int as comments,
         (select count(*) from app_public.tickets as t
           where not exists (select 1 from app_public.users where id = t.customer_id and role = 'customer')
              or (agent_id is not null and not exists (select 1 from app_public.users where id = t.agent_id and role = 'agent')))::int as people,
         (select count(*) from app_public.attachments as a
           where a.state <> 'ready' or a.created_at > now()
              or not exists (select 1 from app_public.ticket_comments as c join app_public.tickets as t on t.id = c.ticket_id
                              where c.id = a.comment_id and c.ticket_id = a.ticket_id and not c.is_internal
                                and a.uploader_id = c.author_id and c.author_id = t.customer_id))::int as attachments`,
    );
    expect(broken.rows[0]).toEqual({ tickets: 0, history: 0, comments: 0, people: 0, attachments: 0 });

    // Organizations of ten customers, one manager each; every ticket filed for its customer's organization.
    const organizations = await owner.query(
      `select (select count(*) from app_public.organizations)::int as organizations,
              (select count(*) from app_public.organization_memberships where role = 'manager')::int as managers,
              (select count(*) from app_public.tickets as t
                where not exists (select 1 from app_public.organization_memberships as m
                                   where m.organization_id = t.organization_id and m.user_id = t.customer_id))::int as misfiled`,
    );
    expect(organizations.rows[0]).toEqual({ organizations: 4, managers: 4, misfiled: 0 });

    // What the comments' search trigger would have written: a row per comment, with its ticket's sight.
    await expectSearchableCommentsInStep(owner);
  });

  it("gives the bench users who can log in and scenarios that run", { timeout: 60_000 }, async () => {
    const cast = await castFor(rootOfDatabase());
    expect(cast.movableTickets.length).toBeGreaterThan(0);
    // Started once the seed is in, as `npm run bench` starts it: the seeder
    // sets secondary indexes aside while loading, and a schema built then
    // would leave out the relations those indexes serve (PostGraphile hides
    // a relation without an index).
    const api = await startTestApi(database.current);
    try {
      expect(cast.manager.organizationId).toEqual(expect.any(String));

      const login = await graphql(
        api.request,
        "mutation Login($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { accessToken user { rowId } } }",
        { email: cast.customer.email, password: BENCH_PASSWORD },
      );
      expect(login.body.errors).toBeUndefined();
      expect(login.body.data.login.user.rowId).toBe(cast.customer.id);

      // Every read scenario once, through GraphQL with a token of its actor and as the ceiling's SQL.
      for (const scenario of SCENARIOS.filter((entry) => entry.explain)) {
        const token = bearer(scenario.actor(cast), scenario.role);
        const body = scenario.graphql(cast)();
        const answer = await graphql(api.request, body.query, body.variables, token);
        expect(answer.body.errors, scenario.name).toBeUndefined();
        if (scenario.name === "organization_tickets") expect(answer.body.data.tickets.nodes.length).toBeGreaterThan(0);
        if (scenario.name === "ticket_attachments") expect(answer.body.data.ticket.attachments.nodes.length).toBe(2);

        const { rows } = await inRequestTransaction(
          database.current.authenticator,
          { role: scenario.role, userId: scenario.actor(cast) },
          (client) => client.query(CEILING_SQL[scenario.name]!, scenario.ceiling(cast)()),
          { ending: "rollback" },
        );
        expect(rows[0]?.result, scenario.name).toBeDefined();
        if (scenario.name === "ticket_attachments") expect(rows[0].result.attachments).toHaveLength(2);
      }
    } finally {
      await api.api.close();
    }
  });
});
