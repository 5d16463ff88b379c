import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { actAs, ANONYMOUS, type Actor, useTestDatabase } from "../support/test-database.ts";
import {
  activeUser,
  actorOf,
  addMember,
  addParticipant,
  expectHistoryInvariant,
  assignAs,
  commentAs,
  commentBy,
  demotedUser,
  fileTicketAs,
  type FixtureUser,
  makeOrganization,
  removeMember,
  ROLE,
  ticketIn,
  transitionAs,
} from "../support/fixtures.ts";

/**
 * The attacker's matrix, generated: every actor x every app_public table x
 * every command, and for UPDATE every column on its own. Each probe runs in a
 * rolled-back transaction with the role and claims the API would set (the
 * analyst role, which the API's connection role may not assume, is taken on a
 * superuser connection). The outcome is either the exact set of fixture rows
 * the statement saw or touched, or the SQLSTATE that refused it. UPDATEs
 * touch every row (`where true`), so the rows that come back are exactly the
 * ones the policies let through.
 */
const database = useTestDatabase();

const ACTORS = [
  "anonymous",
  "customer",
  "otherCustomer",
  "agent",
  "assignedAgent",
  "otherAgent",
  "admin",
  "deactivated",
  "demoted",
  // Organizations: Acme's manager, a member who shares sight, one who does not,
  // a customer copied in on the working ticket, a removed member, Globex's
  // manager (another organization), and a member of Initech (deactivated).
  "manager",
  "sighted",
  "blind",
  "cc",
  "removed",
  "outsider",
  "closedOrgMember",
  "analyst",
] as const;
type ActorKey = (typeof ACTORS)[number];
type UserKey = Exclude<ActorKey, "anonymous" | "analyst">;

const users = {} as Record<UserKey, FixtureUser>;
const TICKETS = ["open", "work", "closed", "other", "gone", "demotedOwn", "initech"] as const;
type TicketKey = (typeof TICKETS)[number];
const tickets = {} as Record<TicketKey, string>;
const COMMENTS = [
  "workPublic",
  "workInternal",
  "workReply",
  "openInternal",
  "otherPublic",
  "otherInternal",
  "closedPublic",
  "gonePublic",
] as const;
const comments = {} as Record<(typeof COMMENTS)[number], string>;
/** Attachments of the work ticket, of two of its comments, of an internal note on the open ticket, and of another customer's ticket. */
const ATTACHMENTS = ["workFile", "workPublicFile", "workInternalFile", "openInternalFile", "otherFile"] as const;
const attachments = {} as Record<(typeof ATTACHMENTS)[number], string>;
/** id -> fixture name, for users, tickets, comments, organizations, memberships, participants and attachments. */
const labels = new Map<string, string>();
const organizations = {} as Record<"acme" | "globex" | "initech", string>;
const userKeyOf = (id: string) => Object.entries(users).find(([, user]) => user.id === id)![0];

beforeAll(async () => {
  const owner = database.current.owner;
  const api = database.current.authenticator;
  users.customer = await activeUser(owner, "Matrix Customer", "customer");
  users.otherCustomer = await activeUser(owner, "Matrix Other Customer", "customer");
  users.agent = await activeUser(owner, "Matrix Pool Agent", "agent");
  users.assignedAgent = await activeUser(owner, "Matrix Assigned Agent", "agent");
  users.otherAgent = await activeUser(owner, "Matrix Other Agent", "agent");
  users.admin = await activeUser(owner, "Matrix Admin", "admin");
  // Deactivated after filing a ticket: even their own ticket disappears.
  users.deactivated = await activeUser(owner, "Matrix Gone Customer", "customer");
  tickets.gone = await ticketIn(owner, users.deactivated.id, "resolved", users.otherAgent.id, {
    subject: "Gone customer",
  });
  await owner.query("update app_public.users set is_active = false where id = $1", [users.deactivated.id]);
  // Token says agent, row says customer (and owns a ticket as a customer now).
  users.demoted = await demotedUser(owner, "Matrix Demoted Agent", "agent", "customer");
  tickets.demotedOwn = await ticketIn(owner, users.demoted.id, "resolved", null, { subject: "Filed after demotion" });

  // Acme: the customer (a plain member, first joined, so their tickets default to
  // it), its manager, members with and without shared sight, a customer copied
  // in, a removed member. Globex: the other customer and its manager. Initech:
  // deactivated once the customer filed a ticket for it.
  for (const key of ["manager", "sighted", "blind", "cc", "removed", "outsider", "closedOrgMember"] as const) {
    users[key] = await activeUser(owner, `Matrix ${key}`, "customer");
  }
  organizations.acme = await makeOrganization(owner, "Matrix Acme");
  organizations.globex = await makeOrganization(owner, "Matrix Globex");
  organizations.initech = await makeOrganization(owner, "Matrix Initech");
  await addMember(owner, organizations.acme, users.customer.id);
  await addMember(owner, organizations.acme, users.manager.id, "manager");
  await addMember(owner, organizations.acme, users.sighted.id, "member", true);
  await addMember(owner, organizations.acme, users.blind.id);
  await addMember(owner, organizations.acme, users.cc.id);
  await addMember(owner, organizations.acme, users.removed.id, "member", true);
  await addMember(owner, organizations.globex, users.otherCustomer.id);
  await addMember(owner, organizations.globex, users.outsider.id, "manager");
  await addMember(owner, organizations.initech, users.customer.id);
  await addMember(owner, organizations.initech, users.closedOrgMember.id, "member", true);
  tickets.initech = await ticketIn(owner, users.customer.id, "resolved", users.otherAgent.id, {
    subject: "Filed for Initech",
    organizationId: organizations.initech,
  });
  await owner.query("update app_public.organizations set is_active = false where id = $1", [organizations.initech]);

  tickets.open = await ticketIn(owner, users.customer.id, "open", null, { subject: "Open and unassigned" });
  // The working ticket goes through the real functions, so its histories and
  // audit rows are the ones production writes.
  tickets.work = await fileTicketAs(api, users.customer, "Being worked on", undefined, "high");
  await assignAs(api, users.admin, tickets.work, users.assignedAgent.id);
  await transitionAs(api, users.assignedAgent, tickets.work, "in_progress", "Looking");
  comments.workPublic = await commentAs(api, users.assignedAgent, tickets.work, "work public by the agent");
  comments.workInternal = await commentAs(api, users.assignedAgent, tickets.work, "work internal note", true);
  await transitionAs(api, users.assignedAgent, tickets.work, "waiting_on_customer");
  comments.workReply = await commentAs(api, users.customer, tickets.work, "work reply by the customer");
  tickets.closed = await ticketIn(owner, users.customer.id, "closed", users.assignedAgent.id, {
    subject: "Closed long ago",
  });
  tickets.other = await ticketIn(owner, users.otherCustomer.id, "in_progress", users.otherAgent.id, {
    subject: "Someone else's",
  });
  comments.openInternal = await commentAs(api, users.agent, tickets.open, "open internal note", true);
  comments.otherPublic = await commentAs(api, users.otherAgent, tickets.other, "other public");
  comments.otherInternal = await commentAs(api, users.otherAgent, tickets.other, "other internal", true);
  comments.closedPublic = await commentBy(owner, tickets.closed, users.assignedAgent.id, "closed public");
  comments.gonePublic = await commentBy(owner, tickets.gone, users.otherAgent.id, "gone public");

  await addParticipant(owner, tickets.work, users.cc.id);
  await addParticipant(owner, tickets.work, users.removed.id);
  await addParticipant(owner, tickets.other, users.otherAgent.id, "follower");
  await removeMember(owner, organizations.acme, users.removed.id);
  await owner.query("update app_public.ticket_participants set removed_at = now() where user_id = $1", [
    users.removed.id,
  ]);
  const { rows: participantRows } = await owner.query<{ id: string; user_id: string }>(
    "select id, user_id from app_public.ticket_participants",
  );
  const participantName: Record<string, string> = {
    [users.cc.id]: "ccOnWork",
    [users.removed.id]: "removedOnWork",
    [users.otherAgent.id]: "followerOnOther",
  };
  for (const row of participantRows) labels.set(row.id, participantName[row.user_id]!);
  const { rows: membershipRows } = await owner.query<{ id: string; organization_id: string; user_id: string }>(
    "select id, organization_id, user_id from app_public.organization_memberships",
  );
  for (const [key, id] of Object.entries(organizations)) labels.set(id, key);
  for (const row of membershipRows) labels.set(row.id, `${labels.get(row.organization_id)}:${userKeyOf(row.user_id)}`);
  const attach = async (ticketId: string, commentId: string | null, uploaderId: string) =>
    (
      await owner.query<{ id: string }>(
        `insert into app_public.attachments (ticket_id, comment_id, uploader_id, file_name, content_type, size, sha256)
         values ($1, $2, $3, 'f.txt', 'text/plain', 1, repeat('a', 64)) returning id`,
        [ticketId, commentId, uploaderId],
      )
    ).rows[0]!.id;
  attachments.workFile = await attach(tickets.work, null, users.customer.id);
  attachments.workPublicFile = await attach(tickets.work, comments.workPublic, users.assignedAgent.id);
  attachments.workInternalFile = await attach(tickets.work, comments.workInternal, users.assignedAgent.id);
  attachments.openInternalFile = await attach(tickets.open, comments.openInternal, users.agent.id);
  attachments.otherFile = await attach(tickets.other, null, users.otherCustomer.id);
  // An SLA event of the ticket being worked on.
  await owner.query(
    `insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id)
     values ($1, 'resolution', 'at_risk', now(), 'high', $2, '00000000-0000-7000-8000-000000002407')`,
    [tickets.work, users.assignedAgent.id],
  );
  // Contract targets of Acme and Globex (high priority).
  await owner.query(
    `insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes)
     values ($1, 'high', 30, 240), ($2, 'high', 45, 300)`,
    [organizations.acme, organizations.globex],
  );
  // A holiday of the 24x7 calendar, long past (no due time moves).
  await owner.query(
    "insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name) values ('00000000-0000-7000-8000-000000002407', '2000-01-01', 'Matrix')",
  );

  // A webhook endpoint (inactive, so nothing is queued) and one delivery of it.
  const { rows: endpoints } = await owner.query<{ id: string }>(
    `insert into app_public.webhook_endpoints (url, event_kinds, is_active, secret)
     values ('https://hooks.example.com/matrix', '{ticket.created}', false, app_public.new_webhook_secret()) returning id`,
  );
  await owner.query(
    "insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload) values ($1, 1, 'ticket.created', '{}')",
    [endpoints[0]!.id],
  );

  for (const [key, user] of Object.entries(users)) labels.set(user.id, key);
  for (const [key, id] of Object.entries(tickets)) labels.set(id, key);
  for (const [key, id] of Object.entries(comments)) labels.set(id, key);
  for (const [key, id] of Object.entries(attachments)) labels.set(id, key);
});

function actor(key: ActorKey): Actor {
  if (key === "anonymous") return ANONYMOUS;
  if (key === "analyst") return { role: ROLE.analyst };
  return actorOf(users[key]);
}

type Result = { code: string; rows?: string[]; count?: number };

/**
 * Runs `sql` as the actor and rolls back. `labelled` rows come back as the
 * sorted fixture names of their `label` column; otherwise as a count.
 */
async function probe(key: ActorKey, sql: string, labelled: boolean): Promise<Result> {
  const pool: pg.Pool = key === "analyst" ? database.current.root : database.current.authenticator;
  try {
    return await actAs(pool, actor(key), async (client) => {
      const result = await client.query(sql);
      if (!labelled) return { code: "ok", count: result.rowCount ?? 0 };
      const names = new Set(result.rows.map((row) => labels.get(row.label) ?? `unknown:${row.label}`));
      return { code: "ok", rows: [...names].sort() };
    });
  } catch (error) {
    return { code: (error as { code?: string }).code ?? "unknown" };
  }
}

const refused = (code = "42501"): Result => ({ code });
const rows = (...names: string[]): Result => ({ code: "ok", rows: [...names].sort() });
const count = (n: number): Result => ({ code: "ok", count: n });

/** Builds a per-actor expectation; actors not named get `otherwise`. */
function per(expected: Partial<Record<ActorKey, Result>>, otherwise: Result = refused()): Record<ActorKey, Result> {
  return Object.fromEntries(ACTORS.map((key) => [key, expected[key] ?? otherwise])) as Record<ActorKey, Result>;
}

const ALL_USERS: UserKey[] = ACTORS.filter((key): key is UserKey => key !== "anonymous" && key !== "analyst");
const STAFF_SEE_ALL_USERS = rows(...ALL_USERS);
const nobody = rows();

interface TableSpec {
  table: string;
  /** Expression naming the fixture a row belongs to; null: compare row counts. */
  label: string | null;
  select: Record<ActorKey, Result>;
  /** Every column with an assignment that leaves the row as it was. */
  columns: Record<string, string>;
  /** Expectation per updated column; columns not listed are refused to everybody. */
  update: Record<string, Record<ActorKey, Result>>;
  insert: { sql: (key: ActorKey) => string; expected: Record<ActorKey, Result> };
  delete: Record<ActorKey, Result>;
}

const ORGANIZATION_CUSTOMERS = ["manager", "sighted", "blind", "cc", "removed", "outsider", "closedOrgMember"] as const;
const CUSTOMER_TOKENS: ActorKey[] = [
  "customer",
  "otherCustomer",
  "deactivated",
  "anonymous",
  "analyst",
  ...ORGANIZATION_CUSTOMERS,
];
/** What the organization actors see of the tickets (and the rows that follow a ticket). */
const organizationTicketsSeen = {
  manager: rows("open", "work", "closed"),
  sighted: rows("open", "work", "closed"),
  blind: nobody,
  cc: rows("work"),
  removed: nobody,
  outsider: rows("other"),
  closedOrgMember: nobody,
};
const ticketsSeen = {
  customer: rows("open", "work", "closed", "initech"),
  otherCustomer: rows("other"),
  agent: rows("open"),
  assignedAgent: rows("open", "work", "closed"),
  otherAgent: rows("open", "other", "gone", "initech"),
  admin: rows(...TICKETS),
  deactivated: nobody,
  demoted: nobody,
  ...organizationTicketsSeen,
};
/** Customers see their active organizations (Initech is deactivated), nobody else's. */
const customersSeeTheirOrganizations = {
  customer: rows("acme"),
  otherCustomer: rows("globex"),
  manager: rows("acme"),
  sighted: rows("acme"),
  blind: rows("acme"),
  cc: rows("acme"),
  removed: nobody,
  outsider: rows("globex"),
  closedOrgMember: nobody,
  deactivated: nobody,
  demoted: nobody,
};
const noOrganizationEdits = Object.fromEntries(ORGANIZATION_CUSTOMERS.map((key) => [key, nobody]));
const ticketTextEditable = {
  customer: rows("open", "work", "initech"),
  otherCustomer: rows("other"),
  agent: nobody,
  assignedAgent: rows("work", "closed"),
  otherAgent: rows("other", "gone", "initech"),
  admin: rows(...TICKETS),
  deactivated: nobody,
  demoted: nobody,
  ...noOrganizationEdits,
};
const assignedSeen = {
  customer: rows("work", "closed", "initech"),
  otherCustomer: rows("other"),
  agent: nobody,
  assignedAgent: rows("work", "closed"),
  otherAgent: rows("other", "gone", "initech"),
  admin: rows("work", "closed", "other", "gone", "initech"),
  deactivated: nobody,
  demoted: nobody,
  manager: rows("work", "closed"),
  sighted: rows("work", "closed"),
  blind: nobody,
  cc: rows("work"),
  removed: nobody,
  outsider: rows("other"),
  closedOrgMember: nobody,
};
/** Customers' columns that only staff may write (no privilege: refused). */
const staffOnlyColumn = (expected: Partial<Record<ActorKey, Result>>) =>
  per({
    ...expected,
    ...Object.fromEntries(
      CUSTOMER_TOKENS.filter((key) => key !== "anonymous" && key !== "analyst").map((key) => [key, refused()]),
    ),
  });
const everySignedIn = (n: number) =>
  per({
    customer: count(n),
    otherCustomer: count(n),
    agent: count(n),
    assignedAgent: count(n),
    otherAgent: count(n),
    admin: count(n),
    deactivated: count(0),
    demoted: count(0),
    ...Object.fromEntries(ORGANIZATION_CUSTOMERS.map((key) => [key, count(n)])),
  });
const ACME_PEOPLE = ["customer", "manager", "sighted", "blind", "cc"] as const;
const STAFF = ["agent", "assignedAgent", "otherAgent", "admin"] as const;

const TABLES: TableSpec[] = [
  {
    table: "users",
    label: "id",
    select: per({
      // Customers: themselves, staff, and the customers of their active organizations.
      customer: rows(...ACME_PEOPLE, ...STAFF),
      otherCustomer: rows("otherCustomer", "outsider", ...STAFF),
      manager: rows(...ACME_PEOPLE, ...STAFF),
      sighted: rows(...ACME_PEOPLE, ...STAFF),
      blind: rows(...ACME_PEOPLE, ...STAFF),
      cc: rows(...ACME_PEOPLE, ...STAFF),
      removed: rows("removed", ...STAFF),
      outsider: rows("otherCustomer", "outsider", ...STAFF),
      closedOrgMember: rows("closedOrgMember", ...STAFF),
      agent: STAFF_SEE_ALL_USERS,
      assignedAgent: STAFF_SEE_ALL_USERS,
      otherAgent: STAFF_SEE_ALL_USERS,
      admin: STAFF_SEE_ALL_USERS,
      deactivated: nobody,
      demoted: nobody,
    }),
    columns: {
      id: "id",
      display_name: "display_name",
      role: "role",
      is_active: "is_active",
      created_at: "created_at",
      updated_at: "updated_at",
    },
    update: {
      display_name: per({
        customer: rows("customer"),
        otherCustomer: rows("otherCustomer"),
        agent: rows("agent"),
        assignedAgent: rows("assignedAgent"),
        otherAgent: rows("otherAgent"),
        admin: STAFF_SEE_ALL_USERS,
        deactivated: nobody,
        demoted: nobody,
        ...Object.fromEntries(ORGANIZATION_CUSTOMERS.map((key) => [key, rows(key)])),
      }),
    },
    insert: {
      sql: () => "insert into app_public.users (display_name, role) values ('Intruder', 'admin')",
      expected: per({}),
    },
    delete: per({}),
  },
  {
    table: "tickets",
    label: "id",
    select: per(ticketsSeen),
    columns: {
      id: "id",
      number: "default",
      subject: "subject",
      description: "description",
      status: "status",
      priority: "priority",
      customer_id: "customer_id",
      agent_id: "agent_id",
      created_at: "created_at",
      updated_at: "updated_at",
      first_response_due_at: "first_response_due_at",
      resolution_due_at: "resolution_due_at",
      first_responded_at: "first_responded_at",
      resolved_at: "resolved_at",
      closed_at: "closed_at",
      status_changed_at: "status_changed_at",
      first_response_at_risk_at: "first_response_at_risk_at",
      resolution_at_risk_at: "resolution_at_risk_at",
      first_response_paused_seconds_left: "first_response_paused_seconds_left",
      resolution_paused_seconds_left: "resolution_paused_seconds_left",
      search: "default",
      organization_id: "organization_id",
    },
    update: {
      subject: per(ticketTextEditable),
      description: per(ticketTextEditable),
      // Customers hold no privilege on priority or organization; a stale agent token does, and finds no row.
      priority: staffOnlyColumn(ticketTextEditable),
      organization_id: staffOnlyColumn(ticketTextEditable),
    },
    insert: {
      sql: (key) =>
        CUSTOMER_TOKENS.includes(key)
          ? "insert into app_public.tickets (subject, description, priority) values ('Probe', 'Probe', 'low') returning id"
          : `insert into app_public.tickets (subject, description, priority, customer_id) values ('Probe', 'Probe', 'low', '${users.customer.id}') returning id`,
      expected: per({
        customer: count(1),
        otherCustomer: count(1),
        agent: count(1),
        assignedAgent: count(1),
        otherAgent: count(1),
        admin: count(1),
        // The people check refuses a customer who is no longer active.
        deactivated: refused("TKVAL"),
        ...Object.fromEntries(ORGANIZATION_CUSTOMERS.map((key) => [key, count(1)])),
      }),
    },
    delete: per({}),
  },
  {
    table: "ticket_comments",
    label: "id",
    select: per({
      customer: rows("workPublic", "workReply", "closedPublic"),
      otherCustomer: rows("otherPublic"),
      manager: rows("workPublic", "workReply", "closedPublic"),
      sighted: rows("workPublic", "workReply", "closedPublic"),
      blind: nobody,
      cc: rows("workPublic", "workReply"),
      removed: nobody,
      outsider: rows("otherPublic"),
      closedOrgMember: nobody,
      agent: rows("openInternal"),
      assignedAgent: rows("workPublic", "workInternal", "workReply", "openInternal", "closedPublic"),
      otherAgent: rows("openInternal", "otherPublic", "otherInternal", "gonePublic"),
      admin: rows(...COMMENTS),
      deactivated: nobody,
      demoted: nobody,
    }),
    columns: {
      id: "id",
      ticket_id: "ticket_id",
      author_id: "author_id",
      body: "body",
      is_internal: "is_internal",
      created_at: "created_at",
      search: "default",
    },
    update: {},
    insert: {
      sql: () => `insert into app_public.ticket_comments (ticket_id, body) values ('${tickets.work}', 'Probe')`,
      // The requester, Acme's manager and the customer copied in; sight alone does not write.
      expected: per({ customer: count(1), assignedAgent: count(1), admin: count(1), manager: count(1), cc: count(1) }),
    },
    delete: per({}),
  },
  {
    table: "ticket_status_history",
    label: "ticket_id",
    select: per(ticketsSeen),
    columns: {
      id: "id",
      ticket_id: "ticket_id",
      from_status: "from_status",
      to_status: "to_status",
      changed_by: "changed_by",
      changed_at: "changed_at",
      note: "note",
    },
    update: {},
    insert: {
      sql: () =>
        `insert into app_public.ticket_status_history (ticket_id, from_status, to_status) values ('${tickets.work}', 'in_progress', 'closed')`,
      expected: per({}),
    },
    delete: per({}),
  },
  {
    table: "ticket_assignment_history",
    label: "ticket_id",
    select: per(assignedSeen),
    columns: {
      id: "id",
      ticket_id: "ticket_id",
      from_agent_id: "from_agent_id",
      to_agent_id: "to_agent_id",
      changed_by: "changed_by",
      changed_at: "changed_at",
    },
    update: {},
    insert: {
      sql: (key) =>
        `insert into app_public.ticket_assignment_history (ticket_id, to_agent_id) values ('${tickets.open}', '${
          key === "agent" ? users.agent.id : users.assignedAgent.id
        }')`,
      expected: per({}),
    },
    delete: per({}),
  },
  {
    // Written only through createOrganization and updateOrganization (admins).
    table: "organizations",
    label: "id",
    select: per({
      ...customersSeeTheirOrganizations,
      agent: rows("acme", "globex", "initech"),
      assignedAgent: rows("acme", "globex", "initech"),
      otherAgent: rows("acme", "globex", "initech"),
      admin: rows("acme", "globex", "initech"),
    }),
    columns: {
      id: "id",
      name: "name",
      domains: "domains",
      auto_join: "auto_join",
      is_active: "is_active",
      created_at: "created_at",
      updated_at: "updated_at",
    },
    update: {},
    insert: { sql: () => "insert into app_public.organizations (name) values ('Intruder Inc')", expected: per({}) },
    delete: per({}),
  },
  {
    // Written only through addOrganizationMember and removeOrganizationMember (admins).
    table: "organization_memberships",
    label: "id",
    select: per({
      customer: rows("acme:customer"),
      otherCustomer: rows("globex:otherCustomer"),
      manager: rows("acme:customer", "acme:manager", "acme:sighted", "acme:blind", "acme:cc"),
      sighted: rows("acme:sighted"),
      blind: rows("acme:blind"),
      cc: rows("acme:cc"),
      removed: nobody,
      outsider: rows("globex:otherCustomer", "globex:outsider"),
      closedOrgMember: nobody,
      ...Object.fromEntries(
        STAFF.map((key) => [
          key,
          rows(
            "acme:customer",
            "acme:manager",
            "acme:sighted",
            "acme:blind",
            "acme:cc",
            "acme:removed",
            "globex:otherCustomer",
            "globex:outsider",
            "initech:customer",
            "initech:closedOrgMember",
          ),
        ]),
      ),
      deactivated: nobody,
      demoted: nobody,
    }),
    columns: {
      id: "id",
      organization_id: "organization_id",
      user_id: "user_id",
      role: "role",
      sees_organization_tickets: "sees_organization_tickets",
      added_by: "added_by",
      created_at: "created_at",
      updated_at: "updated_at",
      removed_at: "removed_at",
      removed_by: "removed_by",
    },
    update: {},
    insert: {
      sql: (key) =>
        `insert into app_public.organization_memberships (organization_id, user_id, role, sees_organization_tickets)
         values ('${organizations.acme}', '${key === "blind" ? users.blind.id : users.otherCustomer.id}', 'manager', true)`,
      expected: per({}),
    },
    delete: per({}),
  },
  {
    // Written only through addTicketParticipant and removeTicketParticipant; visible with the ticket.
    table: "ticket_participants",
    label: "id",
    select: per({
      customer: rows("ccOnWork"),
      otherCustomer: rows("followerOnOther"),
      manager: rows("ccOnWork"),
      sighted: rows("ccOnWork"),
      blind: nobody,
      cc: rows("ccOnWork"),
      removed: nobody,
      outsider: rows("followerOnOther"),
      closedOrgMember: nobody,
      agent: nobody,
      assignedAgent: rows("ccOnWork", "removedOnWork"),
      otherAgent: rows("followerOnOther"),
      admin: rows("ccOnWork", "removedOnWork", "followerOnOther"),
      deactivated: nobody,
      demoted: nobody,
    }),
    columns: {
      id: "id",
      ticket_id: "ticket_id",
      user_id: "user_id",
      kind: "kind",
      added_by: "added_by",
      created_at: "created_at",
      updated_at: "updated_at",
      removed_at: "removed_at",
      removed_by: "removed_by",
    },
    update: {},
    insert: {
      sql: () =>
        `insert into app_public.ticket_participants (ticket_id, user_id, kind) values ('${tickets.other}', '${users.blind.id}', 'cc')`,
      expected: per({}),
    },
    delete: per({}),
  },
  {
    table: "ticket_transitions",
    label: null,
    select: everySignedIn(12),
    columns: { from_status: "from_status", to_status: "to_status", allowed_roles: "allowed_roles" },
    update: {
      from_status: per({ admin: count(12) }),
      to_status: per({ admin: count(12) }),
      allowed_roles: per({ admin: count(12) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.ticket_transitions (from_status, to_status, allowed_roles) values ('open', 'resolved', '{customer}')",
      expected: per({ admin: count(1) }),
    },
    delete: per({ admin: count(12) }),
  },
  {
    table: "sla_policies",
    label: null,
    select: everySignedIn(4),
    columns: {
      priority: "priority",
      first_response_minutes: "first_response_minutes",
      resolution_minutes: "resolution_minutes",
      calendar_id: "calendar_id",
    },
    update: {
      first_response_minutes: per({ admin: count(4) }),
      resolution_minutes: per({ admin: count(4) }),
      calendar_id: per({ admin: count(4) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.sla_policies (priority, first_response_minutes, resolution_minutes) values ('low', 1, 1)",
      expected: per({}),
    },
    delete: per({}),
  },
  {
    // Customers read their active organizations' targets; staff read all; admins write.
    table: "organization_sla_policies",
    label: "organization_id",
    select: per({
      ...customersSeeTheirOrganizations,
      agent: rows("acme", "globex"),
      assignedAgent: rows("acme", "globex"),
      otherAgent: rows("acme", "globex"),
      admin: rows("acme", "globex"),
    }),
    columns: {
      id: "id",
      organization_id: "organization_id",
      priority: "priority",
      first_response_minutes: "first_response_minutes",
      resolution_minutes: "resolution_minutes",
      calendar_id: "calendar_id",
    },
    update: {
      first_response_minutes: per({ admin: rows("acme", "globex") }),
      resolution_minutes: per({ admin: rows("acme", "globex") }),
      calendar_id: per({ admin: rows("acme", "globex") }),
    },
    insert: {
      sql: () =>
        `insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values ('${organizations.acme}', 'low', 60, 600)`,
      expected: per({ admin: count(1) }),
    },
    delete: per({ admin: count(2) }),
  },
  {
    table: "business_calendars",
    label: null,
    select: everySignedIn(1),
    columns: { id: "id", name: "name", time_zone: "time_zone", created_at: "created_at" },
    update: { name: per({ admin: count(1) }) },
    insert: {
      sql: () => "insert into app_public.business_calendars (name, time_zone) values ('Probe', 'Europe/Berlin')",
      expected: per({ admin: count(1) }),
    },
    delete: per({}),
  },
  {
    table: "business_calendar_versions",
    label: null,
    select: everySignedIn(1),
    columns: { id: "id", calendar_id: "calendar_id", effective_from: "effective_from" },
    update: {},
    insert: {
      sql: () =>
        "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ('00000000-0000-7000-8000-000000002407', '2040-01-01')",
      expected: per({ admin: count(1) }),
    },
    delete: per({ admin: count(1) }),
  },
  {
    table: "business_calendar_hours",
    label: null,
    select: everySignedIn(7),
    columns: { id: "id", version_id: "version_id", weekday: "weekday", starts_at: "starts_at", ends_at: "ends_at" },
    update: {
      weekday: per({ admin: count(7) }),
      starts_at: per({ admin: count(7) }),
      ends_at: per({ admin: count(7) }),
    },
    insert: {
      // The 24x7 calendar is open all week: another interval would overlap.
      sql: () =>
        "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) values ('00000000-0000-7000-8000-000000002408', 1, '09:00', '17:00')",
      expected: per({ admin: refused("TKVAL") }),
    },
    delete: per({ admin: count(7) }),
  },
  {
    table: "business_calendar_holidays",
    label: null,
    select: everySignedIn(1),
    columns: {
      id: "id",
      calendar_id: "calendar_id",
      holiday_date: "holiday_date",
      name: "name",
      starts_at: "starts_at",
      ends_at: "ends_at",
    },
    update: {
      holiday_date: per({ admin: count(1) }),
      name: per({ admin: count(1) }),
      starts_at: per({ admin: count(1) }),
      ends_at: per({ admin: count(1) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.business_calendar_holidays (calendar_id, holiday_date) values ('00000000-0000-7000-8000-000000002407', '2001-01-01')",
      expected: per({ admin: count(1) }),
    },
    delete: per({ admin: count(1) }),
  },
  {
    // Staff read the events of the tickets they can read; nobody writes them.
    table: "sla_events",
    label: "ticket_id",
    // Events of the fixture tickets that went through replies and resolutions, plus one written here.
    select: per({
      agent: nobody,
      assignedAgent: rows("work", "closed"),
      otherAgent: rows("other", "gone"),
      admin: rows("work", "closed", "other", "gone"),
      deactivated: refused(),
      demoted: nobody,
    }),
    columns: {
      id: "id",
      ticket_id: "ticket_id",
      clock: "clock",
      kind: "kind",
      due_at: "due_at",
      occurred_at: "occurred_at",
      priority: "priority",
      agent_id: "agent_id",
      calendar_id: "calendar_id",
      organization_id: "organization_id",
    },
    update: {},
    insert: {
      sql: () =>
        `insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, calendar_id) values ('${tickets.work}', 'resolution', 'met', now(), 'high', '00000000-0000-7000-8000-000000002407')`,
      expected: per({}),
    },
    delete: per({}),
  },
  {
    table: "sla_pause_statuses",
    label: null,
    select: everySignedIn(3),
    columns: { status: "status", clock: "clock" },
    update: {},
    insert: {
      sql: () => "insert into app_public.sla_pause_statuses (status, clock) values ('in_progress', 'first_response')",
      expected: per({ admin: count(1) }),
    },
    delete: per({ admin: count(3) }),
  },
  {
    table: "write_quotas",
    label: null,
    select: per({ admin: count(9) }),
    columns: { role: "role", kind: "kind", max_count: "max_count", per_interval: "per_interval" },
    update: {
      max_count: per({ admin: count(9) }),
      per_interval: per({ admin: count(9) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.write_quotas (role, kind, max_count, per_interval) values ('customer', 'ticket', 1, '1 hour')",
      expected: per({}),
    },
    delete: per({}),
  },
  {
    // Admins only; the secret is written through the functions, never read.
    table: "webhook_endpoints",
    label: null,
    select: per({ admin: count(1) }),
    columns: {
      id: "id",
      url: "url",
      event_kinds: "event_kinds",
      include_internal: "include_internal",
      priorities: "priorities",
      is_active: "is_active",
      secret: "secret",
      consecutive_failures: "consecutive_failures",
      disabled_at: "disabled_at",
      created_at: "created_at",
      secret_rotated_at: "secret_rotated_at",
    },
    update: {
      url: per({ admin: count(1) }),
      event_kinds: per({ admin: count(1) }),
      include_internal: per({ admin: count(1) }),
      priorities: per({ admin: count(1) }),
      is_active: per({ admin: count(1) }),
      // Writable but not readable: `set secret = secret` reads it, so it is refused.
      secret_rotated_at: per({ admin: count(1) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.webhook_endpoints (url, event_kinds, secret) values ('https://hooks.example.com/x', '{ticket.created}', 'whsec_' || repeat('A', 44))",
      expected: per({ admin: count(1) }),
    },
    delete: per({}),
  },
  {
    // The delivery log: admins read it and ask for redeliveries; the worker writes it.
    table: "webhook_deliveries",
    label: null,
    select: per({ admin: count(1) }),
    columns: {
      id: "id",
      endpoint_id: "endpoint_id",
      event_id: "event_id",
      event_type: "event_type",
      payload: "payload",
      status: "status",
      attempts: "attempts",
      response_code: "response_code",
      latency_ms: "latency_ms",
      last_error: "last_error",
      created_at: "created_at",
      last_attempt_at: "last_attempt_at",
      next_attempt_at: "next_attempt_at",
      succeeded_at: "succeeded_at",
      redelivery_requested_at: "redelivery_requested_at",
    },
    update: {
      redelivery_requested_at: per({ admin: count(1) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload) values (gen_random_uuid(), 2, 'ticket.created', '{}')",
      expected: per({}),
    },
    delete: per({}),
  },
  {
    table: "audit_log_entries",
    label: null,
    // The admin's count is filled in from the owner's view of the log.
    select: per({}),
    columns: {
      id: "id",
      occurred_at: "occurred_at",
      actor_id: "actor_id",
      db_role: "db_role",
      transaction_id: "transaction_id",
      table_name: "table_name",
      operation: "operation",
      record_id: "record_id",
      old_data: "old_data",
      new_data: "new_data",
    },
    update: {},
    insert: {
      sql: () =>
        "insert into app_public.audit_log_entries (table_name, operation, new_data) values ('app_public.tickets', 'INSERT', '{}')",
      expected: per({}),
    },
    delete: per({}),
  },
  {
    // Visible through the ticket and the comment: customers never see an internal note's file.
    table: "attachments",
    label: "id",
    select: per({
      customer: rows("workFile", "workPublicFile"),
      otherCustomer: rows("otherFile"),
      manager: rows("workFile", "workPublicFile"),
      sighted: rows("workFile", "workPublicFile"),
      blind: nobody,
      cc: rows("workFile", "workPublicFile"),
      removed: nobody,
      outsider: rows("otherFile"),
      closedOrgMember: nobody,
      agent: rows("openInternalFile"),
      assignedAgent: rows("workFile", "workPublicFile", "workInternalFile", "openInternalFile"),
      otherAgent: rows("openInternalFile", "otherFile"),
      admin: rows(...ATTACHMENTS),
      deactivated: nobody,
      demoted: nobody,
    }),
    columns: {
      id: "id",
      ticket_id: "ticket_id",
      comment_id: "comment_id",
      uploader_id: "uploader_id",
      file_name: "file_name",
      content_type: "content_type",
      size: "size",
      sha256: "sha256",
      storage_key: "storage_key",
      state: "state",
      rejection_reason: "rejection_reason",
      created_at: "created_at",
      completed_at: "completed_at",
    },
    // The state changes only through the verdict function, on the API's own connection.
    update: {},
    insert: {
      sql: () =>
        `insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values ('${tickets.work}', 'p.txt', 'text/plain', 1, repeat('a', 64))`,
      // As for a public comment: the requester, the organization's manager, a cc; not a member who only reads.
      expected: per({ customer: count(1), manager: count(1), cc: count(1), assignedAgent: count(1), admin: count(1) }),
    },
    delete: per({}),
  },
  {
    table: "attachment_quotas",
    label: null,
    select: per({ admin: count(3) }),
    columns: {
      role: "role",
      max_file_bytes: "max_file_bytes",
      max_count: "max_count",
      max_bytes: "max_bytes",
      per_interval: "per_interval",
    },
    update: {
      max_file_bytes: per({ admin: count(3) }),
      max_count: per({ admin: count(3) }),
      max_bytes: per({ admin: count(3) }),
      per_interval: per({ admin: count(3) }),
    },
    insert: {
      sql: () =>
        "insert into app_public.attachment_quotas (role, max_file_bytes, max_count, max_bytes, per_interval) values ('customer', 1, 1, 1, '1 hour')",
      expected: per({}),
    },
    delete: per({}),
  },
];

const spec = (table: string) => TABLES.find((entry) => entry.table === table)!;

describe("SELECT: exactly the rows DESIGN allows", () => {
  it.each(TABLES.flatMap((entry) => ACTORS.map((key) => [key, entry.table] as const)))(
    "%s SELECT %s",
    async (key, table) => {
      const entry = spec(table);
      let expected = entry.select[key];
      if (table === "audit_log_entries" && key === "admin") {
        const { rows: all } = await database.current.owner.query(
          "select count(*)::int as n from app_private.audit_log",
        );
        expect(all[0].n).toBeGreaterThan(0);
        expected = count(all[0].n);
      }
      const sql = entry.label
        ? `select ${entry.label} as label from app_public.${table}`
        : `select 1 from app_public.${table}`;
      expect(await probe(key, sql, entry.label !== null)).toEqual(expected);
    },
  );
});

describe("UPDATE of each column on its own", () => {
  const cases = TABLES.flatMap((entry) =>
    Object.keys(entry.columns).flatMap((column) => ACTORS.map((key) => [key, `${entry.table}.${column}`] as const)),
  );
  it.each(cases)("%s UPDATE %s", async (key, qualified) => {
    const [table, column] = qualified.split(".") as [string, string];
    const entry = spec(table);
    const expected = entry.update[column]?.[key] ?? refused();
    const returning = entry.label ? ` returning ${entry.label} as label` : "";
    const sql = `update app_public.${table} set ${column} = ${entry.columns[column]} where true${returning}`;
    expect(await probe(key, sql, entry.label !== null)).toEqual(expected);
  });
});

describe("INSERT", () => {
  it.each(TABLES.flatMap((entry) => ACTORS.map((key) => [key, entry.table] as const)))(
    "%s INSERT %s",
    async (key, table) => {
      const entry = spec(table);
      expect(await probe(key, entry.insert.sql(key), false)).toEqual(entry.insert.expected[key]);
    },
  );

  // Columns a writer may never name, added one at a time to an insert that is
  // otherwise allowed (or would be, for actors refused anyway).
  const ticketExtras: Record<string, string> = {
    id: "gen_random_uuid()",
    number: "default",
    status: "'closed'",
    agent_id: "null",
    created_at: "now()",
    updated_at: "now()",
    first_response_due_at: "now()",
    resolution_due_at: "now()",
    first_responded_at: "now()",
    resolved_at: "now()",
    closed_at: "now()",
    status_changed_at: "now()",
    first_response_at_risk_at: "now()",
    resolution_at_risk_at: "now()",
    first_response_paused_seconds_left: "1",
    resolution_paused_seconds_left: "1",
    search: "default",
  };
  it.each(
    [...Object.keys(ticketExtras), "customer_id"].flatMap((column) =>
      ACTORS.map((key) => [key, `tickets.${column}`] as const),
    ),
  )("%s INSERT naming %s", async (key, qualified) => {
    const column = qualified.split(".")[1]!;
    const staff = !CUSTOMER_TOKENS.includes(key);
    if (column === "customer_id" && staff) return; // part of every staff insert, covered above
    const base = staff ? ["subject", "customer_id"] : ["subject"];
    const values = staff ? ["'Probe'", `'${users.customer.id}'`] : ["'Probe'"];
    const value = column === "customer_id" ? `'${users.customer.id}'` : ticketExtras[column]!;
    const sql = `insert into app_public.tickets (${[...base, column].join(", ")}) values (${[...values, value].join(", ")})`;
    expect(await probe(key, sql, false)).toEqual(refused());
  });

  const commentExtras: Record<string, string> = {
    id: "gen_random_uuid()",
    author_id: "null",
    created_at: "now()",
    search: "default",
  };
  it.each(
    Object.keys(commentExtras).flatMap((column) => ACTORS.map((key) => [key, `ticket_comments.${column}`] as const)),
  )("%s INSERT naming %s", async (key, qualified) => {
    const column = qualified.split(".")[1]!;
    const sql = `insert into app_public.ticket_comments (ticket_id, body, ${column}) values ('${tickets.work}', 'Probe', ${commentExtras[column]})`;
    expect(await probe(key, sql, false)).toEqual(refused());
  });

  it.each(ACTORS)("%s INSERT an internal note (is_internal = true)", async (key) => {
    const sql = `insert into app_public.ticket_comments (ticket_id, body, is_internal) values ('${tickets.work}', 'Probe', true)`;
    const expected = per({ assignedAgent: count(1), admin: count(1) })[key];
    expect(await probe(key, sql, false)).toEqual(expected);
  });

  const commentable: Record<ActorKey, TicketKey[]> = {
    anonymous: [],
    customer: ["open", "work", "initech"],
    otherCustomer: ["other"],
    manager: ["open", "work"],
    sighted: [],
    blind: [],
    cc: ["work"],
    removed: [],
    outsider: ["other"],
    closedOrgMember: [],
    agent: ["open"],
    assignedAgent: ["open", "work"],
    otherAgent: ["open", "other", "gone", "initech"],
    admin: [...TICKETS],
    deactivated: [],
    demoted: [],
    analyst: [],
  };
  it.each(ACTORS)("%s INSERT a comment: on exactly the tickets allowed, 42501 elsewhere", async (key) => {
    const outcomes: Record<string, string> = {};
    for (const ticket of TICKETS) {
      const sql = `insert into app_public.ticket_comments (ticket_id, body) values ('${tickets[ticket]}', 'Probe')`;
      outcomes[ticket] = (await probe(key, sql, false)).code;
    }
    const expected = Object.fromEntries(
      TICKETS.map((ticket) => [ticket, commentable[key].includes(ticket) ? "ok" : "42501"]),
    );
    expect(outcomes).toEqual(expected);
  });
});

describe("DELETE and TRUNCATE", () => {
  it.each(TABLES.flatMap((entry) => ACTORS.map((key) => [key, entry.table] as const)))(
    "%s DELETE %s",
    async (key, table) => {
      expect(await probe(key, `delete from app_public.${table}`, false)).toEqual(spec(table).delete[key]);
    },
  );

  it.each(
    TABLES.filter((entry) => entry.table !== "audit_log_entries").flatMap((entry) =>
      ACTORS.map((key) => [key, entry.table] as const),
    ),
  )("%s TRUNCATE %s", async (key, table) => {
    expect(await probe(key, `truncate app_public.${table}`, false)).toEqual(refused());
  });
});

describe("the matrix itself", () => {
  it("names every app_public table and view, and every column of each", async () => {
    const { rows: catalog } = await database.current.owner.query<{ table: string; columns: string[] }>(
      `select c.relname as table, array_agg(a.attname::text order by a.attname) as columns
         from pg_catalog.pg_class as c
         join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
        group by c.relname order by c.relname`,
    );
    const covered = TABLES.map((entry) => ({ table: entry.table, columns: Object.keys(entry.columns).sort() })).sort(
      (a, b) => a.table.localeCompare(b.table),
    );
    expect(covered).toEqual(catalog.map((row) => ({ table: row.table, columns: [...row.columns].sort() })));
  });

  it("takes the analyst role on a superuser connection, because the API's connection role cannot", async () => {
    const outcome = await actAs(database.current.authenticator, { role: ROLE.analyst }, async () => "ok").catch(
      (error: { code?: string }) => error.code,
    );
    expect(outcome).toBe("42501");
  });

  it("leaves the history invariant intact after the fixtures went through the real functions", async () => {
    await expectHistoryInvariant(database.current.owner);
    const { rows: work } = await database.current.owner.query(
      "select to_status from app_public.ticket_status_history where ticket_id = $1 order by changed_at, id",
      [tickets.work],
    );
    // Created, started, waiting, and back to work when the customer replied.
    expect(work.map((row) => row.to_status)).toEqual(["open", "in_progress", "waiting_on_customer", "in_progress"]);
  });
});
