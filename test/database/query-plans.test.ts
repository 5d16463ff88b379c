import { beforeAll, describe, expect, it } from "vitest";
import { actAs, useTestDatabase } from "../support/test-database.ts";
import { makeUser, ROLE } from "../support/fixtures.ts";

/**
 * The queries the policies and the UI make must use indexes under RLS.
 * A few thousand rows are enough for the planner to prefer them; the plans
 * are read as JSON and searched for sequential scans of the big tables.
 */
const database = useTestDatabase();
const BIG_TABLES = ["tickets", "ticket_comments", "ticket_status_history", "ticket_assignment_history"];
let customer: string;
let agent: string;
let ticket: string;
let manager: string;
let organization: string;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

function planAs(role: string, userId: string, sql: string, params: unknown[] = []): Promise<PlanNode[]> {
  return actAs(database.current.authenticator, { role, userId }, async (client) => {
    const { rows } = await client.query(`explain (format json) ${sql}`, params);
    return nodes(rows[0]["QUERY PLAN"][0].Plan);
  });
}

/** Empty relations (future history partitions): the planner rightly scans them without an index. */
let emptyRelations = new Set<string>();

function seqScans(plan: PlanNode[]): string[] {
  return plan
    .filter(
      (node) =>
        node["Node Type"] === "Seq Scan" && BIG_TABLES.some((table) => node["Relation Name"]?.startsWith(table)),
    )
    .map((node) => node["Relation Name"]!)
    .filter((relation) => !emptyRelations.has(relation));
}

function indexesUsed(plan: PlanNode[]): string[] {
  return plan.map((node) => node["Index Name"]).filter((name): name is string => name !== undefined);
}

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await makeUser(owner, "Planned Customer", "customer");
  agent = await makeUser(owner, "Planned Agent", "agent");
  await owner.query(
    `insert into app_public.users (display_name, role)
     select 'Customer ' || n, 'customer' from generate_series(1, 300) as n`,
  );
  await owner.query(
    `insert into app_public.users (display_name, role)
     select 'Agent ' || n, 'agent' from generate_series(1, 20) as n`,
  );
  // 100 organizations of three; every customer is a member of one (which their tickets are then filed for).
  await owner.query("insert into app_public.organizations (name) select 'Org ' || n from generate_series(1, 100) as n");
  await owner.query(
    `with orgs as (select id, row_number() over (order by id) % 100 as slot from app_public.organizations),
          people as (select id, row_number() over (order by id) % 100 as slot from app_public.users where role = 'customer' and id <> $1)
     insert into app_public.organization_memberships (organization_id, user_id, sees_organization_tickets)
     select orgs.id, people.id, true from people join orgs using (slot)`,
    [customer],
  );
  manager = await makeUser(owner, "Planned Manager", "customer");
  organization = (await owner.query("select id from app_public.organizations order by id limit 1")).rows[0].id;
  await owner.query(
    "insert into app_public.organization_memberships (organization_id, user_id, role) values ($1, $2, 'manager')",
    [organization, manager],
  );
  // 4 000 tickets spread over customers and agents, most of them closed.
  await owner.query(
    `insert into app_public.tickets (subject, description, customer_id, priority, status, agent_id)
     select 'Ticket ' || n, 'Description ' || n,
            (select id from app_public.users where role = 'customer' order by id offset (n % 300) limit 1),
            (array['low', 'normal', 'high', 'urgent'])[1 + n % 4]::app_public.ticket_priority,
            case when n % 10 = 0 then 'open' else 'closed' end::app_public.ticket_status,
            case when n % 10 = 0 then null
                 else (select id from app_public.users where role = 'agent' order by id offset (n % 20) limit 1) end
       from generate_series(1, 4000) as n`,
  );
  await owner.query(
    `insert into app_public.tickets (subject, customer_id, status, agent_id)
     select 'Mine ' || n, $1, 'in_progress', $2 from generate_series(1, 30) as n`,
    [customer, agent],
  );
  const { rows } = await owner.query("select id from app_public.tickets where customer_id = $1 limit 1", [customer]);
  ticket = rows[0].id;
  await owner.query(
    `insert into app_public.ticket_comments (ticket_id, author_id, body)
     select t.id, t.customer_id, 'Comment on ' || t.subject from app_public.tickets as t`,
  );
  // Vacuumed as autovacuum would have: the visibility map lets index-only scans skip the table.
  await owner.query("vacuum (analyze)");
  const empty = await owner.query<{ name: string }>(
    "select relname as name from pg_catalog.pg_class where relkind = 'r' and relpages = 0 and reltuples <= 0",
  );
  emptyRelations = new Set(empty.rows.map((row) => row.name));
});

describe("query plans under row-level security", () => {
  it("a manager's organization's 20 newest tickets use the organization index", async () => {
    const plan = await planAs(
      ROLE.customer,
      manager,
      "select * from app_public.tickets where organization_id = $1 order by created_at desc limit 20",
      [organization],
    );
    expect(seqScans(plan)).toEqual([]);
    expect(indexesUsed(plan)).toContain("tickets_organization_list_idx");
  });

  /**
   * The customers' policy is an OR (own, organizations with sight, cc), so the planner
   * cannot tell that a list filtered on the caller's own id passes every row; the
   * covering list indexes keep such a list to one ordered index-only scan that stops
   * after the page, instead of reading every ticket of the customer (or organization)
   * and sorting them (docs/performance.md, "The customer list's early stop").
   */
  it("a customer's and a manager's list pages, as the list reads them, come from the index alone in order", async () => {
    const columns = "id, number, subject, status, priority, created_at";
    const lists = [
      {
        who: customer,
        index: "tickets_customer_list_idx",
        sql: `select ${columns} from app_public.tickets where customer_id = $1 order by created_at desc, id desc limit 20`,
        key: customer,
      },
      {
        who: manager,
        index: "tickets_organization_list_idx",
        sql: `select ${columns} from app_public.tickets where organization_id = $1 order by created_at desc, id desc limit 20`,
        key: organization,
      },
    ];
    for (const list of lists) {
      const plan = await planAs(ROLE.customer, list.who, list.sql, [list.key]);
      const reads = plan.filter((node) => node["Relation Name"] === "tickets");
      expect(reads.map((node) => [node["Node Type"], node["Index Name"]])).toEqual([["Index Only Scan", list.index]]);
      expect(plan.map((node) => node["Node Type"])).not.toContain("Sort");
    }
  });

  it("a customer's or manager's whole list (own, organizations', cc) uses indexes", async () => {
    for (const who of [customer, manager]) {
      const plan = await planAs(
        ROLE.customer,
        who,
        "select * from app_public.tickets order by created_at desc limit 20",
      );
      expect(seqScans(plan)).toEqual([]);
    }
  });

  it("a ticket's participants use their ticket index", async () => {
    const plan = await planAs(
      ROLE.customer,
      customer,
      "select * from app_public.ticket_participants where ticket_id = $1",
      [ticket],
    );
    expect(seqScans(plan)).toEqual([]);
  });

  it("a customer's newest tickets use the customer index", async () => {
    const plan = await planAs(
      ROLE.customer,
      customer,
      "select * from app_public.tickets where customer_id = $1 order by created_at desc limit 20",
      [customer],
    );
    expect(seqScans(plan)).toEqual([]);
    expect(indexesUsed(plan)).toContain("tickets_customer_list_idx");
  });

  it("an agent's queue (assigned to them, by priority and age) uses an index", async () => {
    const plan = await planAs(
      ROLE.agent,
      agent,
      "select * from app_public.tickets where agent_id = $1 order by priority desc, created_at limit 50",
      [agent],
    );
    expect(seqScans(plan)).toEqual([]);
  });

  it("an agent's queue by due time uses an index", async () => {
    const plan = await planAs(
      ROLE.agent,
      agent,
      "select * from app_public.tickets where agent_id = $1 order by resolution_due_at limit 50",
      [agent],
    );
    expect(seqScans(plan)).toEqual([]);
  });

  it("the open unassigned pool uses the queue index", async () => {
    const plan = await planAs(
      ROLE.agent,
      agent,
      "select * from app_public.tickets where status = 'open' and agent_id is null order by priority desc, created_at limit 50",
    );
    expect(seqScans(plan)).toEqual([]);
  });

  it("an agent's whole queue (assigned to them or open and unassigned, by priority and age) uses indexes", async () => {
    const plan = await planAs(
      ROLE.agent,
      agent,
      `select * from app_public.tickets
        where agent_id = $1 or (status = 'open' and agent_id is null)
        order by priority desc, created_at limit 50`,
      [agent],
    );
    expect(seqScans(plan)).toEqual([]);
  });

  it("myQueue, the console's queue, walks an index", async () => {
    const plan = await planAs(ROLE.agent, agent, "select * from app_public.my_queue() limit 50");
    expect(seqScans(plan)).toEqual([]);
    expect(indexesUsed(plan).length).toBeGreaterThan(0);
  });

  it("history and comments of a ticket use their ticket indexes", async () => {
    for (const sql of [
      "select * from app_public.ticket_status_history where ticket_id = $1 order by changed_at",
      "select * from app_public.ticket_comments where ticket_id = $1 order by created_at",
      "select * from app_public.ticket_assignment_history where ticket_id = $1 order by changed_at",
    ]) {
      const plan = await planAs(ROLE.customer, customer, sql, [ticket]);
      expect(seqScans(plan), sql).toEqual([]);
    }
  });

  it("the SLA targets of many tickets are a join of the two policy tables (sla_policy_for is inlined, not called per ticket)", async () => {
    // As the set-based recomputation and the event recorder ask it.
    const { rows } = await database.current.owner.query(
      `explain (format json)
       select t.id, p.calendar_id, p.first_response_minutes, p.resolution_minutes
         from app_public.tickets as t
        cross join lateral app_private.sla_policy_for(t.organization_id, t.priority) as p
        where t.status in ('open', 'in_progress', 'waiting_on_customer')`,
    );
    const plan = nodes(rows[0]["QUERY PLAN"][0].Plan);
    expect(plan.filter((node) => node["Node Type"] === "Function Scan")).toEqual([]);
    const relations = new Set(plan.map((node) => node["Relation Name"]).filter(Boolean));
    expect(relations).toEqual(new Set(["tickets", "sla_policies", "organization_sla_policies"]));
  });
});
