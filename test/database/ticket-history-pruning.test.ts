import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { activeUser, actorOf, type FixtureUser } from "../support/fixtures.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { actAs, useTestDatabase } from "../support/test-database.ts";

/**
 * Ticket detail reads a ticket's status history from the month of its
 * creation on. The history is partitioned by month and a ticket id prunes
 * nothing, so Ticket.ticketStatusHistories reads through
 * app_public.tickets_ticket_status_histories, which adds `changed_at >=
 * created_at` of the ticket: PostgreSQL skips the earlier partitions at run
 * time. Checked on the SQL the API really sends for a ticket detail (captured
 * from the pg client), explained as the customer under row-level security:
 * which history partitions the plan executes (not timings, not buffers, which
 * depend on the cache), and that the history, assignment-history and comment
 * policies check the ticket with one index probe per row read.
 */
const database = useTestDatabase();
const api = useTestApi(database);
const MONTHS_BACK = 24;
let customer: FixtureUser;
let ticket: { id: string; createdAt: Date };

const DETAIL = `query Detail($id: UUID!) {
  ticket(rowId: $id) {
    rowId createdAt
    ticketStatusHistories(orderBy: [CHANGED_AT_ASC]) { nodes { fromStatus toStatus changedAt } }
    ticketAssignmentHistories(orderBy: [CHANGED_AT_ASC]) { nodes { toAgentId changedAt } }
    ticketComments(orderBy: [CREATED_AT_ASC]) { nodes { body isInternal } }
  }
}`;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Loops"?: number;
  "Actual Rows"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

interface Statement {
  text: string;
  values: unknown[];
}

/** Every statement the API's pg clients run while `work` runs. */
async function capturing(work: () => Promise<unknown>): Promise<Statement[]> {
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  const statements: Statement[] = [];
  prototype.query = function query(this: unknown, ...args: unknown[]) {
    const [config, values] = args as [string | { text?: string; values?: unknown[] } | undefined, unknown];
    const text = typeof config === "string" ? config : config?.text;
    const given = typeof config === "string" ? values : (config?.values ?? values);
    if (text) statements.push({ text, values: Array.isArray(given) ? given : [] });
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    prototype.query = original;
  }
  return statements;
}

async function explainAsCustomer(statement: Statement): Promise<{ plan: PlanNode[]; buffers: number }> {
  return actAs(database.current.authenticator, actorOf(customer), async (client) => {
    await client.query(statement.text, statement.values);
    const { rows } = await client.query(
      `explain (analyze, buffers, costs off, timing off, format json) ${statement.text}`,
      statement.values,
    );
    const root = rows[0]["QUERY PLAN"][0].Plan as PlanNode;
    return { plan: nodes(root), buffers: (root["Shared Hit Blocks"] ?? 0) + (root["Shared Read Blocks"] ?? 0) };
  });
}

/** The status-history partitions a plan executed (scanned at least once). */
function historyPartitionsRead(plan: PlanNode[]): string[] {
  return plan
    .filter((node) => node["Relation Name"]?.startsWith("ticket_status_history") && (node["Actual Loops"] ?? 0) > 0)
    .map((node) => node["Relation Name"]!)
    .sort();
}

async function partitions(where: string, params: unknown[] = []): Promise<string[]> {
  const { rows } = await database.current.owner.query<{ name: string }>(
    `select c.relname as name
       from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
      where i.inhparent = 'app_public.ticket_status_history'::regclass and (${where})
      order by 1`,
    params,
  );
  return rows.map((row) => row.name);
}

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await activeUser(owner, "Pruned Customer", "customer");
  const agent = await activeUser(owner, "Pruned Agent", "agent");
  // Two years of monthly partitions, as the maintenance job leaves them.
  await owner.query(`
    do $$
    declare
      month_start timestamptz;
      partition_name text;
    begin
      for i in 1..${MONTHS_BACK} loop
        month_start := date_trunc('month', now() at time zone 'UTC') at time zone 'UTC' - make_interval(months => i);
        partition_name := 'ticket_status_history_p' || to_char(month_start at time zone 'UTC', 'YYYYMM');
        execute format('create table app_private.%I partition of app_public.ticket_status_history for values from (%L) to (%L)',
                       partition_name, month_start, month_start + interval '1 month');
        perform app_private.protect_status_history_partition(partition_name);
      end loop;
    end
    $$`);
  // Other customers' tickets, so that the planner reaches tickets through its indexes as at scale.
  await owner.query(
    `with others as (
       insert into app_public.users (display_name, role)
       select 'Customer ' || n, 'customer' from generate_series(1, 2000) as n
       returning id
     )
     insert into app_public.tickets (subject, customer_id) select 'Other ticket', id from others`,
  );
  // Older tickets of the same customer in every past month, so every partition holds rows.
  await owner.query(
    `insert into app_public.tickets (subject, customer_id, created_at)
     select 'Old ticket ' || n, $1, now() - make_interval(days => 15 + 30 * n) from generate_series(1, ${MONTHS_BACK - 1}) as n`,
    [customer.id],
  );
  // The ticket read: created about two months ago, then taken, answered and resolved now.
  const { rows } = await owner.query<{ id: string; created_at: Date }>(
    `insert into app_public.tickets (subject, customer_id, created_at)
     values ('Printer on fire', $1, now() - interval '62 days') returning id, created_at`,
    [customer.id],
  );
  ticket = { id: rows[0]!.id, createdAt: rows[0]!.created_at };
  await owner.query("update app_public.tickets set status = 'in_progress', agent_id = $2 where id = $1", [
    ticket.id,
    agent.id,
  ]);
  await owner.query(
    "insert into app_public.ticket_comments (ticket_id, author_id, body, is_internal) values ($1, $2, 'Looking', false), ($1, $2, 'Note', true)",
    [ticket.id, agent.id],
  );
  await owner.query("update app_public.tickets set status = 'resolved' where id = $1", [ticket.id]);
  await owner.query("analyze");
}, 180_000);

describe("ticket detail reads the status history from the ticket's creation on", () => {
  it("executes only the history partitions from the month of creation on, and each policy probes the ticket once per row", async () => {
    const statements = await capturing(async () => {
      const response = await graphql(
        api.current.request,
        DETAIL,
        { id: ticket.id },
        bearer(customer.id, customer.tokenRole),
      );
      expect(response.body.errors).toBeUndefined();
      const detail = response.body.data.ticket;
      // The whole history, creation row first: nothing before created_at exists to be hidden.
      expect(
        detail.ticketStatusHistories.nodes.map((node: { fromStatus: string | null; toStatus: string }) => [
          node.fromStatus,
          node.toStatus,
        ]),
      ).toEqual([
        [null, "open"],
        ["open", "in_progress"],
        ["in_progress", "resolved"],
      ]);
      expect(detail.ticketAssignmentHistories.nodes).toHaveLength(1);
      expect(detail.ticketComments.nodes).toEqual([{ body: "Looking", isInternal: false }]);
    });
    const detailSql = statements.find((statement) => /ticket_status_histor/.test(statement.text));
    expect(detailSql, "the statement that reads the history").toBeDefined();

    const { plan, buffers } = await explainAsCustomer(detailSql!);
    const fromCreation = await partitions(
      "pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' or c.relname >= 'ticket_status_history_p' || to_char($1::timestamptz at time zone 'UTC', 'YYYYMM')",
      [ticket.createdAt],
    );
    const all = await partitions("true");
    console.info(
      `ticket detail: ${buffers} shared buffers, ${historyPartitionsRead(plan).length} of ${all.length} history partitions read`,
    );
    expect(all.length).toBeGreaterThanOrEqual(MONTHS_BACK + 2);
    expect(fromCreation.length).toBeLessThan(all.length - 20);
    expect(historyPartitionsRead(plan)).toEqual(fromCreation);

    // The read policies of the history, the assignment history and the
    // comments check the ticket of each row they read by its key: one index
    // probe per row, never a scan or a hash of the caller's tickets.
    const ticketScans = plan.filter((node) => node["Relation Name"] === "tickets");
    expect(ticketScans.length).toBeGreaterThanOrEqual(4);
    for (const scan of ticketScans) {
      expect(["Index Scan", "Index Only Scan"]).toContain(scan["Node Type"]);
      expect(["tickets_pkey", "tickets_visibility_idx"]).toContain(scan["Index Name"]);
      expect(scan["Actual Rows"]).toBeLessThanOrEqual(1);
    }
    // 3 status rows, 1 assignment, 1 public comment (the internal note is
    // filtered before its probe): one probe each, plus the ticket itself.
    const probes = ticketScans.reduce((sum, scan) => sum + (scan["Actual Loops"] ?? 0), 0);
    expect(probes).toBe(1 + 3 + 1 + 1);
  });

  it("keeps the field's shape: count, default order by primary key, cursors both ways, condition", async () => {
    const auth = bearer(customer.id, customer.tokenRole);
    const read = async (args: string, selection = "nodes { toStatus }") => {
      const response = await graphql(
        api.current.request,
        `query ($id: UUID!) { ticket(rowId: $id) { ticketStatusHistories${args} { ${selection} } } }`,
        { id: ticket.id },
        auth,
      );
      expect(response.body.errors).toBeUndefined();
      return response.body.data.ticket.ticketStatusHistories;
    };
    const first = await read("(first: 2)", "totalCount pageInfo { hasNextPage endCursor } nodes { toStatus }");
    // Ids are time-ordered, so the primary-key order is the order of the changes.
    expect(first.totalCount).toBe(3);
    expect(first.nodes.map((node: { toStatus: string }) => node.toStatus)).toEqual(["open", "in_progress"]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await read(`(first: 2, after: "${first.pageInfo.endCursor}")`);
    expect(rest.nodes).toEqual([{ toStatus: "resolved" }]);
    expect((await read("(last: 1, orderBy: [CHANGED_AT_ASC])")).nodes).toEqual([{ toStatus: "resolved" }]);
    expect((await read("(condition: { toStatus: in_progress })")).nodes).toEqual([{ toStatus: "in_progress" }]);
  });

  it("the same history through the foreign key alone (the field before) reads every partition", async () => {
    // The control: what ticketStatusHistories sent before, as @dataplan/pg wrote it for the relation.
    const { plan } = await explainAsCustomer({
      text: `select t.id, array(select array[h.from_status::text, h.to_status::text]::text[]
                                from app_public.ticket_status_history as h
                                where h.ticket_id = t.id
                                order by h.changed_at, h.id)::text
               from app_public.tickets as t where t.id = $1::uuid`,
      values: [ticket.id],
    });
    expect(historyPartitionsRead(plan)).toEqual(await partitions("true"));
  });
});
