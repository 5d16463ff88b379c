import { getIntrospectionQuery } from "postgraphile/graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DOCUMENT_LIMITS } from "../../src/graphql/document-limits.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, startTestApi, useTestApi } from "../support/test-api.ts";
import { commentBy, makeTicket, makeUser } from "../support/fixtures.ts";

/**
 * Document limits and query cost through the real API: ordinary frontend
 * queries pass well inside the budget; size, tokens, depth, fields, cost,
 * page size and mutation count are refused with a coded 400 before
 * execution; lists without `first` read the default page.
 */
const database = useTestDatabase();
const api = useTestApi(database, { production: true, graphiql: false });
const limits = DEFAULT_DOCUMENT_LIMITS;
let customer: string;
let agent: string;
let ticketId: string;

beforeAll(async () => {
  const owner = database.current.owner;
  const customerId = await makeUser(owner, "Limits Customer", "customer");
  const agentId = await makeUser(owner, "Limits Agent", "agent");
  customer = bearer(customerId, "ticketing_customer");
  agent = bearer(agentId, "ticketing_agent");
  // More tickets than the default page, each with a few comments.
  for (let index = 0; index < limits.defaultPageSize + 5; index++) {
    const ticket = await makeTicket(owner, customerId, "in_progress", agentId, { subject: `Limits ticket ${index}` });
    ticketId = ticket.id;
    for (let comment = 0; comment < 3; comment++) await commentBy(owner, ticket.id, agentId, `Comment ${comment}`);
  }
});

function expectRefused(response: { status: number; body: any }, code: string) {
  expect(response.status).toBe(400);
  expect(response.body.errors).toHaveLength(1);
  expect(response.body.errors[0].extensions.code).toBe(code);
  expect(response.body.data).toBeUndefined();
}

const TICKET_PAGE = `query MyTickets {
  tickets(first: 20, orderBy: [CREATED_AT_DESC]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      rowId number subject status priority createdAt resolutionDueAt
      customer { displayName }
      agent { displayName }
      ticketComments(first: 20) { nodes { rowId body createdAt isInternal author { displayName role } } }
    }
  }
}`;

const TICKET_DETAIL = `query TicketDetail($id: UUID!) {
  ticket(rowId: $id) {
    rowId number subject description status priority createdAt updatedAt
    firstResponseDueAt resolutionDueAt firstResponseBreached resolutionBreached
    customer { rowId displayName }
    agent { rowId displayName }
    ticketComments(first: 50) { totalCount nodes { rowId body isInternal createdAt author { displayName role } } }
    ticketStatusHistories(first: 50) { nodes { fromStatus toStatus changedAt note } }
    ticketAssignmentHistories(first: 50) { nodes { fromAgentId toAgentId changedAt } }
  }
}`;

const QUEUE = `query Queue { myQueue(first: 50) { nodes { rowId number subject status priority resolutionDueAt customer { displayName } } } }`;

describe("ordinary frontend queries", () => {
  it.each([
    ["a page of 20 tickets with their comments", TICKET_PAGE, "customer"],
    ["ticket detail with history and comments", TICKET_DETAIL, "agent"],
    ["the agent's queue", QUEUE, "agent"],
  ] as const)("serves %s", async (_name, query, who) => {
    const response = await graphql(api.current.request, query, { id: ticketId }, who === "agent" ? agent : customer);
    expect(response.body.errors).toBeUndefined();
    expect(response.status).toBe(200);
  });

  it("serves the standard introspection query (introspection stays on by default)", async () => {
    const response = await graphql(api.current.request, getIntrospectionQuery());
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data.__schema.types.length).toBeGreaterThan(20);
  });
});

describe("page sizes", () => {
  it("reads the default page for a connection without first or last", async () => {
    const response = await graphql(api.current.request, "{ tickets { totalCount nodes { rowId } } }", {}, customer);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data.tickets.totalCount).toBe(limits.defaultPageSize + 5);
    expect(response.body.data.tickets.nodes).toHaveLength(limits.defaultPageSize);
  });

  it("reads the default page when first is a variable left null", async () => {
    const query = "query Page($n: Int) { tickets(first: $n) { nodes { rowId } } }";
    const response = await graphql(api.current.request, query, { n: null }, customer);
    expect(response.body.data.tickets.nodes).toHaveLength(limits.defaultPageSize);
  });

  it("honours last without first", async () => {
    const response = await graphql(api.current.request, "{ tickets(last: 2) { nodes { rowId } } }", {}, customer);
    expect(response.body.data.tickets.nodes).toHaveLength(2);
  });

  it("honours first below the maximum, literal or variable", async () => {
    const literal = await graphql(api.current.request, "{ tickets(first: 22) { nodes { rowId } } }", {}, customer);
    expect(literal.body.data.tickets.nodes).toHaveLength(22);
    const variable = await graphql(
      api.current.request,
      "query Page($n: Int) { tickets(first: $n) { nodes { rowId } } }",
      { n: 3 },
      customer,
    );
    expect(variable.body.data.tickets.nodes).toHaveLength(3);
  });

  it("refuses a page over the maximum, literal, variable or variable default", async () => {
    expectRefused(
      await graphql(api.current.request, "{ tickets(first: 1000000) { nodes { rowId } } }", {}, customer),
      "PAGE_TOO_LARGE",
    );
    const byVariable = "query Page($n: Int) { tickets(first: $n) { nodes { rowId } } }";
    expectRefused(
      await graphql(api.current.request, byVariable, { n: limits.maxPageSize + 1 }, customer),
      "PAGE_TOO_LARGE",
    );
    const byDefault = "query Page($n: Int = 5000) { tickets(last: $n) { nodes { rowId } } }";
    const response = await graphql(api.current.request, byDefault, {}, customer);
    expectRefused(response, "PAGE_TOO_LARGE");
    expect(response.body.errors[0].message).toMatch(/tickets.*5000.*at most 100/);
  });

  it("refuses an offset over the maximum and serves one within it", async () => {
    const query = "query Skip($skip: Int) { tickets(first: 2, offset: $skip) { nodes { rowId } } }";
    const refused = await graphql(api.current.request, query, { skip: limits.maxOffset + 1 }, customer);
    expectRefused(refused, "PAGE_TOO_LARGE");
    expect(refused.body.errors[0].message).toMatch(/tickets.*skips.*offset.*cursors/);
    const served = await graphql(api.current.request, query, { skip: 1 }, customer);
    expect(served.body.data.tickets.nodes).toHaveLength(2);
  });
});

describe("refusals before execution", () => {
  it("refuses a document over the size limit", async () => {
    const query = `{ __typename ${"#".repeat(limits.maxDocumentBytes)}\n }`;
    expectRefused(await graphql(api.current.request, query), "QUERY_TOO_COMPLEX");
  });

  it("refuses a document over the token limit", async () => {
    const query = `{ ${Array.from({ length: limits.maxTokens }, (_, index) => `a${index}: __typename`).join(" ")} }`;
    expect(Buffer.byteLength(query)).toBeLessThan(limits.maxDocumentBytes);
    const response = await graphql(api.current.request, query);
    expectRefused(response, "QUERY_TOO_COMPLEX");
    expect(response.body.errors[0].message).toContain("tokens");
  });

  it("refuses too many fields, counting aliases and expanded fragments", async () => {
    // Repeated fields: one token each, so the field limit, not the token limit, refuses them.
    const repeated = `{ ${"__typename ".repeat(limits.maxFields + 1)}}`;
    const fields = await graphql(api.current.request, repeated);
    expectRefused(fields, "QUERY_TOO_COMPLEX");
    expect(fields.body.errors[0].message).toContain(`${limits.maxFields + 1} fields`);
    const doubling = ["fragment F0 on Query { __typename }"];
    for (let level = 1; level <= 10; level++)
      doubling.push(`fragment F${level} on Query { ...F${level - 1} ...F${level - 1} }`);
    const response = await graphql(api.current.request, `{ ...F10 } ${doubling.join(" ")}`);
    expectRefused(response, "QUERY_TOO_COMPLEX");
    expect(response.body.errors[0].message).toContain("1024 fields");
  });

  it("refuses nesting deeper than the limit (the Relay root field)", async () => {
    const depth = limits.maxDepth + 1;
    const query = `${"{ query ".repeat(depth - 1)}{ __typename }${" }".repeat(depth - 1)}`;
    const response = await graphql(api.current.request, query);
    expectRefused(response, "QUERY_TOO_COMPLEX");
    expect(response.body.errors[0].message).toContain(`${depth} levels`);
  });

  it("refuses introspection lists nested inside themselves", async () => {
    const query = "{ __schema { types { fields { type { fields { name } } } } } }";
    expectRefused(await graphql(api.current.request, query), "QUERY_TOO_COMPLEX");
  });

  it("refuses nested lists whose pages multiply past the cost limit", async () => {
    const query = `{ tickets { nodes { customer { ticketsByCustomerId { nodes {
      customer { ticketsByCustomerId { nodes { rowId subject } } } } } } } } }`;
    const response = await graphql(api.current.request, query, {}, customer);
    expectRefused(response, "QUERY_TOO_COMPLEX");
    expect(response.body.errors[0].message).toMatch(/could return \d+ values/);
  });

  it("refuses more mutation fields than the limit in one request", async () => {
    const fields = Array.from(
      { length: limits.maxMutationFields + 1 },
      (_, index) =>
        `m${index}: createTicket(input: { ticket: { subject: "Spam ${index}", description: "x" } }) { ticket { rowId } }`,
    );
    const response = await graphql(api.current.request, `mutation { ${fields.join(" ")} }`, {}, customer);
    expectRefused(response, "QUERY_TOO_COMPLEX");
    expect(response.body.errors[0].message).toContain("mutations");
    const { rows } = await database.current.owner.query(
      "select count(*)::int as n from app_public.tickets where subject like 'Spam %'",
    );
    expect(rows[0].n).toBe(0);
  });

  it("codes syntax errors", async () => {
    const response = await graphql(api.current.request, "{ __typename");
    expectRefused(response, "GRAPHQL_PARSE_FAILED");
    expect(response.body.errors[0].message).toContain("Syntax Error");
  });
});

describe("production errors", () => {
  it("answers validation errors coded and without suggestions", async () => {
    const response = await graphql(api.current.request, "{ tickts { nodes { rowId } } }", {}, customer);
    expect(response.body.errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(response.body.errors[0].message).toContain("tickts");
    expect(JSON.stringify(response.body)).not.toMatch(/Did you mean/);
  });

  it("answers variable errors without suggestions", async () => {
    const query = "query Status($s: TicketStatus!) { tickets(condition: { status: $s }) { totalCount } }";
    const response = await graphql(api.current.request, query, { s: "opne" }, customer);
    expect(response.body.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(response.body)).not.toMatch(/Did you mean/);
  });
});

describe("introspection configured off", () => {
  it("refuses __schema and __type with GRAPHQL_VALIDATION_FAILED and keeps __typename", async () => {
    const closed = await startTestApi(database.current, { production: true, graphiql: false, introspection: false });
    try {
      const schema = await graphql(closed.request, "{ __schema { queryType { name } } }");
      expect(schema.body.errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(schema.body.data).toBeUndefined();
      const type = await graphql(closed.request, '{ __type(name: "Ticket") { name } }');
      expect(type.body.errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
      const typename = await graphql(closed.request, "{ __typename }");
      expect(typename.body).toEqual({ data: { __typename: "Query" } });
    } finally {
      await closed.api.close();
    }
  });
});
