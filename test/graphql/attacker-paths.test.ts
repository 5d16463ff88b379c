import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import {
  activeUser,
  addMember,
  addParticipant,
  commentBy,
  demotedUser,
  type FixtureUser,
  makeOrganization,
  removeMember,
  ticketIn,
} from "../support/fixtures.ts";

/**
 * The attacker's matrix over HTTP: what each kind of caller gets from the
 * main GraphQL paths, and every path by which an internal note or another
 * customer's ticket could leak — lists, nested connections through any
 * relation, conditions, search, lookups by row id, by number and by a node
 * id the attacker builds themselves, and mutation payloads.
 */
const database = useTestDatabase();
const api = useTestApi(database);

const WHO = [
  "anonymous",
  "customer",
  "otherCustomer",
  "agent",
  "assignedAgent",
  "admin",
  "deactivated",
  "demoted",
] as const;
type Who = (typeof WHO)[number];
const users = {} as Record<Exclude<Who, "anonymous">, FixtureUser>;
const tickets = {} as Record<"open" | "work" | "other" | "gone" | "demotedOwn", string>;
let workNumber: string;
let internalId: string;
let publicId: string;
const SECRET = "zebracorn-internal-marker";

beforeAll(async () => {
  const owner = database.current.owner;
  users.customer = await activeUser(owner, "Http Customer", "customer");
  users.otherCustomer = await activeUser(owner, "Http Other Customer", "customer");
  users.agent = await activeUser(owner, "Http Pool Agent", "agent");
  users.assignedAgent = await activeUser(owner, "Http Assigned Agent", "agent");
  users.admin = await activeUser(owner, "Http Admin", "admin");
  users.deactivated = await activeUser(owner, "Http Leaving Customer", "customer");
  tickets.gone = await ticketIn(owner, users.deactivated.id, "open", null, { subject: "Filed before leaving" });
  await owner.query("update app_public.users set is_active = false where id = $1", [users.deactivated.id]);
  users.demoted = await demotedUser(owner, "Http Demoted Agent", "agent", "customer");
  tickets.demotedOwn = await ticketIn(owner, users.demoted.id, "in_progress", users.assignedAgent.id, {
    subject: "Filed after demotion",
  });
  tickets.open = await ticketIn(owner, users.customer.id, "open", null, { subject: "Open one" });
  tickets.work = await ticketIn(owner, users.customer.id, "in_progress", users.assignedAgent.id, {
    subject: "Worked one",
  });
  tickets.other = await ticketIn(owner, users.otherCustomer.id, "in_progress", users.assignedAgent.id, {
    subject: "Not yours",
  });
  internalId = await commentBy(owner, tickets.work, users.assignedAgent.id, `Internal ${SECRET}: do not tell`, true);
  publicId = await commentBy(owner, tickets.work, users.assignedAgent.id, "Public reply: we are on it");
  await commentBy(owner, tickets.open, users.agent.id, `Internal ${SECRET} on the open ticket`, true);
  const { rows } = await owner.query("select number::text from app_public.tickets where id = $1", [tickets.work]);
  workNumber = rows[0].number;
});

function tokenOf(who: Who): string | undefined {
  if (who === "anonymous") return undefined;
  return bearer(users[who].id, users[who].tokenRole as "ticketing_customer" | "ticketing_agent" | "ticketing_admin");
}

async function gql(who: Who, query: string, variables: Record<string, unknown> = {}) {
  const response = await graphql(api.current.request, query, variables, tokenOf(who));
  expect(response.status, `${who}: ${query}`).toBe(200);
  return response.body as { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
}

/** A node id as anyone can build it: base64 of [typename, primary key]. */
const nodeId = (typename: string, id: string) => Buffer.from(JSON.stringify([typename, id])).toString("base64");

const label = (id: string) => Object.entries(tickets).find(([, value]) => value === id)?.[0] ?? id;

describe("each caller reads what it may", () => {
  const visibleTickets: Record<Who, string[] | "FORBIDDEN"> = {
    anonymous: "FORBIDDEN",
    customer: ["open", "work"],
    otherCustomer: ["other"],
    // The deactivated customer's ticket is still open: every agent sees the open pool.
    agent: ["gone", "open"],
    assignedAgent: ["demotedOwn", "gone", "open", "other", "work"],
    admin: ["demotedOwn", "gone", "open", "other", "work"],
    deactivated: [],
    demoted: [],
  };

  it.each(WHO)("%s: tickets", async (who) => {
    const body = await gql(who, "{ tickets { nodes { rowId } } }");
    const expected = visibleTickets[who];
    if (expected === "FORBIDDEN") {
      expect(body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect(body.data?.tickets ?? null).toBeNull();
    } else {
      expect(body.errors).toBeUndefined();
      expect(body.data!.tickets.nodes.map((node: { rowId: string }) => label(node.rowId)).sort()).toEqual(expected);
    }
  });

  it.each(WHO)("%s: users", async (who) => {
    const body = await gql(who, "{ users { nodes { rowId role } } }");
    if (who === "anonymous") {
      expect(body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      return;
    }
    const seen = body.data!.users.nodes as { rowId: string; role: string }[];
    if (who === "deactivated" || who === "demoted") expect(seen).toEqual([]);
    else if (who === "customer" || who === "otherCustomer") {
      expect(seen.filter((user) => user.role === "customer").map((user) => user.rowId)).toEqual([users[who].id]);
      expect(seen.some((user) => user.role === "agent")).toBe(true);
    } else expect(seen).toHaveLength(Object.keys(users).length);
  });

  it.each(WHO)("%s: auditLogEntries", async (who) => {
    const body = await gql(who, "{ auditLogEntries(first: 5) { totalCount } }");
    if (who === "admin") expect(body.data!.auditLogEntries.totalCount).toBeGreaterThan(0);
    else if (body.errors) expect(body.errors[0]!.extensions?.code).toBe("FORBIDDEN");
    else expect(body.data!.auditLogEntries.totalCount).toBe(0);
    if (["anonymous", "customer", "otherCustomer", "agent", "assignedAgent"].includes(who)) {
      expect(body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
  });
});

describe("internal notes never reach a customer", () => {
  interface LeakPath {
    path: string;
    query: string;
    /** What would show the leak (default: the note's text or id). */
    markers?: () => string[];
    /** False where the path only exists for customers (their own tickets). */
    staffControl?: boolean;
  }
  const searchHits = () => [tickets.work, tickets.open];
  const PATHS: LeakPath[] = [
    { path: "the comments list", query: "{ ticketComments { nodes { rowId body isInternal } } }" },
    {
      path: "a condition on isInternal",
      query: "{ ticketComments(condition: { isInternal: true }) { totalCount nodes { rowId body } } }",
    },
    {
      path: "the ticket's nested comments",
      query: `{ ticket(rowId: "@work") { ticketComments { totalCount nodes { rowId body } } } }`,
    },
    {
      path: "the ticket by number",
      query: `{ ticketByNumber(number: "@number") { ticketComments { nodes { rowId body } } } }`,
    },
    { path: "every ticket's comments", query: "{ tickets { nodes { ticketComments { nodes { rowId body } } } } }" },
    {
      path: "the current user's tickets",
      query: "{ currentUser { ticketsByCustomerId { nodes { ticketComments { nodes { rowId body } } } } } }",
      staffControl: false,
    },
    {
      path: "the author's comments",
      query: `{ user(rowId: "@author") { authoredTicketComments { totalCount nodes { rowId body } } } }`,
    },
    { path: "every user's comments", query: "{ users { nodes { authoredTicketComments { nodes { rowId body } } } } }" },
    {
      path: "status history back to the ticket",
      query: "{ ticketStatusHistories { nodes { ticket { ticketComments { nodes { rowId body } } } } } }",
    },
    {
      path: "assignment history back to the ticket",
      query: "{ ticketAssignmentHistories { nodes { ticket { ticketComments { nodes { rowId body } } } } } }",
    },
    {
      path: "a public comment back to its ticket",
      query: `{ ticketComment(rowId: "@public") { ticket { ticketComments { nodes { rowId body } } } } }`,
    },
    { path: "the comment by row id", query: `{ ticketComment(rowId: "@internal") { rowId body } }` },
    { path: "the comment by a forged node id", query: `{ node(id: "@node") { ... on TicketComment { rowId body } } }` },
    { path: "the comment by its node id field", query: `{ ticketCommentById(id: "@node") { rowId body } }` },
    // A ticket found only through the note's words would betray the note.
    { path: "search", query: `{ searchTickets(query: "${SECRET}") { nodes { rowId subject } } }`, markers: searchHits },
    {
      path: "search, nested",
      query: `{ searchTickets(query: "worked") { nodes { ticketComments { nodes { rowId body } } } } }`,
    },
  ];
  const fill = (query: string) =>
    query
      .replace("@work", tickets.work)
      .replace("@number", workNumber)
      .replace("@author", users.assignedAgent.id)
      .replace("@public", publicId)
      .replace("@internal", internalId)
      .replace("@node", nodeId("TicketComment", internalId));
  const markersOf = (entry: LeakPath) => entry.markers?.() ?? [SECRET, internalId];

  it.each(PATHS.map((entry) => [entry.path, entry] as const))("through %s", async (_path, entry) => {
    for (const who of ["customer", "otherCustomer", "deactivated", "demoted"] as const) {
      const text = JSON.stringify(await gql(who, fill(entry.query)));
      for (const marker of markersOf(entry)) expect(text, `${who} got ${marker}`).not.toContain(marker);
    }
  });

  it("while staff reach the note through the same paths, and the customer the public reply (the queries are right)", async () => {
    const missed: string[] = [];
    for (const entry of PATHS) {
      if (entry.staffControl === false) continue;
      const text = JSON.stringify(await gql("assignedAgent", fill(entry.query)));
      if (!markersOf(entry).some((marker) => text.includes(marker))) missed.push(entry.path);
    }
    expect(missed).toEqual([]);
    const own = JSON.stringify(await gql("customer", fill(PATHS.find((entry) => entry.staffControl === false)!.query)));
    expect(own).toContain(publicId);
    const staff = await gql("assignedAgent", `{ ticketComment(rowId: "${internalId}") { id } }`);
    expect(staff.data!.ticketComment.id).toBe(nodeId("TicketComment", internalId));
  });

  it("through the payload of the customer's own addComment", async () => {
    const body = await gql(
      "customer",
      `mutation { addComment(input: { ticketId: "${tickets.work}", body: "Any news?" }) {
         ticketComment { ticket { ticketComments { nodes { rowId body isInternal } } } } } }`,
    );
    const nodes = body.data!.addComment.ticketComment.ticket.ticketComments.nodes as { isInternal: boolean }[];
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    expect(nodes.every((node) => !node.isInternal)).toBe(true);
    expect(JSON.stringify(body)).not.toContain(SECRET);
  });

  it("a customer cannot write one", async () => {
    const body = await gql(
      "customer",
      `mutation { addComment(input: { ticketId: "${tickets.work}", body: "sneaky", isInternal: true }) { ticketComment { rowId } } }`,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("another customer's ticket stays invisible and untouchable", () => {
  const ticketNode = () => nodeId("Ticket", tickets.work);

  it.each([
    ["ticket(rowId:)", () => `{ ticket(rowId: "${tickets.work}") { subject } }`, "ticket"],
    ["ticketByNumber", () => `{ ticketByNumber(number: "${workNumber}") { subject } }`, "ticketByNumber"],
    ["node(id:) with a forged id", () => `{ node(id: "${ticketNode()}") { ... on Ticket { subject } } }`, "node"],
    ["ticketById", () => `{ ticketById(id: "${ticketNode()}") { subject } }`, "ticketById"],
    ["the customer as a user", () => `{ user(rowId: "${users.customer.id}") { displayName } }`, "user"],
  ])("%s answers null", async (_name, query, field) => {
    const body = await gql("otherCustomer", query());
    expect(body.errors).toBeUndefined();
    expect(body.data![field]).toBeNull();
  });

  it.each([
    ["status history", "ticketStatusHistories"],
    ["assignment history", "ticketAssignmentHistories"],
    ["comments", "ticketComments"],
  ])("%s filtered by its ticket id is empty", async (_name, field) => {
    const body = await gql("otherCustomer", `{ ${field}(condition: { ticketId: "${tickets.work}" }) { totalCount } }`);
    expect(body.data![field].totalCount).toBe(0);
    const owner = await gql("customer", `{ ${field}(condition: { ticketId: "${tickets.work}" }) { totalCount } }`);
    expect(owner.data![field].totalCount).toBeGreaterThan(0);
  });

  // RLS filters an UPDATE silently: the payload is empty; the functions answer NOT_FOUND.
  it.each([
    [
      "updateTicket",
      () =>
        `mutation { updateTicket(input: { rowId: "${tickets.work}", patch: { subject: "Hijacked" } }) { ticket { rowId } } }`,
      null,
    ],
    [
      "updateTicketById",
      () =>
        `mutation { updateTicketById(input: { id: "${ticketNode()}", patch: { subject: "Hijacked" } }) { ticket { rowId } } }`,
      null,
    ],
    [
      "updateTicketByNumber",
      () =>
        `mutation { updateTicketByNumber(input: { number: "${workNumber}", patch: { subject: "Hijacked" } }) { ticket { rowId } } }`,
      null,
    ],
    [
      "addComment",
      () =>
        `mutation { addComment(input: { ticketId: "${tickets.work}", body: "Hijacked" }) { ticketComment { rowId } } }`,
      "NOT_FOUND",
    ],
    [
      "transitionTicket",
      () =>
        `mutation { transitionTicket(input: { ticketId: "${tickets.work}", toStatus: closed }) { ticket { rowId } } }`,
      "NOT_FOUND",
    ],
  ] as const)("%s is refused and changes nothing", async (name, mutation, code) => {
    const body = await gql("otherCustomer", mutation());
    if (code) expect(body.errors?.[0]?.extensions?.code).toBe(code);
    else expect(body).toEqual({ data: { [name]: { ticket: null } } });
    const { rows } = await database.current.owner.query(
      "select subject, status, (select count(*)::int from app_public.ticket_comments where ticket_id = $1 and body = 'Hijacked') as hijacked from app_public.tickets where id = $1",
      [tickets.work],
    );
    expect(rows[0]).toEqual({ subject: "Worked one", status: "in_progress", hijacked: 0 });
  });
});

describe("stale tokens: deactivated and demoted users", () => {
  it("a deactivated customer's valid token sees nothing, not even their own ticket, and writes nothing", async () => {
    expect((await gql("deactivated", "{ currentUser { rowId } currentUserId }")).data).toEqual({
      currentUser: null,
      currentUserId: null,
    });
    expect((await gql("deactivated", `{ ticket(rowId: "${tickets.gone}") { rowId } }`)).data!.ticket).toBeNull();
    expect((await gql("deactivated", "{ ticketTransitions { totalCount } slaPolicies { totalCount } }")).data).toEqual({
      ticketTransitions: { totalCount: 0 },
      slaPolicies: { totalCount: 0 },
    });
    const create = await gql(
      "deactivated",
      `mutation { createTicket(input: { ticket: { subject: "Still here?" } }) { ticket { rowId } } }`,
    );
    expect(create.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
    const comment = await gql(
      "deactivated",
      `mutation { addComment(input: { ticketId: "${tickets.gone}", body: "hello" }) { ticketComment { rowId } } }`,
    );
    expect(comment.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("a demoted agent's token (row now says customer) keeps no agent right and gains no customer one", async () => {
    expect(
      (await gql("demoted", "{ tickets { totalCount } ticketComments { totalCount } myQueue { totalCount } }")).data,
    ).toEqual({
      tickets: { totalCount: 0 },
      ticketComments: { totalCount: 0 },
      myQueue: { totalCount: 0 },
    });
    expect((await gql("demoted", `{ ticket(rowId: "${tickets.demotedOwn}") { rowId } }`)).data!.ticket).toBeNull();
    const take = await gql("demoted", "mutation { takeNextTicket(input: {}) { ticket { rowId } } }");
    expect(take.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const assign = await gql(
      "demoted",
      `mutation { assignTicket(input: { ticketId: "${tickets.open}", agentId: "${users.demoted.id}" }) { ticket { rowId } } }`,
    );
    expect(assign.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const { rows } = await database.current.owner.query("select agent_id from app_public.tickets where id = $1", [
      tickets.open,
    ]);
    expect(rows[0].agent_id).toBeNull();
  });
});

describe("schema shape", () => {
  const INTROSPECTION = `{ __schema {
    types { name kind fields { name } inputFields { name } }
    mutationType { fields { name } }
  } }`;
  let schema: {
    types: { name: string; kind: string; fields: { name: string }[] | null; inputFields: { name: string }[] | null }[];
    mutationType: { fields: { name: string }[] };
  };

  beforeAll(async () => {
    schema = (await gql("admin", INTROSPECTION)).data!.__schema;
  });

  const inputFields = (name: string) =>
    schema.types
      .find((type) => type.name === name)!
      .inputFields!.map((field) => field.name)
      .sort();

  it("offers writes of exactly the columns each role may set", () => {
    expect(inputFields("TicketInput")).toEqual(["customerId", "description", "organizationId", "priority", "subject"]);
    expect(inputFields("TicketPatch")).toEqual(["description", "organizationId", "priority", "subject"]);
    expect(inputFields("UserPatch")).toEqual(["displayName"]);
    expect(inputFields("SlaPolicyPatch")).toEqual(["calendarId", "firstResponseMinutes", "resolutionMinutes"]);
  });

  it("sets status and agent only through the lifecycle functions", () => {
    const writers = schema.types
      .filter((type) => type.kind === "INPUT_OBJECT" && !/Condition$|Filter$/.test(type.name))
      .filter((type) => type.inputFields!.some((field) => ["status", "agentId"].includes(field.name)))
      .map((type) => type.name)
      .sort();
    // The SLA pause rules name a status (which one pauses a clock); they set none.
    expect(writers).toEqual(["AssignTicketInput", "DeleteSlaPauseStatusInput", "SlaPauseStatusInput"]);
  });

  it("has no raw create, update or delete for what must not be written directly", () => {
    const mutations = schema.mutationType.fields.map((field) => field.name);
    const forbidden = mutations.filter((name) =>
      /^(create|update|delete)(User|Ticket|TicketComment|TicketStatusHistory|TicketAssignmentHistory|AuditLogEntry|SlaPolicy|Organization|OrganizationMembership|TicketParticipant)(By\w+)?$/.test(
        name,
      ),
    );
    // Allowed raw writes: the ticket's text, users' names, SLA minutes; createUser, createOrganization
    // and updateOrganization are the admin functions.
    expect(forbidden.sort()).toEqual(
      [
        "createOrganization",
        "createTicket",
        "createUser",
        "updateOrganization",
        "updateSlaPolicy",
        "updateSlaPolicyById",
        "updateTicket",
        "updateTicketById",
        "updateTicketByNumber",
        "updateUser",
        "updateUserById",
      ].sort(),
    );
  });

  it("never shows app_private: no account, session, attempt or raw audit types or secret fields", () => {
    const names = schema.types.map((type) => type.name);
    expect(
      names.filter((name) => /UserAccount|RefreshToken(?!.*Input|.*Payload)|LoginAttempt|^AuditLog(?!Entr)/.test(name)),
    ).toEqual([]);
    const fields = schema.types.flatMap((type) =>
      [...(type.fields ?? []), ...(type.inputFields ?? [])].map((field) => `${type.name}.${field.name}`),
    );
    expect(
      fields.filter((field) => /passwordHash|failedLoginCount|lockedUntil|tokenHash|digest|\.search$/i.test(field)),
    ).toEqual([]);
    expect(JSON.stringify(schema)).not.toMatch(/app_?private/i);
  });
});

describe("organizations and participants: each new actor through every path", () => {
  const ORG_WHO = [
    "requester",
    "manager",
    "sighted",
    "blind",
    "cc",
    "removed",
    "outsider",
    "closedOrgMember",
    "stranger",
  ] as const;
  type OrgWho = (typeof ORG_WHO)[number];
  const orgUsers = {} as Record<OrgWho, FixtureUser>;
  const org = {} as Record<"acme" | "globex" | "initech" | "acmeWork" | "initechTicket", string>;
  const ORG_SECRET = "quokka-internal-marker";

  beforeAll(async () => {
    const owner = database.current.owner;
    for (const key of ORG_WHO) orgUsers[key] = await activeUser(owner, `Http ${key}`, "customer");
    org.acme = await makeOrganization(owner, "Http Acme");
    org.globex = await makeOrganization(owner, "Http Globex");
    org.initech = await makeOrganization(owner, "Http Initech");
    await addMember(owner, org.acme, orgUsers.requester.id);
    await addMember(owner, org.acme, orgUsers.manager.id, "manager");
    await addMember(owner, org.acme, orgUsers.sighted.id, "member", true);
    await addMember(owner, org.acme, orgUsers.blind.id);
    await addMember(owner, org.acme, orgUsers.removed.id, "manager");
    await addMember(owner, org.globex, orgUsers.outsider.id, "manager");
    await addMember(owner, org.initech, orgUsers.requester.id);
    await addMember(owner, org.initech, orgUsers.closedOrgMember.id, "manager");
    org.acmeWork = await ticketIn(owner, orgUsers.requester.id, "in_progress", users.assignedAgent.id, {
      subject: "Acme quokka printer",
    });
    org.initechTicket = await ticketIn(owner, orgUsers.requester.id, "in_progress", users.assignedAgent.id, {
      subject: "Initech quokka stapler",
      organizationId: org.initech,
    });
    await commentBy(owner, org.acmeWork, users.assignedAgent.id, `Internal ${ORG_SECRET}`, true);
    await commentBy(owner, org.acmeWork, users.assignedAgent.id, "Public: a technician is coming");
    await addParticipant(owner, org.acmeWork, orgUsers.cc.id);
    await addParticipant(owner, org.acmeWork, orgUsers.removed.id);
    await removeMember(owner, org.acme, orgUsers.removed.id);
    await owner.query("update app_public.ticket_participants set removed_at = now() where user_id = $1", [
      orgUsers.removed.id,
    ]);
    await owner.query("update app_public.organizations set is_active = false where id = $1", [org.initech]);
  });

  async function orgGql(who: OrgWho | "admin", query: string) {
    const user = who === "admin" ? users.admin : orgUsers[who];
    const response = await graphql(
      api.current.request,
      query,
      {},
      bearer(user.id, user.tokenRole as "ticketing_customer"),
    );
    expect(response.status).toBe(200);
    return response.body as { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
  }

  const seesAcmeWork: Record<OrgWho, boolean> = {
    requester: true,
    manager: true,
    sighted: true,
    blind: false,
    cc: true,
    removed: false,
    outsider: false,
    closedOrgMember: false,
    stranger: false,
  };
  /** `lists`: the path lists every ticket the caller sees (so the requester's Initech ticket too). */
  const PATHS: { path: string; query: () => string; reaches: (who: OrgWho) => boolean; lists?: boolean }[] = [
    {
      path: "the tickets connection",
      query: () => "{ tickets { nodes { rowId } } }",
      reaches: (who) => seesAcmeWork[who],
      lists: true,
    },
    {
      path: "a forged node id",
      query: () => `{ node(id: "${nodeId("Ticket", org.acmeWork)}") { ... on Ticket { rowId } } }`,
      reaches: (who) => seesAcmeWork[who],
    },
    {
      path: "the organization's nested tickets",
      query: () =>
        `{ organization(rowId: "${org.acme}") { tickets { nodes { rowId ticketComments { nodes { body } } } } } }`,
      // The cc reads the ticket, not the organization.
      reaches: (who) => seesAcmeWork[who] && who !== "cc",
    },
    {
      path: "the user's memberships, their organizations and tickets",
      query: () =>
        "{ currentUser { organizationMemberships { nodes { organization { tickets { nodes { rowId ticketComments { nodes { body } } } } } } } } }",
      reaches: (who) => seesAcmeWork[who] && who !== "cc",
    },
    {
      path: "search",
      query: () => '{ searchTickets(query: "quokka") { nodes { rowId } } }',
      reaches: (who) => seesAcmeWork[who],
      lists: true,
    },
    {
      path: "the participants' tickets",
      query: () => "{ ticketParticipants { nodes { ticket { rowId ticketComments { nodes { body isInternal } } } } } }",
      reaches: (who) => seesAcmeWork[who],
    },
  ];

  it.each(PATHS.flatMap((entry) => ORG_WHO.map((who) => [who, entry.path, entry] as const)))(
    "%s through %s",
    async (who, _path, entry) => {
      const text = JSON.stringify(await orgGql(who, entry.query()));
      expect(text.includes(org.acmeWork), `${who} reaches the Acme ticket`).toBe(entry.reaches(who));
      expect(text).not.toContain(ORG_SECRET);
      // A deactivated organization gives no sight; only the requester sees their own ticket.
      expect(text.includes(org.initechTicket)).toBe(who === "requester" && entry.lists === true);
    },
  );

  it("shows customers only their active organizations, and managers their members", async () => {
    const names = async (who: OrgWho) =>
      ((await orgGql(who, "{ organizations { nodes { name } } }")).data!.organizations.nodes as { name: string }[])
        .map((node) => node.name)
        .sort();
    expect(await names("requester")).toEqual(["Http Acme"]);
    expect(await names("closedOrgMember")).toEqual([]);
    expect(await names("stranger")).toEqual([]);
    const members = async (who: OrgWho) =>
      (await orgGql(who, `{ organizationMemberships(condition: { organizationId: "${org.acme}" }) { totalCount } }`))
        .data!.organizationMemberships.totalCount;
    expect(await members("manager")).toBe(4);
    expect(await members("blind")).toBe(1);
    expect(await members("outsider")).toBe(0);
  });

  it("lets the manager and the cc reply, the manager close; refuses the others with stable codes", async () => {
    const ticket = await ticketIn(database.current.owner, orgUsers.requester.id, "in_progress", users.assignedAgent.id);
    const comment = (who: OrgWho) =>
      orgGql(
        who,
        `mutation { addComment(input: { ticketId: "${ticket}", body: "From ${who}" }) { ticketComment { rowId } } }`,
      );
    await database.current.owner.query(
      "insert into app_public.ticket_participants (ticket_id, user_id, kind) values ($1, $2, 'cc')",
      [ticket, orgUsers.cc.id],
    );
    expect((await comment("manager")).errors).toBeUndefined();
    expect((await comment("cc")).errors).toBeUndefined();
    expect((await comment("sighted")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await comment("blind")).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const close = (who: OrgWho) =>
      orgGql(
        who,
        `mutation { transitionTicket(input: { ticketId: "${ticket}", toStatus: closed }) { ticket { status } } }`,
      );
    expect((await close("cc")).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await close("sighted")).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await close("manager")).data!.transitionTicket.ticket.status).toBe("closed");
  });

  it("refuses participants and organizations to those who may not add them, with nothing written", async () => {
    const add = (who: OrgWho, userId: string, kind = "cc") =>
      orgGql(
        who,
        `mutation { addTicketParticipant(input: { ticketId: "${org.acmeWork}", userId: "${userId}", kind: ${kind} }) { ticketParticipant { rowId } } }`,
      );
    expect((await add("requester", orgUsers.stranger.id)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await add("requester", users.agent.id, "follower")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await add("outsider", orgUsers.outsider.id)).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await add("sighted", orgUsers.blind.id)).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const create = await orgGql(
      "manager",
      'mutation { createOrganization(input: { name: "Manager Inc" }) { organization { rowId } } }',
    );
    expect(create.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const foreign = await orgGql(
      "requester",
      `mutation { createTicket(input: { ticket: { subject: "For Globex", organizationId: "${org.globex}" } }) { ticket { rowId } } }`,
    );
    expect(foreign.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
    const { rows } = await database.current.owner.query(
      `select (select count(*)::int from app_public.ticket_participants where user_id in ($1, $2)) as participants,
              (select count(*)::int from app_public.organizations where name = 'Manager Inc') as organizations`,
      [orgUsers.stranger.id, orgUsers.blind.id],
    );
    expect(rows[0]).toEqual({ participants: 0, organizations: 0 });
  });

  it("administers organizations with the contract's names, and a removed manager loses sight at once", async () => {
    const created = await orgGql(
      "admin",
      'mutation { createOrganization(input: { name: "Http Hooli", domains: ["hooli.example"] }) { organization { rowId name domains autoJoin } } }',
    );
    const hooli = created.data!.createOrganization.organization;
    expect(hooli).toMatchObject({ name: "Http Hooli", domains: ["hooli.example"], autoJoin: false });
    const duplicate = await orgGql(
      "admin",
      'mutation { createOrganization(input: { name: "Http Hooli" }) { organization { rowId } } }',
    );
    expect(duplicate.errors?.[0]?.extensions?.code).toBe("CONFLICT");
    const member = await orgGql(
      "admin",
      `mutation { addOrganizationMember(input: { organizationId: "${hooli.rowId}", userId: "${orgUsers.stranger.id}", role: manager, seesOrganizationTickets: true }) {
         organizationMembership { role seesOrganizationTickets } } }`,
    );
    expect(member.data!.addOrganizationMember.organizationMembership).toEqual({
      role: "manager",
      seesOrganizationTickets: true,
    });
    const mine = await ticketIn(database.current.owner, orgUsers.blind.id, "open");
    await addMember(database.current.owner, hooli.rowId, orgUsers.blind.id);
    await database.current.owner.query("update app_public.tickets set organization_id = $2 where id = $1", [
      mine,
      hooli.rowId,
    ]);
    const seen = async () => JSON.stringify(await orgGql("stranger", "{ tickets { nodes { rowId } } }")).includes(mine);
    expect(await seen()).toBe(true);
    const removed = await orgGql(
      "admin",
      `mutation { removeOrganizationMember(input: { organizationId: "${hooli.rowId}", userId: "${orgUsers.stranger.id}" }) { organizationMembership { removedAt } } }`,
    );
    expect(removed.data!.removeOrganizationMember.organizationMembership.removedAt).toBeTruthy();
    expect(await seen()).toBe(false);
  });
});
