import { readFileSync } from "node:fs";
import { buildSchema, getIntrospectionQuery, parse } from "postgraphile/graphql";
import { describe, expect, it } from "vitest";
import { DEFAULT_DOCUMENT_LIMITS } from "../../src/graphql/document-limits.ts";
import { measureDocument } from "../../src/graphql/query-cost.ts";

/**
 * The measure behind the document limits, on the committed schema: what
 * ordinary frontend queries cost against the budget, how pages multiply, and
 * that hostile documents are measured in linear time.
 */
const schema = buildSchema(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"));
const limits = DEFAULT_DOCUMENT_LIMITS;
const options = { defaultPageSize: limits.defaultPageSize };

function measure(query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  return measureDocument(schema, parse(query), operationName, variables, options);
}

const ORDINARY = {
  "a page of 20 tickets with their comments": `query MyTickets {
    tickets(first: 20, orderBy: [CREATED_AT_DESC]) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes {
        rowId number subject status priority createdAt resolutionDueAt
        customer { displayName } agent { displayName }
        ticketComments(first: 20) { nodes { rowId body createdAt isInternal author { displayName role } } }
      }
    }
  }`,
  "ticket detail with history and comments": `query TicketDetail($id: UUID!) {
    ticket(rowId: $id) {
      rowId number subject description status priority createdAt updatedAt
      customer { rowId displayName } agent { rowId displayName }
      ticketComments(first: 50) { totalCount nodes { rowId body isInternal createdAt author { displayName role } } }
      ticketStatusHistories(first: 50) { nodes { fromStatus toStatus changedAt note } }
      ticketAssignmentHistories(first: 50) { nodes { fromAgentId toAgentId changedAt } }
    }
  }`,
  "the agent's queue": `query Queue { myQueue(first: 50) { nodes { rowId number subject status priority resolutionDueAt customer { displayName } } } }`,
  "the standard introspection query": getIntrospectionQuery(),
};

describe("ordinary queries", () => {
  it.each(Object.entries(ORDINARY))("%s stays well inside every limit", (_name, query) => {
    const { document, operation } = measure(query, { id: "00000000-0000-0000-0000-000000000000" });
    expect(document.fields).toBeLessThan(limits.maxFields / 2);
    expect(document.depth).toBeLessThan(limits.maxDepth);
    expect(document.introspectionCycle).toBeUndefined();
    expect(operation!.cost).toBeLessThan(limits.maxCost / 4);
  });

  it("reports the measured numbers", () => {
    const costs = Object.fromEntries(
      Object.entries(ORDINARY).map(([name, query]) => [name, measure(query).operation!.cost]),
    );
    // Pages of 20 tickets × 20 comments × 7 fields dominate the first.
    expect(costs["a page of 20 tickets with their comments"]).toBeGreaterThan(20 * 20 * 7);
  });
});

describe("cost", () => {
  it("multiplies the pages of nested connections, counting the default page where none is given", () => {
    const explicit = measure("{ tickets(first: 10) { nodes { ticketComments(first: 5) { nodes { body } } } } }")
      .operation!;
    // tickets 1 + 10 × (nodes 1 + ticketComments 1 + 5 × (nodes 1 + body 1))
    expect(explicit.cost).toBe(1 + 10 * (1 + 1 + 5 * (1 + 1)));
    const implicit = measure("{ tickets { nodes { rowId } } }").operation!;
    expect(implicit.cost).toBe(1 + limits.defaultPageSize * 2);
  });

  it("resolves first and last from variables and their defaults", () => {
    const query =
      "query Q($n: Int, $m: Int = 70) { a: tickets(first: $n) { totalCount } b: tickets(last: $m) { totalCount } }";
    expect(measure(query, { n: 40 }).operation!.largestPage).toEqual({ field: "tickets", size: 70 });
    expect(measure(query, { n: 900, m: 1 }).operation!.largestPage).toEqual({ field: "tickets", size: 900 });
  });

  it("counts mutation root fields through fragments", () => {
    const query = `mutation { ...Two ...Two } fragment Two on Mutation { a: logout { clientMutationId } b: logout { clientMutationId } }`;
    const operation = measure(query).operation!;
    expect(operation.type).toBe("mutation");
    expect(operation.rootFields).toBe(4);
  });
});

describe("hostile documents are measured in linear time", () => {
  it("fragments doubling each other 30 levels deep: 2^30 fields, measured at once", () => {
    const fragments = ["fragment F0 on Query { __typename }"];
    for (let level = 1; level <= 30; level++)
      fragments.push(`fragment F${level} on Query { ...F${level - 1} ...F${level - 1} }`);
    const started = performance.now();
    const { document } = measure(`{ ...F30 } ${fragments.join("\n")}`);
    const elapsed = performance.now() - started;
    expect(document.fields).toBe(2 ** 30);
    // Generous: the walk visits 31 fragments; graphql-js validation took seconds on this.
    expect(elapsed).toBeLessThan(1_000);
  });

  it("fragment cycles end the walk (validation reports them)", () => {
    const { document } = measure("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
    expect(document.fields).toBe(0);
  });

  it("the Relay root field nested 200 deep", () => {
    const query = `${"{ query ".repeat(200)}{ __typename }${" }".repeat(200)}`;
    expect(measure(query).document.depth).toBe(201);
  });

  it("introspection lists nested inside themselves", () => {
    expect(measure("{ __schema { types { fields { type { fields { name } } } } } }").document.introspectionCycle).toBe(
      "fields",
    );
    expect(
      measure('{ __type(name: "Query") { interfaces { possibleTypes { interfaces { name } } } } }').document
        .introspectionCycle,
    ).toBe("interfaces");
  });
});
