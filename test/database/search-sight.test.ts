import { beforeAll, describe, expect, it } from "vitest";
import {
  activeUser,
  assignAs,
  commentBy,
  commentAs,
  expectSearchableCommentsInStep,
  ROLE,
  rowsOf,
  runAs,
  ticketIn,
  transitionAs,
  type FixtureUser,
} from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * An agent's search matches only within their sight (migration 000043):
 * search_matches_in_sight narrows the candidates with the ticket's status and
 * agent, and with the copies of both that app_private.searchable_comments
 * keeps beside each comment's text. The policies still decide, so a wrong
 * sight there would hide results, never show more. These tests compare what
 * search_tickets returns with what the policies alone let each user find,
 * while tickets move in and out of an agent's sight the ways they can
 * (taken, reassigned, reopened, closed while open), and check the copies
 * against the tickets after each move.
 */
const database = useTestDatabase();
const WORD = "walrus";

let customer: FixtureUser;
let admin: FixtureUser;
let agentA: FixtureUser;
let agentB: FixtureUser;
const tickets: Record<string, string> = {};

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await activeUser(owner, "Sight Customer", "customer");
  admin = await activeUser(owner, "Sight Admin", "admin");
  agentA = await activeUser(owner, "Agent A", "agent");
  agentB = await activeUser(owner, "Agent B", "agent");
  tickets.openText = await ticketIn(owner, customer.id, "open", null, { subject: "Walrus on the roof" });
  tickets.openComment = await ticketIn(owner, customer.id, "open", null, { subject: "Roof leaks" });
  await commentBy(owner, tickets.openComment, customer.id, "A walrus did it");
  tickets.mineNote = await ticketIn(owner, customer.id, "in_progress", agentA.id, { subject: "Door stuck" });
  await commentBy(owner, tickets.mineNote, agentA.id, "Walrus sighting, internal", true);
  tickets.othersText = await ticketIn(owner, customer.id, "in_progress", agentB.id, { subject: "Walrus in the lobby" });
  await commentBy(owner, tickets.othersText, agentB.id, "The walrus left");
  tickets.mineResolved = await ticketIn(owner, customer.id, "resolved", agentA.id, { subject: "Window cracked" });
  await commentBy(owner, tickets.mineResolved, customer.id, "The walrus leaned on it");
  tickets.othersClosed = await ticketIn(owner, customer.id, "closed", agentB.id, { subject: "Fence down" });
  await commentBy(owner, tickets.othersClosed, agentB.id, "Walrus fence replaced");
});

/** The subjects of the tickets `sql` returns to the user, sorted. */
async function subjectsAs(user: FixtureUser, sql: string, word: string): Promise<string[]> {
  const rows = rowsOf(await runAs(database.current.authenticator, user.tokenRole, user.id, sql, [word]));
  return rows.map((row) => row.subject as string).sort();
}

/** What search_tickets returns to the user. */
const searched = (user: FixtureUser, word: string) =>
  subjectsAs(user, "select subject from app_public.search_tickets($1)", word);

/** What the policies alone let the user find: a readable ticket whose text, or a readable comment of it, matches. */
const readable = (user: FixtureUser, word: string) =>
  subjectsAs(
    user,
    `select t.subject from app_public.tickets as t
      where t.search @@ websearch_to_tsquery('english', $1)
         or exists (select 1 from app_public.ticket_comments as c
                     where c.ticket_id = t.id and c.search @@ websearch_to_tsquery('english', $1))`,
    word,
  );

async function expectSearchIsThePolicies(): Promise<void> {
  await expectSearchableCommentsInStep(database.current.owner);
  for (const user of [agentA, agentB, admin]) {
    const expected = await readable(user, WORD);
    expect(await searched(user, WORD), user === admin ? "admin" : user === agentA ? "agent A" : "agent B").toEqual(
      expected,
    );
  }
}

describe("an agent's search within their sight", () => {
  it("finds what the policies let each agent read, internal notes included, and nothing else", async () => {
    expect(await searched(agentA, WORD)).toEqual(["Door stuck", "Roof leaks", "Walrus on the roof", "Window cracked"]);
    expect(await searched(agentB, WORD)).toEqual([
      "Fence down",
      "Roof leaks",
      "Walrus in the lobby",
      "Walrus on the roof",
    ]);
    await expectSearchIsThePolicies();
  });

  it("follows a ticket taken from the pool, reassigned, reopened and closed while open", async () => {
    // Taken: an open ticket assigned to agent A stays in the pool while open,
    // and leaves agent B's sight once A works on it.
    await assignAs(database.current.authenticator, admin, tickets.openComment!, agentA.id);
    await expectSearchIsThePolicies();
    expect(await searched(agentB, WORD)).toContain("Roof leaks");
    await transitionAs(database.current.authenticator, agentA, tickets.openComment!, "in_progress");
    await expectSearchIsThePolicies();
    expect(await searched(agentB, WORD)).not.toContain("Roof leaks");
    expect(await searched(agentA, WORD)).toContain("Roof leaks");
    // Reassigned: agent A's ticket goes to agent B.
    await assignAs(database.current.authenticator, admin, tickets.mineNote!, agentB.id);
    await expectSearchIsThePolicies();
    expect(await searched(agentB, WORD)).toContain("Door stuck");
    expect(await searched(agentA, WORD)).not.toContain("Door stuck");
    // Reopened: agent B's closed ticket is open again, in every agent's sight.
    await transitionAs(database.current.authenticator, admin, tickets.othersClosed!, "open");
    await expectSearchIsThePolicies();
    expect(await searched(agentA, WORD)).toContain("Fence down");
    // Closed while open: out of the pool.
    await transitionAs(database.current.authenticator, admin, tickets.openText!, "closed");
    await expectSearchIsThePolicies();
    expect(await searched(agentA, WORD)).not.toContain("Walrus on the roof");
    // A comment written after the moves is found by the ticket's new agent.
    await commentAs(database.current.authenticator, agentB, tickets.mineNote!, "Second walrus spotted");
    await expectSearchIsThePolicies();
  });

  it("an edited comment is searched by its new text only", async () => {
    const comment = await commentBy(database.current.owner, tickets.othersText!, agentB.id, "Narwhal in the lobby");
    expect(await searched(agentB, "narwhal")).toEqual(["Walrus in the lobby"]);
    await database.current.owner.query("update app_public.ticket_comments set body = 'Nothing to see' where id = $1", [
      comment,
    ]);
    expect(await searched(agentB, "narwhal")).toEqual([]);
    await expectSearchableCommentsInStep(database.current.owner);
  });

  it("customers are not affected: they find their own tickets, never an internal note", async () => {
    const subjects = await searched(customer, "sighting");
    expect(subjects).toEqual([]);
    expect(await searched(customer, WORD)).toEqual(await readable(customer, WORD));
  });
});

describe("the role each caller searches as", () => {
  it("an agent's token with an admin's role in the database finds nothing extra", async () => {
    // The sight is the agent's own: acting_user_id('agent') is null for a
    // user whose row is not an active agent, so only open tickets are candidates.
    const rows = rowsOf(
      await runAs(
        database.current.authenticator,
        ROLE.agent,
        admin.id,
        "select subject from app_public.search_tickets($1)",
        [WORD],
      ),
    );
    expect(rows).toEqual([]);
  });
});
