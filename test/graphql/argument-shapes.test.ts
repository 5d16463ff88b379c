import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { makeTicket, makeUser } from "../support/fixtures.ts";

/**
 * The shape of arguments as a typed client sees them: required arguments are
 * non-null (refused before the database), a mutation without required input
 * is callable without `input`, ticket numbers work as plain integers.
 */
const database = useTestDatabase();
const api = useTestApi(database);
let customer: string;
let agent: string;
let admin: string;

beforeAll(async () => {
  const owner = database.current.owner;
  customer = bearer(await makeUser(owner, "Customer", "customer"), "ticketing_customer");
  agent = bearer(await makeUser(owner, "Agent", "agent"), "ticketing_agent");
  admin = bearer(await makeUser(owner, "Admin", "admin"), "ticketing_admin");
});

const send = (query: string, variables: Record<string, unknown>, who: string) =>
  graphql(api.current.request, query, variables, who);

describe("required arguments", () => {
  it.each([
    [
      "a literal null",
      `mutation { transitionTicket(input: { ticketId: null, toStatus: resolved }) { ticket { id } } }`,
      {},
    ],
    ["a missing argument", `mutation { transitionTicket(input: { toStatus: resolved }) { ticket { id } } }`, {}],
    [
      "a null variable",
      `mutation ($t: UUID) { transitionTicket(input: { ticketId: $t, toStatus: resolved }) { ticket { id } } }`,
      { t: null },
    ],
    ["search without a query", `{ searchTickets(first: 1) { totalCount } }`, {}],
  ])("refuses %s before any database work, naming the field", async (_case, query, variables) => {
    const response = await send(query, variables, agent);
    expect(response.body.data ?? null).toBeNull();
    expect(response.body.errors[0].message).toMatch(/ticketId|UUID|query|String!/);
  });

  it("keeps optional arguments optional: note, isInternal, and agentId (null or left out unassigns)", async () => {
    const owner = database.current.owner;
    const { rows } = await owner.query("select id from app_public.users where role = 'agent' limit 1");
    const ticket = await makeTicket(
      owner,
      (await owner.query("select id from app_public.users where role = 'customer'")).rows[0].id,
      "in_progress",
      rows[0].id,
    );
    const left = await send(
      `mutation ($id: UUID!) { assignTicket(input: { ticketId: $id }) { ticket { agentId status } } }`,
      { id: ticket.id },
      admin,
    );
    expect(left.body).toEqual({ data: { assignTicket: { ticket: { agentId: null, status: "open" } } } });
    const comment = await send(
      `mutation ($id: UUID!) { addComment(input: { ticketId: $id, body: "Looking" }) { ticketComment { isInternal } } }`,
      { id: ticket.id },
      admin,
    );
    expect(comment.body.data.addComment.ticketComment.isInternal).toBe(false);
  });
});

describe("a mutation without required input", () => {
  it("takeNextTicket runs without input, and still with input: {}", async () => {
    const owner = database.current.owner;
    const someone = (await owner.query("select id from app_public.users where role = 'customer'")).rows[0].id;
    await makeTicket(owner, someone, "open", null, { subject: "First in line", priority: "urgent" });
    await makeTicket(owner, someone, "open", null, { subject: "Second in line", priority: "urgent" });
    const bare = await send("mutation { takeNextTicket { ticket { subject status } } }", {}, agent);
    expect(bare.body).toEqual({
      data: { takeNextTicket: { ticket: { subject: "First in line", status: "in_progress" } } },
    });
    const old = await send("mutation { takeNextTicket(input: {}) { ticket { subject } } }", {}, agent);
    expect(old.body).toEqual({ data: { takeNextTicket: { ticket: { subject: "Second in line" } } } });
  });
});

describe("ticket numbers", () => {
  it("are found by an integer literal, a string, or a variable given as a number or a string", async () => {
    const owner = database.current.owner;
    const ticket = await makeTicket(owner, await makeUser(owner, "Another Customer", "customer"), "open", null, {
      subject: "Numbered",
    });
    const number = Number(ticket.number);
    const byLiteral = await send(`{ ticketByNumber(number: ${number}) { subject number } }`, {}, admin);
    expect(byLiteral.body).toEqual({ data: { ticketByNumber: { subject: "Numbered", number: String(number) } } });
    const byString = await send(`{ ticketByNumber(number: "${number}") { subject } }`, {}, admin);
    expect(byString.body.data.ticketByNumber.subject).toBe("Numbered");
    for (const value of [number, String(number)]) {
      const byVariable = await send(
        "query ($n: BigInt!) { ticketByNumber(number: $n) { subject } }",
        { n: value },
        admin,
      );
      expect(byVariable.body.data.ticketByNumber.subject).toBe("Numbered");
    }
    // Visibility is unchanged: a customer finds only their own tickets by number.
    const own = await send(`{ ticketByNumber(number: ${number}) { subject } }`, {}, customer);
    expect(own.body.data.ticketByNumber).toBeNull();
  });

  it("refuses what is not an integer", async () => {
    for (const literal of ["10.5", "true", '"ten"']) {
      const response = await send(`{ ticketByNumber(number: ${literal}) { subject } }`, {}, admin);
      expect(response.body.data?.ticketByNumber ?? null).toBeNull();
      expect(response.body.errors.length).toBeGreaterThan(0);
      expect(JSON.stringify(response.body.errors)).not.toMatch(/app_public|select |SQLSTATE/i);
    }
    const text = await send(`{ ticketByNumber(number: "ten") { subject } }`, {}, admin);
    expect(text.body.errors[0].extensions.code).toBe("INVALID_INPUT");
  });
});
