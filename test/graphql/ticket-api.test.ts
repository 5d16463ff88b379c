import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { makeTicket, makeUser } from "../support/fixtures.ts";

/**
 * The ticket lifecycle through GraphQL, as frontends use it: stable error
 * codes, the workflow edited as data, queues ordered by due time, search
 * with pagination, and internal notes unreachable for customers by any path.
 */
const database = useTestDatabase();
const api = useTestApi(database);
const people = {} as Record<"customer" | "otherCustomer" | "agent" | "admin", string>;
const tokens = {} as Record<keyof typeof people, string>;
let working: Record<string, any>;
let internalNoteId: string;

const call = (query: string, variables: Record<string, unknown>, who: keyof typeof people) =>
  graphql(api.current.request, query, variables, tokens[who]);

beforeAll(async () => {
  const owner = database.current.owner;
  people.customer = await makeUser(owner, "Customer", "customer");
  people.otherCustomer = await makeUser(owner, "Other Customer", "customer");
  people.agent = await makeUser(owner, "Agent", "agent");
  people.admin = await makeUser(owner, "Admin", "admin");
  tokens.customer = bearer(people.customer, "ticketing_customer");
  tokens.otherCustomer = bearer(people.otherCustomer, "ticketing_customer");
  tokens.agent = bearer(people.agent, "ticketing_agent");
  tokens.admin = bearer(people.admin, "ticketing_admin");
  working = await makeTicket(owner, people.customer, "in_progress", people.agent, {
    subject: "Quasar console flickers",
  });
  const { rows } = await owner.query(
    "insert into app_public.ticket_comments (ticket_id, author_id, body, is_internal) values ($1, $2, 'Internal: quasar vendor bug 77', true) returning id",
    [working.id, people.agent],
  );
  internalNoteId = rows[0].id;
  await owner.query(
    "insert into app_public.ticket_comments (ticket_id, author_id, body) values ($1, $2, 'Public: quasar fix coming')",
    [working.id, people.agent],
  );
});

const TRANSITION = `mutation Move($ticketId: UUID!, $toStatus: TicketStatus!) {
  transitionTicket(input: { ticketId: $ticketId, toStatus: $toStatus, note: "via GraphQL" }) { ticket { rowId status } }
}`;

describe("lifecycle errors over HTTP", () => {
  it.each([
    ["INVALID_TRANSITION", "agent", "closed"],
    ["INVALID_TRANSITION", "customer", "resolved"],
    ["NOT_FOUND", "otherCustomer", "closed"],
  ] as const)("answers %s to %s moving to %s, with a clean message", async (code, who, toStatus) => {
    const response = await call(TRANSITION, { ticketId: working.id, toStatus }, who);
    expect(response.status).toBe(200);
    expect(response.body.data.transitionTicket).toBeNull();
    expect(response.body.errors[0].extensions.code).toBe(code);
    expect(JSON.stringify(response.body)).not.toMatch(/select|app_public|SQLSTATE|\bat \S+:\d+/i);
  });

  it("answers FORBIDDEN when an agent takes work for someone else", async () => {
    const open = await makeTicket(database.current.owner, people.customer, "open");
    const response = await call(
      `mutation { assignTicket(input: { ticketId: "${open.id}", agentId: "${people.admin}" }) { ticket { rowId } } }`,
      {},
      "agent",
    );
    expect(response.body.errors[0].extensions.code).toBe("FORBIDDEN");
  });

  it.each([
    ["only white space", " \n\t "],
    ["over 20,000 characters", "x".repeat(20_001)],
  ])("answers INVALID_INPUT with the constraint's message to a comment of %s, and writes nothing", async (_, body) => {
    const count = async () =>
      (
        await database.current.owner.query(
          "select count(*)::int as n from app_public.ticket_comments where ticket_id = $1",
          [working.id],
        )
      ).rows[0].n;
    const before = await count();
    const response = await call(
      "mutation Reply($ticketId: UUID!, $body: String!) { addComment(input: { ticketId: $ticketId, body: $body }) { ticketComment { rowId } } }",
      { ticketId: working.id, body },
      "customer",
    );
    expect(response.body.errors[0].extensions.code).toBe("INVALID_INPUT");
    expect(response.body.errors[0].message).toBe("A comment must contain text and be at most 20000 characters");
    expect(JSON.stringify(response.body)).not.toMatch(/ticket_comments|body_length|constraint/i);
    expect(await count()).toBe(before);
  });

  it("answers INVALID_INPUT with the constraint's message to a note over 2,000 characters, and moves nothing", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    const response = await call(
      `mutation Move($ticketId: UUID!, $note: String) { transitionTicket(input: { ticketId: $ticketId, toStatus: resolved, note: $note }) { ticket { status } } }`,
      { ticketId: ticket.id, note: "n".repeat(2_001) },
      "agent",
    );
    expect(response.body.errors[0].extensions.code).toBe("INVALID_INPUT");
    expect(response.body.errors[0].message).toBe("A note must be at most 2000 characters");
    const { rows } = await database.current.owner.query("select status from app_public.tickets where id = $1", [
      ticket.id,
    ]);
    expect(rows[0].status).toBe("in_progress");
  });

  it("moves a ticket and returns it under the type's name", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    const response = await call(TRANSITION, { ticketId: ticket.id, toStatus: "resolved" }, "agent");
    expect(response.body).toEqual({ data: { transitionTicket: { ticket: { rowId: ticket.id, status: "resolved" } } } });
  });
});

describe("the workflow as data", () => {
  const ADD = `mutation { createTicketTransition(input: { ticketTransition: { fromStatus: open, toStatus: resolved, allowedRoles: [agent] } }) { ticketTransition { fromStatus toStatus } } }`;
  const REMOVE = `mutation { deleteTicketTransition(input: { fromStatus: open, toStatus: resolved }) { ticketTransition { fromStatus } } }`;

  it("lets admins add a path that the next call obeys, and remove it again", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "open", people.agent);
    const resolve = () => call(TRANSITION, { ticketId: ticket.id, toStatus: "resolved" }, "agent");
    expect((await resolve()).body.errors[0].extensions.code).toBe("INVALID_TRANSITION");
    expect((await call(ADD, {}, "agent")).body.errors[0].extensions.code).toBe("FORBIDDEN");
    expect((await call(ADD, {}, "admin")).body.data.createTicketTransition.ticketTransition).toEqual({
      fromStatus: "open",
      toStatus: "resolved",
    });
    expect((await resolve()).body.data.transitionTicket.ticket.status).toBe("resolved");
    expect((await call(REMOVE, {}, "admin")).body.data.deleteTicketTransition.ticketTransition).toEqual({
      fromStatus: "open",
    });
    const another = await makeTicket(database.current.owner, people.customer, "open", people.agent);
    const refused = await call(TRANSITION, { ticketId: another.id, toStatus: "resolved" }, "agent");
    expect(refused.body.errors[0].extensions.code).toBe("INVALID_TRANSITION");
  });
});

describe("queues and search", () => {
  it("orders an agent's queue by due time", async () => {
    const response = await call(
      `query Queue($agentId: UUID!) {
        tickets(condition: { agentId: $agentId }, orderBy: [RESOLUTION_DUE_AT_ASC], first: 50) { nodes { resolutionDueAt } }
      }`,
      { agentId: people.agent },
      "agent",
    );
    const due = response.body.data.tickets.nodes.map((node: { resolutionDueAt: string }) =>
      Date.parse(node.resolutionDueAt),
    );
    expect(due.length).toBeGreaterThan(2);
    expect(due).toEqual([...due].sort((a, b) => a - b));
  });

  it("pages through search results", async () => {
    const owner = database.current.owner;
    for (let n = 0; n < 5; n += 1)
      await makeTicket(owner, people.customer, "open", null, { subject: `Nebula sync fails ${n}` });
    const page = (after: string | null) =>
      call(
        `query Search($after: Cursor) { searchTickets(query: "nebula", first: 2, after: $after) { nodes { subject } pageInfo { hasNextPage endCursor } } }`,
        { after },
        "customer",
      );
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 5; guard += 1) {
      const result: any = (await page(after)).body.data.searchTickets;
      seen.push(...result.nodes.map((node: { subject: string }) => node.subject));
      if (!result.pageInfo.hasNextPage) break;
      after = result.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4].map((n) => `Nebula sync fails ${n}`));
  });
});

describe("internal notes never reach a customer", () => {
  const BODIES = /Internal: quasar/;

  it("through the ticket's nested comments", async () => {
    const response = await call(
      `query One($id: UUID!) { ticket(rowId: $id) { ticketComments { nodes { body isInternal } } } }`,
      { id: working.id },
      "customer",
    );
    const bodies = response.body.data.ticket.ticketComments.nodes.map((node: { body: string }) => node.body);
    expect(bodies).toEqual(["Public: quasar fix coming"]);
    const staff = await call(
      `query One($id: UUID!) { ticket(rowId: $id) { ticketComments { totalCount } } }`,
      { id: working.id },
      "agent",
    );
    expect(staff.body.data.ticket.ticketComments.totalCount).toBe(2);
  });

  it("through the comments list, a lookup by id, a node id, and search", async () => {
    const list = await call(`{ ticketComments { nodes { body } } }`, {}, "customer");
    expect(JSON.stringify(list.body)).not.toMatch(BODIES);
    const byRowId = await call(
      `query C($id: UUID!) { ticketComment(rowId: $id) { body } }`,
      { id: internalNoteId },
      "customer",
    );
    expect(byRowId.body.data.ticketComment).toBeNull();
    const staff = await call(
      `query C($id: UUID!) { ticketComment(rowId: $id) { id body } }`,
      { id: internalNoteId },
      "agent",
    );
    const nodeId = staff.body.data.ticketComment.id;
    const byNode = await call(
      `query N($id: ID!) { node(id: $id) { ... on TicketComment { body } } }`,
      { id: nodeId },
      "customer",
    );
    expect(byNode.body.data.node).toBeNull();
    const byNodeField = await call(
      `query N($id: ID!) { ticketCommentById(id: $id) { body } }`,
      { id: nodeId },
      "customer",
    );
    expect(byNodeField.body.data.ticketCommentById).toBeNull();
    const search = await call(`{ searchTickets(query: "vendor bug") { nodes { rowId } } }`, {}, "customer");
    expect(search.body.data.searchTickets.nodes).toEqual([]);
  });

  it("and another customer's ticket stays invisible by any lookup", async () => {
    const byRowId = await call(
      `query T($id: UUID!) { ticket(rowId: $id) { subject } }`,
      { id: working.id },
      "otherCustomer",
    );
    expect(byRowId.body.data.ticket).toBeNull();
    const byNumber = await call(
      `query T($n: BigInt!) { ticketByNumber(number: $n) { subject } }`,
      { n: String(working.number) },
      "otherCustomer",
    );
    expect(byNumber.body.data.ticketByNumber).toBeNull();
    const search = await call(`{ searchTickets(query: "quasar") { nodes { rowId } } }`, {}, "otherCustomer");
    expect(search.body.data.searchTickets.nodes).toEqual([]);
  });
});

describe("schema shape", () => {
  it("offers no raw write of status, agent, customer or timestamps", async () => {
    const response = await call(`{ __type(name: "TicketPatch") { inputFields { name } } }`, {}, "admin");
    const fields = response.body.data.__type.inputFields.map((field: { name: string }) => field.name).sort();
    expect(fields).toEqual(["description", "organizationId", "priority", "subject"]);
    const mutations = await call(`{ __schema { mutationType { fields { name } } } }`, {}, "admin");
    const names = mutations.body.data.__schema.mutationType.fields.map((field: { name: string }) => field.name);
    expect(names).not.toContain("deleteTicket");
    expect(names).not.toContain("createTicketComment");
    expect(names).not.toContain("createTicketStatusHistory");
    expect(names).not.toContain("updateTicketStatusHistory");
  });
});
