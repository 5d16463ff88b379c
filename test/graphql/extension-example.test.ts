import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { makeTicket, makeUser } from "../support/fixtures.ts";

/**
 * The worked example of docs/extending.md: a SQL function added in a
 * migration appears in GraphQL with no TypeScript change, and counts only
 * what row-level security lets the caller see.
 */
const database = useTestDatabase();
const api = useTestApi(database);
let customer: string;
let agent: string;

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await makeUser(owner, "Badge Customer", "customer");
  const other = await makeUser(owner, "Other Customer", "customer");
  agent = await makeUser(owner, "Badge Agent", "agent");
  await makeTicket(owner, customer, "open");
  await makeTicket(owner, customer, "in_progress", agent);
  await makeTicket(owner, customer, "closed", agent);
  await makeTicket(owner, other, "in_progress", agent);
  await makeTicket(owner, other, "open");
});

describe("myOpenTicketCount", () => {
  const QUERY = "{ myOpenTicketCount }";

  it("counts a customer's own unclosed tickets", async () => {
    const response = await graphql(api.current.request, QUERY, {}, bearer(customer, "ticketing_customer"));
    expect(response.body).toEqual({ data: { myOpenTicketCount: 2 } });
  });

  it("counts an agent's assigned unclosed tickets", async () => {
    const response = await graphql(api.current.request, QUERY, {}, bearer(agent, "ticketing_agent"));
    expect(response.body).toEqual({ data: { myOpenTicketCount: 2 } });
  });

  it("is not available to anonymous visitors", async () => {
    const response = await graphql(api.current.request, QUERY);
    expect(response.body.errors[0].extensions.code).toBe("FORBIDDEN");
  });
});
