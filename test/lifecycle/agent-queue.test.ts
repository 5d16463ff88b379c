import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { makeTicket, makeUser } from "../support/fixtures.ts";

/** myQueue: an agent's unfinished work and the open pool, nearest deadline first. */
const database = useTestDatabase();
const api = useTestApi(database);
let agent: string;
let other: string;
const expected: string[] = [];

beforeAll(async () => {
  const owner = database.current.owner;
  const customer = await makeUser(owner, "Queue Customer", "customer");
  agent = await makeUser(owner, "Queue Agent", "agent");
  other = await makeUser(owner, "Other Agent", "agent");
  const due = async (status: string, agentId: string | null, hours: number) => {
    const ticket = await makeTicket(owner, customer, status, agentId);
    await owner.query(
      "update app_public.tickets set resolution_due_at = created_at + make_interval(hours => $2) where id = $1",
      [ticket.id, hours],
    );
    return ticket.id as string;
  };
  const mineLate = await due("in_progress", agent, 30);
  const poolSoon = await due("open", null, 2);
  const mineWaiting = await due("waiting_on_customer", agent, 10);
  await due("closed", agent, 1);
  await due("resolved", agent, 1);
  await due("in_progress", other, 1);
  expected.push(poolSoon, mineWaiting, mineLate);
});

describe("myQueue", () => {
  it("lists the agent's unfinished tickets and the open pool by due time, nothing else", async () => {
    const response = await graphql(
      api.current.request,
      "{ myQueue(first: 50) { nodes { rowId } } }",
      {},
      bearer(agent, "ticketing_agent"),
    );
    expect(response.body.data.myQueue.nodes.map((node: { rowId: string }) => node.rowId)).toEqual(expected);
  });

  it("pages", async () => {
    const first = await graphql(
      api.current.request,
      "{ myQueue(first: 2) { nodes { rowId } pageInfo { hasNextPage endCursor } } }",
      {},
      bearer(agent, "ticketing_agent"),
    );
    const page = first.body.data.myQueue;
    expect(page.nodes.map((node: { rowId: string }) => node.rowId)).toEqual(expected.slice(0, 2));
    const rest = await graphql(
      api.current.request,
      "query Q($after: Cursor) { myQueue(first: 2, after: $after) { nodes { rowId } } }",
      { after: page.pageInfo.endCursor },
      bearer(agent, "ticketing_agent"),
    );
    expect(rest.body.data.myQueue.nodes.map((node: { rowId: string }) => node.rowId)).toEqual(expected.slice(2));
  });

  it("is not for customers", async () => {
    const customer = await makeUser(database.current.owner, "Curious Customer", "customer");
    const response = await graphql(
      api.current.request,
      "{ myQueue { nodes { rowId } } }",
      {},
      bearer(customer, "ticketing_customer"),
    );
    expect(response.body.errors[0].extensions.code).toBe("FORBIDDEN");
  });
});
