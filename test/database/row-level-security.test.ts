import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { codeOf, expectHistoryInvariant, makeTicket, makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";

/**
 * The attacker's matrix: every actor against every app_public table and
 * command, in SQL with the role and claims the API would set. Refusals are
 * asserted by SQLSTATE (42501 privilege or policy, TK* from the rules), and
 * silent RLS filtering by the number of rows touched.
 */
const database = useTestDatabase();
// The API's connection role cannot become the analyst role (SET ROLE itself
// would be the 42501), so analysts are checked on a superuser connection.
const as = (role: string | null, userId: string | null, sql: string, params: unknown[] = []) =>
  runAs(role === ROLE.analyst ? database.current.root : database.current.authenticator, role, userId, sql, params);
const asOwner = (sql: string, params: unknown[] = []) => runAs(database.current.owner, null, null, sql, params);

const people = {} as Record<
  "customer" | "otherCustomer" | "agent" | "otherAgent" | "admin" | "deactivated" | "demoted" | "inactiveAgent",
  string
>;
const tickets = {} as Record<"own" | "ofOther" | "assigned" | "closed" | "openOfOwn", Record<string, any>>;

const TABLES = [
  "users",
  "tickets",
  "ticket_comments",
  "ticket_status_history",
  "ticket_assignment_history",
  "ticket_transitions",
  "sla_policies",
  "write_quotas",
  "audit_log_entries",
];

beforeAll(async () => {
  const owner = database.current.owner;
  people.customer = await makeUser(owner, "Cust One", "customer");
  people.otherCustomer = await makeUser(owner, "Cust Two", "customer");
  people.agent = await makeUser(owner, "Agent One", "agent");
  people.otherAgent = await makeUser(owner, "Agent Two", "agent");
  people.admin = await makeUser(owner, "Admin One", "admin");
  people.deactivated = await makeUser(owner, "Gone Customer", "customer", false);
  people.demoted = await makeUser(owner, "Demoted Agent", "agent");
  people.inactiveAgent = await makeUser(owner, "Gone Agent", "agent", false);
  tickets.assigned = await makeTicket(owner, people.customer, "in_progress", people.agent, {
    subject: "Laptop overheating",
  });
  tickets.ofOther = await makeTicket(owner, people.otherCustomer, "in_progress", people.otherAgent, {
    subject: "Secret project of customer two",
  });
  tickets.closed = await makeTicket(owner, people.customer, "closed", people.agent, { subject: "Old closed" });
  tickets.openOfOwn = await makeTicket(owner, people.customer, "open", null, { subject: "Mail is down" });
  // Demotion happens after the fact: the token would still say agent.
  await owner.query("update app_public.users set role = 'customer' where id = $1", [people.demoted]);
});

describe("anonymous visitors and analysts", () => {
  it.each(TABLES.flatMap((table) => [ROLE.anonymous, ROLE.analyst].map((role) => [role, table])))(
    "%s cannot select from %s",
    async (role, table) => {
      expect(codeOf(await as(role, null, `select * from app_public.${table}`))).toBe("42501");
    },
  );

  it.each([ROLE.anonymous, ROLE.analyst])("%s cannot call the lifecycle functions", async (role) => {
    for (const call of [
      "app_public.transition_ticket(gen_random_uuid(), 'closed')",
      "app_public.assign_ticket(gen_random_uuid(), null)",
      "app_public.take_next_ticket()",
      "app_public.add_comment(gen_random_uuid(), 'x')",
      "app_public.search_tickets('x')",
    ]) {
      expect(codeOf(await as(role, null, `select ${call}`)), call).toBe("42501");
    }
  });

  it("resolves the current user only from a valid claim of an active user", async () => {
    expect(rowsOf(await as(ROLE.anonymous, null, "select app_public.current_user_id() as id"))[0]!.id).toBeNull();
    expect(
      rowsOf(await as(ROLE.customer, "not-a-uuid", "select app_public.current_user_id() as id"))[0]!.id,
    ).toBeNull();
    expect(
      rowsOf(await as(ROLE.customer, people.deactivated, "select app_public.current_user_id() as id"))[0]!.id,
    ).toBeNull();
    expect(rowsOf(await as(ROLE.customer, people.customer, "select (app_public.current_user()).id as id"))[0]!.id).toBe(
      people.customer,
    );
  });
});

describe("app_private is out of reach of every web role", () => {
  it.each([
    [ROLE.customer, "customer"],
    [ROLE.agent, "agent"],
    [ROLE.admin, "admin"],
  ] as const)("%s cannot call helpers or read secrets by name", async (role, who) => {
    const userId = people[who];
    for (const sql of [
      "select app_private.acting_user_id('customer')",
      "select * from app_private.audit_log",
      "select * from app_private.user_accounts",
      "select * from app_private.refresh_tokens",
      "select * from app_private.login_attempts",
      "select * from app_private.ticket_status_history_default",
    ]) {
      expect(codeOf(await as(role, userId, sql)), sql).toBe("42501");
    }
  });
});

describe("users", () => {
  it("customers see themselves and staff, never other customers", async () => {
    const rows = rowsOf(await as(ROLE.customer, people.customer, "select id, role from app_public.users"));
    expect(rows.some((row) => row.id === people.customer)).toBe(true);
    expect(rows.some((row) => row.role === "agent")).toBe(true);
    expect(rows.filter((row) => row.role === "customer").map((row) => row.id)).toEqual([people.customer]);
  });

  it.each([
    [ROLE.agent, "agent", 8],
    [ROLE.admin, "admin", 8],
    [ROLE.customer, "deactivated", 0],
    [ROLE.agent, "demoted", 0],
    [ROLE.admin, "customer", 0],
  ] as const)("%s acting as %s sees %i users", async (role, who, count) => {
    expect(rowsOf(await as(role, people[who], "select count(*)::int as n from app_public.users"))[0]!.n).toBe(count);
  });

  it("shows emails to their owner and to staff only", async () => {
    const own = rowsOf(
      await as(
        ROLE.customer,
        people.customer,
        "select u.id, app_public.users_email(u) as email from app_public.users as u",
      ),
    );
    expect(own.every((row) => (row.id === people.customer) === (row.email !== null))).toBe(true);
    const staff = rowsOf(
      await as(ROLE.agent, people.agent, "select app_public.users_email(u) as email from app_public.users as u"),
    );
    expect(staff.every((row) => row.email !== null)).toBe(true);
  });

  it("lets users rename themselves and admins rename anyone", async () => {
    const rename = (role: string, actor: string, target: string) =>
      as(role, actor, "update app_public.users set display_name = 'Renamed' where id = $1", [target]);
    expect(rowsCount(await rename(ROLE.customer, people.customer, people.customer))).toBe(1);
    expect(rowsCount(await rename(ROLE.customer, people.customer, people.agent))).toBe(0);
    expect(rowsCount(await rename(ROLE.agent, people.agent, people.otherAgent))).toBe(0);
    expect(rowsCount(await rename(ROLE.admin, people.admin, people.otherAgent))).toBe(1);
    expect(rowsCount(await rename(ROLE.admin, people.deactivated, people.otherAgent))).toBe(0);
  });

  it.each(
    (["customer", "agent", "admin"] as const).flatMap((who) =>
      ["role = 'admin'", "is_active = false", "created_at = now()", "updated_at = now()", "id = gen_random_uuid()"].map(
        (assignment) => [who, assignment] as const,
      ),
    ),
  )("%s cannot set %s directly", async (who, assignment) => {
    const outcome = await as(ROLE[who], people[who], `update app_public.users set ${assignment} where id = $1`, [
      people[who],
    ]);
    expect(codeOf(outcome)).toBe("42501");
  });

  it.each(["customer", "agent", "admin"] as const)("%s cannot insert or delete users", async (who) => {
    expect(codeOf(await as(ROLE[who], people[who], "insert into app_public.users (display_name) values ('x')"))).toBe(
      "42501",
    );
    expect(codeOf(await as(ROLE[who], people[who], "delete from app_public.users where id = $1", [people[who]]))).toBe(
      "42501",
    );
  });
});

function rowsCount(outcome: Awaited<ReturnType<typeof as>>): number {
  if (!outcome.ok) expect.fail(`statement refused: ${outcome.code} ${outcome.message}`);
  return outcome.count;
}

describe("tickets", () => {
  it("customers file tickets for themselves with SLA due times", async () => {
    const [ticket] = rowsOf(
      await as(
        ROLE.customer,
        people.customer,
        "insert into app_public.tickets (subject, description, priority) values ('My mail is down', 'Since this morning', 'high') returning *",
      ),
    );
    expect(ticket).toMatchObject({ customer_id: people.customer, status: "open", agent_id: null });
    expect(new Date(ticket!.first_response_due_at).getTime() - new Date(ticket!.created_at).getTime()).toBe(
      120 * 60_000,
    );
    tickets.own = ticket!;
  });

  it.each([
    ["customer_id", "gen_random_uuid()"],
    ["status", "'closed'"],
    ["agent_id", "gen_random_uuid()"],
    ["created_at", "now()"],
    ["resolved_at", "now()"],
    ["closed_at", "now()"],
    ["first_responded_at", "now()"],
    ["first_response_due_at", "now()"],
    ["resolution_due_at", "now()"],
    ["updated_at", "now()"],
    ["id", "gen_random_uuid()"],
  ])("customers cannot insert %s", async (column, value) => {
    const sql = `insert into app_public.tickets (subject, ${column}) values ('x', ${value})`;
    expect(codeOf(await as(ROLE.customer, people.customer, sql))).toBe("42501");
  });

  it("keeps text within bounds", async () => {
    for (const [sql, code] of [
      ["insert into app_public.tickets (subject) values ('')", "23514"],
      ["insert into app_public.tickets (subject) values (repeat('x', 201))", "23514"],
      ["insert into app_public.tickets (subject, description) values ('x', repeat('x', 20001))", "23514"],
    ] as const) {
      expect(codeOf(await as(ROLE.customer, people.customer, sql)), sql).toBe(code);
    }
  });

  it("staff file tickets only for active customers, never with a status or agent", async () => {
    const forCustomer = "insert into app_public.tickets (subject, customer_id) values ('Phone call', $1)";
    expect(codeOf(await as(ROLE.agent, people.agent, forCustomer, [people.otherCustomer]))).toBe("ok");
    expect(codeOf(await as(ROLE.admin, people.admin, forCustomer, [people.otherCustomer]))).toBe("ok");
    expect(codeOf(await as(ROLE.agent, people.agent, forCustomer, [people.otherAgent]))).toBe("TKVAL");
    expect(codeOf(await as(ROLE.agent, people.agent, forCustomer, [people.deactivated]))).toBe("TKVAL");
    expect(
      codeOf(await as(ROLE.customer, people.deactivated, "insert into app_public.tickets (subject) values ('x')")),
    ).toBe("TKVAL");
    for (const who of ["agent", "admin"] as const) {
      const withStatus = "insert into app_public.tickets (subject, customer_id, status) values ('x', $1, 'closed')";
      const withAgent = "insert into app_public.tickets (subject, customer_id, agent_id) values ('x', $1, $2)";
      expect(codeOf(await as(ROLE[who], people[who], withStatus, [people.customer]))).toBe("42501");
      expect(codeOf(await as(ROLE[who], people[who], withAgent, [people.customer, people.agent]))).toBe("42501");
    }
  });

  it("shows each actor exactly the tickets DESIGN allows", async () => {
    const visible = async (role: string, userId: string) =>
      rowsOf(await as(role, userId, "select id from app_public.tickets")).map((row) => row.id as string);
    const customer = await visible(ROLE.customer, people.customer);
    expect(customer).toEqual(expect.arrayContaining([tickets.own!.id, tickets.assigned!.id, tickets.closed!.id]));
    expect(customer).not.toContain(tickets.ofOther!.id);
    const other = await visible(ROLE.customer, people.otherCustomer);
    expect(other).toContain(tickets.ofOther!.id);
    expect(other).not.toContain(tickets.own!.id);
    const agent = await visible(ROLE.agent, people.agent);
    expect(agent).toEqual(expect.arrayContaining([tickets.assigned!.id, tickets.own!.id, tickets.closed!.id]));
    expect(agent).not.toContain(tickets.ofOther!.id);
    const otherAgent = await visible(ROLE.agent, people.otherAgent);
    expect(otherAgent).toContain(tickets.own!.id);
    expect(otherAgent).not.toContain(tickets.assigned!.id);
    expect(await visible(ROLE.admin, people.admin)).toEqual(
      expect.arrayContaining([tickets.assigned!.id, tickets.ofOther!.id]),
    );
    expect(await visible(ROLE.customer, people.deactivated)).toEqual([]);
    expect(await visible(ROLE.admin, people.customer)).toEqual([]);
    expect(await visible(ROLE.agent, people.customer)).toEqual([]);
    expect(await visible(ROLE.agent, people.demoted)).toEqual([]);
  });

  it("lets customers edit the text of their own open tickets only", async () => {
    const edit = (role: string, actor: string, id: string) =>
      as(role, actor, "update app_public.tickets set subject = 'Edited' where id = $1", [id]);
    expect(rowsCount(await edit(ROLE.customer, people.customer, tickets.own!.id))).toBe(1);
    expect(rowsCount(await edit(ROLE.customer, people.otherCustomer, tickets.own!.id))).toBe(0);
    expect(rowsCount(await edit(ROLE.customer, people.customer, tickets.closed!.id))).toBe(0);
    expect(rowsCount(await edit(ROLE.agent, people.agent, tickets.assigned!.id))).toBe(1);
    expect(rowsCount(await edit(ROLE.agent, people.agent, tickets.own!.id))).toBe(0);
    expect(rowsCount(await edit(ROLE.agent, people.agent, tickets.ofOther!.id))).toBe(0);
    expect(rowsCount(await edit(ROLE.admin, people.admin, tickets.ofOther!.id))).toBe(1);
    expect(rowsCount(await edit(ROLE.admin, people.deactivated, tickets.ofOther!.id))).toBe(0);
  });

  it.each(
    [
      "priority = 'urgent'",
      "status = 'closed'",
      "agent_id = gen_random_uuid()",
      "customer_id = gen_random_uuid()",
      "created_at = now()",
      "resolved_at = now()",
      "closed_at = now()",
      "first_responded_at = now()",
      "first_response_due_at = now()",
      "resolution_due_at = now()",
      "updated_at = now()",
    ].map((assignment) => ["customer", assignment] as const),
  )("%s cannot set %s", async (who, assignment) => {
    const sql = `update app_public.tickets set ${assignment} where id = $1`;
    expect(codeOf(await as(ROLE[who], people[who], sql, [tickets.own!.id]))).toBe("42501");
  });

  it.each(
    (["agent", "admin"] as const).flatMap((who) =>
      [
        "status = 'closed'",
        "agent_id = gen_random_uuid()",
        "customer_id = gen_random_uuid()",
        "created_at = now()",
        "resolved_at = now()",
        "closed_at = now()",
        "first_responded_at = now()",
        "resolution_due_at = now()",
      ].map((assignment) => [who, assignment] as const),
    ),
  )("%s cannot set %s", async (who, assignment) => {
    const sql = `update app_public.tickets set ${assignment} where id = $1`;
    expect(codeOf(await as(ROLE[who], people[who], sql, [tickets.assigned!.id]))).toBe("42501");
  });

  it("recomputes SLA due times when staff change the priority", async () => {
    const [ticket] = rowsOf(
      await as(
        ROLE.agent,
        people.agent,
        "update app_public.tickets set priority = 'urgent' where id = $1 returning *",
        [tickets.assigned!.id],
      ),
    );
    expect(new Date(ticket!.first_response_due_at).getTime() - new Date(ticket!.created_at).getTime()).toBe(
      30 * 60_000,
    );
  });

  it.each(["customer", "agent", "admin"] as const)("%s cannot delete tickets", async (who) => {
    expect(
      codeOf(await as(ROLE[who], people[who], "delete from app_public.tickets where id = $1", [tickets.own!.id])),
    ).toBe("42501");
  });
});

describe("comments", () => {
  beforeAll(async () => {
    const comment = (role: string, actor: string, ticket: string, body: string, internal = false) =>
      as(role, actor, "select app_public.add_comment($1, $2, $3)", [ticket, body, internal]);
    rowsOf(await comment(ROLE.agent, people.agent, tickets.assigned!.id, "Internal: customer is VIP", true));
    rowsOf(await comment(ROLE.agent, people.agent, tickets.assigned!.id, "We are looking into it"));
    rowsOf(await comment(ROLE.customer, people.customer, tickets.assigned!.id, "Thanks, it is still hot"));
    rowsOf(await comment(ROLE.agent, people.otherAgent, tickets.openOfOwn!.id, "Note on an open ticket", true));
    rowsOf(await comment(ROLE.agent, people.otherAgent, tickets.ofOther!.id, "Internal for customer two", true));
  });

  it("never shows internal notes to customers", async () => {
    const rows = rowsOf(await as(ROLE.customer, people.customer, "select * from app_public.ticket_comments"));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => row.is_internal)).toEqual([]);
    const onOpen = "select count(*)::int as n from app_public.ticket_comments where ticket_id = $1";
    expect(rowsOf(await as(ROLE.customer, people.customer, onOpen, [tickets.openOfOwn!.id]))[0]!.n).toBe(0);
    expect(rowsOf(await as(ROLE.customer, people.otherCustomer, onOpen, [tickets.assigned!.id]))[0]!.n).toBe(0);
  });

  it("shows staff the comments of tickets they can read", async () => {
    const internal = "select ticket_id from app_public.ticket_comments where is_internal order by ticket_id";
    const agentSees = rowsOf(await as(ROLE.agent, people.agent, internal)).map((row) => row.ticket_id);
    expect(agentSees.sort()).toEqual([tickets.assigned!.id, tickets.openOfOwn!.id].sort());
    const count = "select count(*)::int as n from app_public.ticket_comments where ticket_id = $1";
    expect(rowsOf(await as(ROLE.agent, people.otherAgent, count, [tickets.assigned!.id]))[0]!.n).toBe(0);
    expect(
      rowsOf(await as(ROLE.admin, people.admin, "select count(*)::int as n from app_public.ticket_comments"))[0]!.n,
    ).toBe(5);
    expect(
      rowsOf(
        await as(ROLE.customer, people.deactivated, "select count(*)::int as n from app_public.ticket_comments"),
      )[0]!.n,
    ).toBe(0);
  });

  it("refuses comments outside each role's rights", async () => {
    const add = async (role: string, actor: string, ticket: string, body: string, internal = false) =>
      codeOf(await as(role, actor, "select app_public.add_comment($1, $2, $3)", [ticket, body, internal]));
    expect(await add(ROLE.customer, people.customer, tickets.assigned!.id, "sneaky", true)).toBe("TKFBD");
    expect(await add(ROLE.customer, people.customer, tickets.ofOther!.id, "hi")).toBe("TKNTF");
    // The body's rule is its constraint's (ticket_comments_body_length).
    expect(await add(ROLE.customer, people.customer, tickets.assigned!.id, "   ")).toBe("23514");
    expect(await add(ROLE.customer, people.customer, tickets.assigned!.id, "x".repeat(20_001))).toBe("23514");
    expect(await add(ROLE.customer, people.customer, tickets.closed!.id, "hi")).toBe("TKFBD");
    expect(await add(ROLE.agent, people.agent, tickets.ofOther!.id, "hi")).toBe("TKNTF");
    expect(await add(ROLE.customer, people.deactivated, tickets.assigned!.id, "hi")).toBe("TKFBD");
    expect(await add(ROLE.agent, people.demoted, tickets.ofOther!.id, "hi")).toBe("TKNTF");
  });

  it("guards direct inserts with the same rules", async () => {
    const insert = (role: string, actor: string, sql: string, params: unknown[]) => as(role, actor, sql, params);
    const plain = "insert into app_public.ticket_comments (ticket_id, body) values ($1, 'direct')";
    expect(
      codeOf(
        await insert(
          ROLE.customer,
          people.customer,
          "insert into app_public.ticket_comments (ticket_id, body, is_internal) values ($1, 'x', false)",
          [tickets.assigned!.id],
        ),
      ),
    ).toBe("42501");
    expect(
      codeOf(
        await insert(
          ROLE.customer,
          people.customer,
          "insert into app_public.ticket_comments (ticket_id, body, author_id) values ($1, 'x', $2)",
          [tickets.assigned!.id, people.agent],
        ),
      ),
    ).toBe("42501");
    expect(codeOf(await insert(ROLE.customer, people.customer, plain, [tickets.ofOther!.id]))).toBe("42501");
    expect(rowsCount(await insert(ROLE.customer, people.customer, plain, [tickets.assigned!.id]))).toBe(1);
    expect(
      codeOf(
        await insert(
          ROLE.agent,
          people.agent,
          "insert into app_public.ticket_comments (ticket_id, body, is_internal) values ($1, 'x', true)",
          [tickets.ofOther!.id],
        ),
      ),
    ).toBe("42501");
  });

  it.each(["customer", "agent", "admin"] as const)("%s can neither edit nor delete comments", async (who) => {
    for (const sql of [
      "update app_public.ticket_comments set body = 'x'",
      "update app_public.ticket_comments set is_internal = false",
      "delete from app_public.ticket_comments",
    ]) {
      expect(codeOf(await as(ROLE[who], people[who], sql)), sql).toBe("42501");
    }
  });

  it("keeps internal notes and other customers' tickets out of search", async () => {
    const search = async (role: string, actor: string, query: string) =>
      rowsOf(await as(role, actor, "select id from app_public.search_tickets($1)", [query])).map((row) => row.id);
    expect(await search(ROLE.customer, people.customer, "VIP")).toEqual([]);
    expect(await search(ROLE.agent, people.agent, "VIP")).toEqual([tickets.assigned!.id]);
    expect(await search(ROLE.customer, people.customer, "hot")).toEqual([tickets.assigned!.id]);
    expect(await search(ROLE.customer, people.customer, "secret project")).toEqual([]);
    expect(await search(ROLE.customer, people.otherCustomer, "internal")).toEqual([]);
  });
});

describe("histories and the audit log", () => {
  it.each(["ticket_status_history", "ticket_assignment_history"])("%s is readable like its tickets", async (table) => {
    const ticketsIn = async (role: string, actor: string) =>
      rowsOf(await as(role, actor, `select distinct ticket_id from app_public.${table}`)).map((row) => row.ticket_id);
    const customer = await ticketsIn(ROLE.customer, people.customer);
    expect(customer.length).toBeGreaterThan(0);
    expect(customer).not.toContain(tickets.ofOther!.id);
    expect(await ticketsIn(ROLE.agent, people.agent)).not.toContain(tickets.ofOther!.id);
    expect(await ticketsIn(ROLE.admin, people.admin)).toContain(tickets.ofOther!.id);
    expect(await ticketsIn(ROLE.customer, people.deactivated)).toEqual([]);
  });

  it.each(
    ["ticket_status_history", "ticket_assignment_history"].flatMap((table) =>
      (["customer", "agent", "admin"] as const).map((who) => [who, table] as const),
    ),
  )("%s cannot write %s", async (who, table) => {
    for (const sql of [
      `insert into app_public.${table} (ticket_id) values ('${tickets.assigned!.id}')`,
      `update app_public.${table} set changed_at = now()`,
      `delete from app_public.${table}`,
      `truncate app_public.${table}`,
    ]) {
      expect(codeOf(await as(ROLE[who], people[who], sql)), sql).toBe("42501");
    }
  });

  it("is append-only for the owner too, on the parent, every partition and the audit log", async () => {
    const { rows } = await database.current.owner.query<{ name: string }>(
      `select tableoid::regclass::text as name from app_public.ticket_status_history
        where changed_at > now() - interval '1 hour' limit 1`,
    );
    const current = rows[0]!.name;
    for (const table of [
      "app_public.ticket_status_history",
      current,
      "app_private.ticket_status_history_default",
      "app_public.ticket_assignment_history",
    ]) {
      for (const sql of [`update ${table} set changed_at = changed_at`, `delete from ${table}`, `truncate ${table}`]) {
        expect(["42501", "TKFBD"], sql).toContain(codeOf(await asOwner(sql)));
      }
    }
    for (const sql of [
      "update app_private.audit_log set occurred_at = occurred_at",
      "delete from app_private.audit_log",
      "truncate app_private.audit_log",
    ]) {
      expect(["42501", "TKFBD"], sql).toContain(codeOf(await asOwner(sql)));
    }
    const privileges = await database.current.owner.query(
      `select has_table_privilege('ticketing_owner', 'app_public.ticket_status_history', 'UPDATE, DELETE, TRUNCATE') as parent,
              has_table_privilege('ticketing_owner', $1, 'UPDATE, DELETE, TRUNCATE') as partition,
              has_table_privilege('ticketing_owner', 'app_private.audit_log', 'UPDATE, DELETE, TRUNCATE') as audit`,
      [current],
    );
    expect(privileges.rows[0]).toEqual({ parent: false, partition: false, audit: false });
  });

  it("still refuses the owner after it grants itself the privileges back (triggers)", async () => {
    const client = await database.current.owner.connect();
    try {
      await client.query("begin");
      await client.query("grant update, delete, truncate on app_public.ticket_status_history to ticketing_owner");
      for (const sql of [
        "update app_public.ticket_status_history set note = 'x'",
        "delete from app_public.ticket_status_history",
        "truncate app_public.ticket_status_history",
      ]) {
        await client.query("savepoint attempt");
        const code = await client.query(sql).then(
          () => "ok",
          (error: { code: string }) => error.code,
        );
        await client.query("rollback to savepoint attempt");
        expect(code, sql).toBe("TKFBD");
      }
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  it("records who changed what; only admins read it and nobody edits it", async () => {
    const entries = rowsOf(
      await as(
        ROLE.admin,
        people.admin,
        `select * from app_public.audit_log_entries
          where table_name = 'app_public.tickets' and operation = 'UPDATE' and record_id = $1 and actor_id = $2`,
        [tickets.assigned!.id, people.agent],
      ),
    );
    expect(entries.length).toBeGreaterThan(0);
    expect(entries[0]).toMatchObject({ db_role: "ticketing_agent" });
    expect(entries[0]!.old_data).toBeTruthy();
    expect(entries[0]!.new_data).not.toHaveProperty("search");
    const comments = await database.current.owner.query(
      "select count(*)::int as n from app_private.audit_log where table_name = 'app_public.ticket_comments' and operation = 'INSERT'",
    );
    expect(comments.rows[0].n).toBeGreaterThanOrEqual(5);
    for (const who of ["customer", "agent"] as const) {
      expect(codeOf(await as(ROLE[who], people[who], "select * from app_public.audit_log_entries"))).toBe("42501");
    }
    expect(
      rowsOf(await as(ROLE.admin, people.agent, "select count(*)::int as n from app_public.audit_log_entries"))[0]!.n,
    ).toBe(0);
    expect(codeOf(await as(ROLE.admin, people.admin, "update app_public.audit_log_entries set table_name = 'x'"))).toBe(
      "42501",
    );
    expect(codeOf(await as(ROLE.admin, people.admin, "delete from app_public.audit_log_entries"))).toBe("42501");
  });
});

describe("workflow and SLA tables", () => {
  it.each(["customer", "agent", "admin"] as const)("%s reads the workflow and SLA policies", async (who) => {
    expect(
      rowsOf(await as(ROLE[who], people[who], "select count(*)::int as n from app_public.ticket_transitions"))[0]!.n,
    ).toBe(12);
    expect(
      rowsOf(await as(ROLE[who], people[who], "select count(*)::int as n from app_public.sla_policies"))[0]!.n,
    ).toBe(4);
  });

  it("hides them from deactivated users", async () => {
    expect(
      rowsOf(
        await as(ROLE.customer, people.deactivated, "select count(*)::int as n from app_public.ticket_transitions"),
      )[0]!.n,
    ).toBe(0);
  });

  it.each(["customer", "agent"] as const)("%s cannot change them", async (who) => {
    for (const sql of [
      "insert into app_public.ticket_transitions values ('closed', 'open', '{customer}')",
      "update app_public.ticket_transitions set allowed_roles = '{customer}'",
      "delete from app_public.ticket_transitions",
      "update app_public.sla_policies set resolution_minutes = 1",
    ]) {
      expect(codeOf(await as(ROLE[who], people[who], sql)), sql).toBe("42501");
    }
  });

  it("lets admins edit SLA minutes only", async () => {
    expect(codeOf(await as(ROLE.admin, people.admin, "update app_public.sla_policies set priority = 'low'"))).toBe(
      "42501",
    );
    expect(codeOf(await as(ROLE.admin, people.admin, "delete from app_public.sla_policies"))).toBe("42501");
    expect(codeOf(await as(ROLE.admin, people.admin, "insert into app_public.sla_policies values ('low', 1, 1)"))).toBe(
      "42501",
    );
    const same = "update app_public.sla_policies set resolution_minutes = resolution_minutes where priority = 'low'";
    expect(rowsCount(await as(ROLE.admin, people.admin, same))).toBe(1);
    expect(rowsCount(await as(ROLE.admin, people.deactivated, same))).toBe(0);
  });
});

describe("after all of the above", () => {
  it("keeps the history invariant", async () => {
    await expectHistoryInvariant(database.current.owner);
  });
});
