import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { makeUser } from "../support/fixtures.ts";
import { connect, Recorder, type Connection } from "../realtime/realtime-helpers.ts";

/**
 * Every ```graphql block of docs/frontend.md runs against the real API, in
 * the order of the page, as the role the guide names, with realistic
 * variables; a block this file does not know fails the test, so a new
 * operation in the guide must be run here too.
 */
const database = useTestDatabase();
const api = useTestApi(database);

interface Block {
  name: string;
  query: string;
}

async function guideBlocks(): Promise<Block[]> {
  const text = await readFile(new URL("../../docs/frontend.md", import.meta.url), "utf8");
  return [...text.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => {
    const query = match[1]!;
    const name = /^(?:query|mutation|subscription)\s+(\w+)/m.exec(query)?.[1];
    if (!name) throw new Error(`a graphql block of docs/frontend.md has no operation name:\n${query}`);
    return { name, query };
  });
}

const PASSWORD = "blue kettle on a quiet hill 7";
const state = {
  email: `portal.${Date.now()}@example.com`,
  customerToken: "",
  refreshToken: "",
  agentToken: "",
  adminToken: "",
  colleagueId: "",
  colleagueToken: "",
  customerId: "",
  organizationId: "",
  ticketId: "",
  ticketNumber: "",
  port: 0,
};
const blocks = new Map<string, string>();
const connections: Connection[] = [];

/** Runs an operation of the guide over HTTP; fails on any error; returns `data`. */
async function run(name: string, variables: Record<string, unknown> = {}, authorization?: string) {
  const query = blocks.get(name);
  if (!query) throw new Error(`docs/frontend.md has no operation ${name}`);
  const response = await graphql(api.current.request, query, variables, authorization);
  expect(response.status, name).toBe(200);
  expect(response.body.errors, `${name}: ${JSON.stringify(response.body.errors)}`).toBeUndefined();
  return response.body.data as Record<string, any>;
}

/** Subscribes with graphql-ws as the guide shows; resolves once the subscription is live (SUBSCRIBED). */
async function subscribe(name: string, authorization: string, variables: Record<string, unknown> = {}) {
  const connection = connect(state.port, authorization);
  connections.push(connection);
  const recorder = new Recorder(connection, blocks.get(name)!, variables);
  await recorder.ready();
  expect(recorder.errors, name).toEqual([]);
  expect(recorder.kinds(), name).toEqual(["SUBSCRIBED"]);
  return recorder;
}

const customer = () => `Bearer ${state.customerToken}`;

/** The token of the newest mailed link of a kind to the guide's customer, from the outbox (no worker runs here). */
async function mailedToken(kind: string): Promise<string> {
  const { rows } = await database.current.owner.query<{ token: string }>(
    "select params ->> 'token' as token from app_private.outbound_mails where kind = $1 and to_address = $2 order by created_at desc limit 1",
    [kind, state.email],
  );
  if (!rows[0]) throw new Error(`no ${kind} mail to ${state.email}`);
  return rows[0].token;
}

const RUNNERS: Record<string, () => Promise<void>> = {
  async Register() {
    const data = await run("Register", { email: state.email, password: PASSWORD, displayName: "Pat Portal" });
    expect(data.register).toEqual({ success: true });
  },
  async VerifyEmail() {
    const data = await run("VerifyEmail", { token: await mailedToken("email_verification") });
    expect(data.verifyEmail.user).toMatchObject({ displayName: "Pat Portal", role: "customer" });
  },
  async RequestPasswordReset() {
    const data = await run("RequestPasswordReset", { email: state.email });
    expect(data.requestPasswordReset).toEqual({ success: true });
  },
  async ResetPassword() {
    // The same password again: the policy allows it, and the guide's later blocks sign in with it.
    const data = await run("ResetPassword", { token: await mailedToken("password_reset"), newPassword: PASSWORD });
    expect(data.resetPassword).toEqual({ success: true });
  },
  async Login() {
    const data = await run("Login", { email: state.email, password: PASSWORD });
    state.customerToken = data.login.accessToken;
    state.refreshToken = data.login.refreshToken;
  },
  async RefreshSession() {
    const data = await run("RefreshSession", { refreshToken: state.refreshToken });
    expect(data.refreshSession.refreshToken).not.toBe(state.refreshToken);
    state.customerToken = data.refreshSession.accessToken;
    state.refreshToken = data.refreshSession.refreshToken;
  },
  async CurrentUser() {
    const data = await run("CurrentUser", {}, customer());
    expect(data).toMatchObject({ currentUser: { email: state.email, role: "customer" }, myOpenTicketCount: 0 });
  },
  async Logout() {
    // A second session, signed in and out with the guide's own operations.
    const other = await run("Login", { email: state.email, password: PASSWORD });
    const data = await run("Logout", { refreshToken: other.login.refreshToken });
    expect(data.logout.success).toBe(true);
    const reused = await graphql(api.current.request, blocks.get("RefreshSession")!, {
      refreshToken: other.login.refreshToken,
    });
    expect(reused.body.errors[0].extensions.code).toBe("INVALID_TOKEN");
  },
  async CreateTicket() {
    const data = await run(
      "CreateTicket",
      { subject: "Printer prints blank pages", description: "Since the update.", priority: "high" },
      customer(),
    );
    expect(data.createTicket.ticket).toMatchObject({ status: "open", priority: "high" });
    expect(data.createTicket.ticket.resolutionDueAt).toEqual(expect.any(String));
    state.ticketId = data.createTicket.ticket.rowId;
    state.ticketNumber = data.createTicket.ticket.number;
    // Optional arguments left out: a second, normal-priority ticket.
    const second = await run("CreateTicket", { subject: "Invoice address" }, customer());
    expect(second.createTicket.ticket.priority).toBe("normal");
  },
  async MyTickets() {
    const first = await run("MyTickets", { first: 1 }, customer());
    expect(first.tickets.totalCount).toBe(2);
    expect(first.tickets.pageInfo.hasNextPage).toBe(true);
    expect(first.tickets.nodes.map((t: { subject: string }) => t.subject)).toEqual(["Invoice address"]);
    const next = await run("MyTickets", { first: 1, after: first.tickets.pageInfo.endCursor }, customer());
    expect(next.tickets.nodes.map((t: { subject: string }) => t.subject)).toEqual(["Printer prints blank pages"]);
    expect(next.tickets.pageInfo.hasNextPage).toBe(false);
  },
  async TicketDetail() {
    // Number as the API returns it (a string) and as a plain integer.
    for (const number of [state.ticketNumber, Number(state.ticketNumber)]) {
      const data = await run("TicketDetail", { number }, customer());
      expect(data.ticketByNumber).toMatchObject({ rowId: state.ticketId, status: "open", agent: null });
      expect(data.ticketByNumber.ticketStatusHistories.nodes).toEqual([
        expect.objectContaining({ fromStatus: null, toStatus: "open" }),
      ]);
    }
  },
  async AddComment() {
    const data = await run("AddComment", { ticketId: state.ticketId, body: "It also smells of toner." }, customer());
    expect(data.addComment.ticketComment.body).toBe("It also smells of toner.");
  },
  async MyQueue() {
    const data = await run("MyQueue", { first: 20 }, state.agentToken);
    expect(data.myQueue.nodes.map((t: { rowId: string }) => t.rowId)).toContain(state.ticketId);
  },
  async TakeNextTicket() {
    const data = await run("TakeNextTicket", {}, state.agentToken);
    expect(data.takeNextTicket.ticket).toMatchObject({ rowId: state.ticketId, status: "in_progress" });
  },
  async TransitionTicket() {
    const data = await run(
      "TransitionTicket",
      { ticketId: state.ticketId, toStatus: "waiting_on_customer", note: "Asked for the printer model" },
      state.agentToken,
    );
    expect(data.transitionTicket.ticket.status).toBe("waiting_on_customer");
  },
  async AddInternalNote() {
    const data = await run(
      "AddInternalNote",
      { ticketId: state.ticketId, body: "Known firmware bug." },
      state.agentToken,
    );
    expect(data.addComment.ticketComment.isInternal).toBe(true);
    const detail = await run("TicketDetail", { number: state.ticketNumber }, customer());
    expect(detail.ticketByNumber.ticketComments.nodes.map((c: { body: string }) => c.body)).toEqual([
      "It also smells of toner.",
    ]);
  },
  async SearchTickets() {
    const data = await run("SearchTickets", { query: "printer", first: 10 }, state.agentToken);
    expect(data.searchTickets.nodes.map((t: { number: string }) => t.number)).toContain(state.ticketNumber);
  },
  async CreateOrganization() {
    const data = await run(
      "CreateOrganization",
      { name: "Portal Printing Ltd", domains: ["Printing.example"] },
      state.adminToken,
    );
    expect(data.createOrganization.organization).toMatchObject({
      name: "Portal Printing Ltd",
      domains: ["printing.example"],
      autoJoin: false,
      isActive: true,
    });
    state.organizationId = data.createOrganization.organization.rowId;
  },
  async AddOrganizationMember() {
    const me = await run("CurrentUser", {}, customer());
    state.customerId = me.currentUser.rowId;
    const data = await run(
      "AddOrganizationMember",
      { organizationId: state.organizationId, userId: state.customerId, role: "manager", sees: true },
      state.adminToken,
    );
    expect(data.addOrganizationMember.organizationMembership).toMatchObject({
      role: "manager",
      seesOrganizationTickets: true,
    });
    // A colleague, a plain member, optional arguments left out.
    state.colleagueId = await makeUser(database.current.owner, "Casey Colleague", "customer");
    state.colleagueToken = bearer(state.colleagueId, "ticketing_customer");
    const colleague = await run(
      "AddOrganizationMember",
      { organizationId: state.organizationId, userId: state.colleagueId },
      state.adminToken,
    );
    expect(colleague.addOrganizationMember.organizationMembership).toMatchObject({
      role: "member",
      seesOrganizationTickets: false,
    });
  },
  async MyOrganizations() {
    const data = await run("MyOrganizations", {}, customer());
    expect(data.currentUser.organizationMemberships.nodes).toEqual([
      {
        role: "manager",
        seesOrganizationTickets: true,
        organization: { rowId: state.organizationId, name: "Portal Printing Ltd" },
      },
    ]);
  },
  async OrganizationTickets() {
    // The colleague files a ticket: it is filed for their organization, so the manager sees it.
    await run("CreateTicket", { subject: "Toner order for the office" }, state.colleagueToken);
    const data = await run("OrganizationTickets", { organizationId: state.organizationId, first: 20 }, customer());
    expect(
      data.organization.tickets.nodes.map((t: { subject: string; customer: { displayName: string } }) => [
        t.subject,
        t.customer.displayName,
      ]),
    ).toEqual([["Toner order for the office", "Casey Colleague"]]);
    expect(
      data.organization.organizationMemberships.nodes
        .map((m: { user: { displayName: string } }) => m.user.displayName)
        .sort(),
    ).toEqual(["Casey Colleague", "Pat Portal"]);
    // The colleague shares no sight: the manager's tickets stay hidden from them.
    const theirs = await run("MyTickets", { first: 10 }, state.colleagueToken);
    expect(theirs.tickets.totalCount).toBe(1);
  },
  async AddTicketParticipant() {
    const data = await run("AddTicketParticipant", { ticketId: state.ticketId, userId: state.colleagueId }, customer());
    expect(data.addTicketParticipant.ticketParticipant).toMatchObject({
      kind: "cc",
      user: { displayName: "Casey Colleague" },
    });
    const theirs = await run("TicketDetail", { number: state.ticketNumber }, state.colleagueToken);
    expect(theirs.ticketByNumber.rowId).toBe(state.ticketId);
    expect(theirs.ticketByNumber.ticketComments.nodes.every((c: { isInternal: boolean }) => !c.isInternal)).toBe(true);
  },
  async RemoveOrganizationMember() {
    const data = await run(
      "RemoveOrganizationMember",
      { organizationId: state.organizationId, userId: state.customerId },
      state.adminToken,
    );
    expect(data.removeOrganizationMember.organizationMembership.removedAt).toEqual(expect.any(String));
    const after = await run("OrganizationTickets", { organizationId: state.organizationId, first: 20 }, customer());
    expect(after.organization).toBeNull();
  },
  async MyTicketsChanged() {
    const recorder = await subscribe("MyTicketsChanged", customer());
    await run("AddComment", { ticketId: state.ticketId, body: "Model LX-200." }, customer());
    await recorder.until(() => recorder.kinds().includes("COMMENTED"), 5_000, "COMMENTED");
    recorder.unsubscribe();
  },
  async MyQueueChanged() {
    const recorder = await subscribe("MyQueueChanged", state.agentToken);
    recorder.unsubscribe();
  },
  async TicketChanged() {
    const recorder = await subscribe("TicketChanged", customer(), { ticketId: state.ticketId });
    await run("TransitionTicket", { ticketId: state.ticketId, toStatus: "resolved" }, state.agentToken);
    await recorder.until(() => recorder.kinds().includes("STATUS_CHANGED"), 5_000, "STATUS_CHANGED");
    recorder.unsubscribe();
  },
  async ResumeMyTickets() {
    const before = await subscribe("MyTicketsChanged", customer());
    const after = before.events[0]!.cursor;
    before.unsubscribe();
    await run("AddComment", { ticketId: state.ticketId, body: "Printed fine after the update." }, customer());
    const connection = connect(state.port, customer());
    connections.push(connection);
    const resumed = new Recorder(connection, blocks.get("ResumeMyTickets")!, { after });
    await resumed.live(5_000);
    expect(resumed.errors).toEqual([]);
    // The reply may also reopen the resolved ticket (STATUS_CHANGED); either way it comes before SUBSCRIBED.
    expect(resumed.kinds().at(-1)).toBe("SUBSCRIBED");
    expect(resumed.events.map((event) => event.comment?.body)).toContain("Printed fine after the update.");
    resumed.unsubscribe();
  },
};

beforeAll(async () => {
  for (const block of await guideBlocks()) blocks.set(block.name, block.query);
  state.port = (await api.current.api.listen()).port;
  state.agentToken = bearer(await makeUser(database.current.owner, "Avery Agent", "agent"), "ticketing_agent");
  state.adminToken = bearer(await makeUser(database.current.owner, "Addie Admin", "admin"), "ticketing_admin");
});

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.client.dispose()));
});

describe("docs/frontend.md", () => {
  it("has a runner here for every operation it shows, and shows every operation run here", async () => {
    const names = (await guideBlocks()).map((block) => block.name);
    expect(new Set(names).size, "operation names are unique").toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(RUNNERS).sort());
  });

  it("runs every operation, in the order of the page, as a portal and a console would", {
    timeout: 60_000,
  }, async () => {
    for (const { name } of await guideBlocks()) await RUNNERS[name]!();
  });
});
