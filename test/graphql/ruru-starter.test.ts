import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, useTestApi } from "../support/test-api.ts";
import { makeUser } from "../support/fixtures.ts";
import { RURU_STARTER_QUERY } from "../../src/graphql/ruru-starter.ts";

/** Ruru (GraphiQL) opens on a starter query that explains the Authorization header. */
const database = useTestDatabase();
const api = useTestApi(database);

describe("/graphiql", () => {
  it("serves Ruru with the starter query and the Authorization note", async () => {
    const response = await api.current.request.get("/graphiql").set("Accept", "text/html");
    expect(response.status).toBe(200);
    expect(response.text).toContain("defaultQuery");
    expect(response.text).toContain("Bearer");
    expect(response.text).toMatch(/Authorization/);
    expect(response.text).toMatch(/query MyTickets/);
    expect(response.text).toMatch(/docs\/frontend\.md/);
  });

  it("starts with operations that run: MyTickets as a signed-in customer, Login refused only for its placeholder", async () => {
    const customer = await makeUser(database.current.owner, "Starter Customer", "customer");
    const run = (operationName: string, authorization?: string) => {
      const call = api.current.request.post("/graphql").set("Content-Type", "application/json");
      if (authorization) call.set("Authorization", authorization);
      return call.send({ query: RURU_STARTER_QUERY, operationName });
    };
    const tickets = await run("MyTickets", bearer(customer, "ticketing_customer"));
    expect(tickets.body).toEqual({ data: { tickets: { totalCount: 0, nodes: [] } } });
    const login = await run("Login");
    expect(login.body.errors[0].extensions.code).toBe("INVALID_CREDENTIALS");
  });
});
