import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { applySettings } from "../../src/database/request-transaction.ts";
import { actorSettings, useTestDatabase } from "../support/test-database.ts";
import { addMember, addParticipant, makeOrganization, makeTicket, makeUser, ROLE } from "../support/fixtures.ts";

/**
 * Every policy is load-bearing: for each policy in app_public, dropping it
 * must make a permitted operation fail, and loosening it to `true` must make
 * a forbidden one succeed — wherever another layer does not already block
 * it: the admins' update and delete policies sit behind select_admin (they
 * only reach rows the select policies show), and customers' ticket inserts
 * behind column grants and the people-check trigger. Each probe runs in a
 * transaction on a superuser connection that alters the policy, switches to
 * the web role with claims, runs the probe and rolls back.
 */
const database = useTestDatabase();
const ids = {} as Record<string, string>;

interface Probe {
  role: keyof typeof ROLE;
  /** Who acts: a key of `ids`. */
  actor: string;
  sql: string;
}

interface PolicyCase {
  table: string;
  policy: string;
  /** For a policy naming several roles: the role this case probes (one case per role). */
  role?: string;
  command: "SELECT" | "INSERT" | "UPDATE" | "DELETE";
  /** Succeeds (or returns rows) with the policy in place; must stop when it is dropped. */
  permitted: Probe;
  /** Refused (or returns no rows) with the policy; must get through when it is loosened. */
  forbidden?: Probe;
}

type Result = { code: string; count: number };

async function probe(root: pg.PoolClient, change: string | null, { role, actor, sql }: Probe): Promise<Result> {
  await root.query("begin");
  try {
    if (change) await root.query(change);
    await applySettings(root, actorSettings({ role: ROLE[role], userId: ids[actor]! }));
    const result = await root.query(sql.replaceAll(/@\{(\w+)\}/g, (_, key: string) => `'${ids[key]!}'`));
    const count = result.command === "SELECT" ? Number(result.rows[0]?.n ?? result.rowCount) : (result.rowCount ?? 0);
    return { code: "ok", count };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? "unknown", count: 0 };
  } finally {
    await root.query("rollback");
  }
}

const passed = (result: Result) => result.code === "ok" && result.count > 0;

const countOf = (table: string) => `select count(*)::int as n from app_public.${table}`;
const ROLES = ["customer", "agent", "admin"] as const;
/**
 * Read policies, each probed for every role it names: dropping it must blind
 * each of them, loosening it must let each one's deactivated twin read.
 */
const readPolicies: { table: string; policy: string; roles: readonly (typeof ROLES)[number][] }[] = [
  ...["users", "tickets"].flatMap((table) => ROLES.map((role) => ({ table, policy: `select_${role}`, roles: [role] }))),
  { table: "ticket_comments", policy: "select_customer", roles: ["customer"] },
  { table: "ticket_comments", policy: "select_staff", roles: ["agent", "admin"] },
  { table: "ticket_status_history", policy: "select_visible_ticket", roles: ROLES },
  { table: "ticket_assignment_history", policy: "select_visible_ticket", roles: ROLES },
  { table: "ticket_transitions", policy: "select_signed_in", roles: ROLES },
  { table: "sla_policies", policy: "select_signed_in", roles: ROLES },
  ...["organizations", "organization_memberships", "ticket_participants", "organization_sla_policies"].flatMap(
    (table) => [
      { table, policy: "select_customer", roles: ["customer"] as const },
      { table, policy: "select_staff", roles: ["agent", "admin"] as const },
    ],
  ),
  { table: "attachments", policy: "select_visible_ticket", roles: ROLES },
  ...[
    "business_calendars",
    "business_calendar_versions",
    "business_calendar_hours",
    "business_calendar_holidays",
    "sla_pause_statuses",
  ].map((table) => ({ table, policy: "select_signed_in", roles: ROLES })),
  { table: "sla_events", policy: "select_staff", roles: ["agent", "admin"] },
];
const selectCases: PolicyCase[] = readPolicies.flatMap(({ table, policy, roles }) =>
  roles.map((role) => ({
    table,
    policy,
    role,
    command: "SELECT" as const,
    permitted: { role, actor: role, sql: countOf(table) },
    forbidden: { role, actor: `inactive_${role}`, sql: countOf(table) },
  })),
);

const writeCases: PolicyCase[] = [
  {
    table: "tickets",
    policy: "insert_customer",
    command: "INSERT",
    permitted: {
      role: "customer",
      actor: "customer",
      sql: "insert into app_public.tickets (subject) values ('probe')",
    },
  },
  {
    table: "tickets",
    policy: "insert_agent",
    command: "INSERT",
    permitted: {
      role: "agent",
      actor: "agent",
      sql: "insert into app_public.tickets (subject, customer_id) values ('probe', @{customer})",
    },
    // A deactivated agent's token names a valid customer: only the policy stands in the way.
    forbidden: {
      role: "agent",
      actor: "inactive_agent",
      sql: "insert into app_public.tickets (subject, customer_id) values ('probe', @{customer})",
    },
  },
  {
    table: "tickets",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.tickets (subject, customer_id) values ('probe', @{customer})",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.tickets (subject, customer_id) values ('probe', @{customer})",
    },
  },
  {
    table: "tickets",
    policy: "update_customer",
    command: "UPDATE",
    permitted: {
      role: "customer",
      actor: "customer",
      sql: "update app_public.tickets set subject = 'probe' where id = @{ticket}",
    },
    // Visible to its customer, but closed: not editable.
    forbidden: {
      role: "customer",
      actor: "customer",
      sql: "update app_public.tickets set subject = 'probe' where id = @{closed_ticket}",
    },
  },
  {
    table: "tickets",
    policy: "update_agent",
    command: "UPDATE",
    permitted: {
      role: "agent",
      actor: "agent",
      sql: "update app_public.tickets set subject = 'probe' where id = @{ticket}",
    },
    // Open and unassigned: every agent sees it, none may edit it.
    forbidden: {
      role: "agent",
      actor: "agent",
      sql: "update app_public.tickets set subject = 'probe' where id = @{open_ticket}",
    },
  },
  {
    table: "tickets",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.tickets set subject = 'probe' where id = @{ticket}",
    },
  },
  {
    table: "ticket_comments",
    policy: "insert_customer",
    command: "INSERT",
    permitted: {
      role: "customer",
      actor: "customer",
      sql: "insert into app_public.ticket_comments (ticket_id, body) values (@{ticket}, 'probe')",
    },
    forbidden: {
      role: "customer",
      actor: "customer",
      sql: "insert into app_public.ticket_comments (ticket_id, body) values (@{other_ticket}, 'probe')",
    },
  },
  {
    table: "ticket_comments",
    policy: "insert_agent",
    command: "INSERT",
    permitted: {
      role: "agent",
      actor: "agent",
      sql: "insert into app_public.ticket_comments (ticket_id, body, is_internal) values (@{ticket}, 'probe', true)",
    },
    forbidden: {
      role: "agent",
      actor: "agent",
      sql: "insert into app_public.ticket_comments (ticket_id, body, is_internal) values (@{other_ticket}, 'probe', true)",
    },
  },
  {
    table: "ticket_comments",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.ticket_comments (ticket_id, body, is_internal) values (@{ticket}, 'probe', true)",
    },
    // An admin token of a user whose row now says agent: the author is set, only the policy refuses.
    forbidden: {
      role: "admin",
      actor: "agent",
      sql: "insert into app_public.ticket_comments (ticket_id, body, is_internal) values (@{other_ticket}, 'probe', true)",
    },
  },
  {
    table: "users",
    policy: "update_customer",
    command: "UPDATE",
    permitted: {
      role: "customer",
      actor: "customer",
      sql: "update app_public.users set display_name = 'Probe' where id = @{customer}",
    },
    forbidden: {
      role: "customer",
      actor: "customer",
      sql: "update app_public.users set display_name = 'Probe' where id = @{agent}",
    },
  },
  {
    table: "users",
    policy: "update_agent",
    command: "UPDATE",
    permitted: {
      role: "agent",
      actor: "agent",
      sql: "update app_public.users set display_name = 'Probe' where id = @{agent}",
    },
    forbidden: {
      role: "agent",
      actor: "agent",
      sql: "update app_public.users set display_name = 'Probe' where id = @{other_agent}",
    },
  },
  {
    table: "users",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.users set display_name = 'Probe' where id = @{agent}",
    },
  },
  {
    table: "sla_policies",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.sla_policies set resolution_minutes = resolution_minutes",
    },
  },
  {
    table: "write_quotas",
    policy: "select_admin",
    command: "SELECT",
    permitted: { role: "admin", actor: "admin", sql: "select count(*)::int as n from app_public.write_quotas" },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "select count(*)::int as n from app_public.write_quotas",
    },
  },
  {
    table: "write_quotas",
    policy: "update_admin",
    command: "UPDATE",
    permitted: { role: "admin", actor: "admin", sql: "update app_public.write_quotas set max_count = max_count" },
  },
  {
    table: "ticket_transitions",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.ticket_transitions values ('open', 'resolved', '{agent}')",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.ticket_transitions values ('open', 'resolved', '{agent}')",
    },
  },
  {
    table: "ticket_transitions",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.ticket_transitions set allowed_roles = allowed_roles",
    },
  },
  {
    table: "ticket_transitions",
    policy: "delete_admin",
    command: "DELETE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "delete from app_public.ticket_transitions where from_status = 'closed'",
    },
  },
  {
    table: "webhook_endpoints",
    policy: "select_admin",
    command: "SELECT",
    permitted: { role: "admin", actor: "admin", sql: "select count(*)::int as n from app_public.webhook_endpoints" },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "select count(*)::int as n from app_public.webhook_endpoints",
    },
  },
  {
    table: "webhook_endpoints",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.webhook_endpoints (url, event_kinds, secret) values ('https://hooks.example.com/a', '{ticket.created}', 'whsec_' || repeat('A', 44))",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.webhook_endpoints (url, event_kinds, secret) values ('https://hooks.example.com/a', '{ticket.created}', 'whsec_' || repeat('A', 44))",
    },
  },
  {
    table: "webhook_endpoints",
    policy: "update_admin",
    command: "UPDATE",
    permitted: { role: "admin", actor: "admin", sql: "update app_public.webhook_endpoints set is_active = is_active" },
  },
  {
    table: "webhook_deliveries",
    policy: "select_admin",
    command: "SELECT",
    permitted: { role: "admin", actor: "admin", sql: "select count(*)::int as n from app_public.webhook_deliveries" },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "select count(*)::int as n from app_public.webhook_deliveries",
    },
  },
  {
    table: "webhook_deliveries",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.webhook_deliveries set redelivery_requested_at = now()",
    },
  },
  {
    table: "attachments",
    policy: "insert_uploader",
    role: "customer",
    command: "INSERT",
    permitted: {
      role: "customer",
      actor: "customer",
      sql: "insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@{ticket}, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    },
    forbidden: {
      role: "customer",
      actor: "customer",
      sql: "insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@{other_ticket}, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    },
  },
  {
    table: "attachments",
    policy: "insert_uploader",
    role: "agent",
    command: "INSERT",
    permitted: {
      role: "agent",
      actor: "agent",
      sql: "insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@{ticket}, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    },
    forbidden: {
      role: "agent",
      actor: "agent",
      sql: "insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@{other_ticket}, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    },
  },
  {
    table: "attachments",
    policy: "insert_uploader",
    role: "admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@{ticket}, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    },
    // An admin token of a user whose row now says agent: only the policy refuses.
    forbidden: {
      role: "admin",
      actor: "agent",
      sql: "insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@{other_ticket}, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    },
  },
  {
    table: "attachment_quotas",
    policy: "select_admin",
    command: "SELECT",
    permitted: { role: "admin", actor: "admin", sql: "select count(*)::int as n from app_public.attachment_quotas" },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "select count(*)::int as n from app_public.attachment_quotas",
    },
  },
  {
    table: "attachment_quotas",
    policy: "update_admin",
    command: "UPDATE",
    permitted: { role: "admin", actor: "admin", sql: "update app_public.attachment_quotas set max_count = max_count" },
  },

  // Business calendars and SLA pause rules: admins write, each command its own policy.
  {
    table: "business_calendars",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.business_calendars (name, time_zone) values ('Probe', 'UTC')",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.business_calendars (name, time_zone) values ('Probe', 'UTC')",
    },
  },
  {
    table: "business_calendar_versions",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ('00000000-0000-7000-8000-000000002407', '2040-01-01')",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ('00000000-0000-7000-8000-000000002407', '2040-01-01')",
    },
  },
  {
    table: "business_calendar_hours",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) values (@{probe_version}, 2, '09:00', '17:00')",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) values (@{probe_version}, 2, '09:00', '17:00')",
    },
  },
  {
    table: "business_calendar_holidays",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.business_calendar_holidays (calendar_id, holiday_date) values ('00000000-0000-7000-8000-000000002407', '2040-01-01')",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.business_calendar_holidays (calendar_id, holiday_date) values ('00000000-0000-7000-8000-000000002407', '2040-01-01')",
    },
  },
  {
    table: "sla_pause_statuses",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.sla_pause_statuses (status, clock) values ('in_progress', 'first_response')",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.sla_pause_statuses (status, clock) values ('in_progress', 'first_response')",
    },
  },
  {
    table: "business_calendars",
    policy: "update_admin",
    command: "UPDATE",
    permitted: { role: "admin", actor: "admin", sql: "update app_public.business_calendars set name = name" },
  },
  {
    table: "business_calendar_hours",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.business_calendar_hours set weekday = weekday",
    },
  },
  {
    table: "business_calendar_holidays",
    policy: "update_admin",
    command: "UPDATE",
    permitted: { role: "admin", actor: "admin", sql: "update app_public.business_calendar_holidays set name = name" },
  },
  {
    table: "business_calendar_versions",
    policy: "delete_admin",
    command: "DELETE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "delete from app_public.business_calendar_versions where id = @{probe_version}",
    },
  },
  {
    table: "business_calendar_hours",
    policy: "delete_admin",
    command: "DELETE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "delete from app_public.business_calendar_hours where version_id = @{probe_version}",
    },
  },
  {
    table: "business_calendar_holidays",
    policy: "delete_admin",
    command: "DELETE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "delete from app_public.business_calendar_holidays where calendar_id = '00000000-0000-7000-8000-000000002407'",
    },
  },
  {
    table: "organization_sla_policies",
    policy: "insert_admin",
    command: "INSERT",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values (@{organization}, 'low', 60, 600)",
    },
    forbidden: {
      role: "admin",
      actor: "inactive_admin",
      sql: "insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values (@{organization}, 'low', 60, 600)",
    },
  },
  {
    table: "organization_sla_policies",
    policy: "update_admin",
    command: "UPDATE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "update app_public.organization_sla_policies set resolution_minutes = resolution_minutes",
    },
  },
  {
    table: "organization_sla_policies",
    policy: "delete_admin",
    command: "DELETE",
    permitted: { role: "admin", actor: "admin", sql: "delete from app_public.organization_sla_policies" },
  },
  {
    table: "sla_pause_statuses",
    policy: "delete_admin",
    command: "DELETE",
    permitted: {
      role: "admin",
      actor: "admin",
      sql: "delete from app_public.sla_pause_statuses where status = 'resolved'",
    },
  },
];

const CASES = [...selectCases, ...writeCases];

beforeAll(async () => {
  const owner = database.current.owner;
  for (const role of ["customer", "agent", "admin"]) {
    ids[role] = await makeUser(owner, `Probe ${role}`, role);
    ids[`inactive_${role}`] = await makeUser(owner, `Inactive ${role}`, role, false);
  }
  ids.other_customer = await makeUser(owner, "Other Customer", "customer");
  ids.other_agent = await makeUser(owner, "Other Agent", "agent");
  const organization = await makeOrganization(owner, "Probe Organization");
  await addMember(owner, organization, ids.customer!, "manager");
  await addMember(owner, organization, ids.inactive_customer!, "manager");
  ids.organization = organization;
  await owner.query(
    "insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values ($1, 'high', 30, 240)",
    [organization],
  );
  ids.ticket = (await makeTicket(owner, ids.customer!, "in_progress", ids.agent!)).id;
  ids.other_ticket = (await makeTicket(owner, ids.other_customer!, "in_progress", ids.other_agent!)).id;
  ids.open_ticket = (await makeTicket(owner, ids.customer!, "open")).id;
  ids.closed_ticket = (await makeTicket(owner, ids.customer!, "closed", ids.agent!)).id;
  await owner.query(
    "insert into app_public.ticket_comments (ticket_id, author_id, body) values ($1, $2, 'Public reply')",
    [ids.ticket, ids.agent],
  );
  await addParticipant(owner, ids.ticket!, ids.other_agent!, "follower");
  // An attachment of the ticket, readable exactly where the ticket is.
  await owner.query(
    "insert into app_public.attachments (ticket_id, uploader_id, file_name, content_type, size, sha256) values ($1, $2, 'probe.txt', 'text/plain', 1, repeat('a', 64))",
    [ids.ticket, ids.customer],
  );
  // An SLA event of the agent's ticket.
  await owner.query(
    `insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id)
     values ($1, 'first_response', 'breached', now(), 'normal', $2, '00000000-0000-7000-8000-000000002407')`,
    [ids.ticket, ids.agent],
  );
  // A calendar version with one opening interval, and a holiday of the 24x7 calendar long ago.
  const { rows: calendars } = await owner.query<{ id: string }>(
    "insert into app_public.business_calendars (name, time_zone) values ('Probe calendar', 'Europe/Berlin') returning id",
  );
  const { rows: versions } = await owner.query<{ id: string }>(
    "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '-infinity') returning id",
    [calendars[0]!.id],
  );
  ids.probe_version = versions[0]!.id;
  await owner.query(
    "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) values ($1, 1, '09:00', '17:00')",
    [ids.probe_version],
  );
  await owner.query(
    "insert into app_public.business_calendar_holidays (calendar_id, holiday_date) values ('00000000-0000-7000-8000-000000002407', '2000-01-01')",
  );
  // A webhook endpoint (inactive: nothing is delivered) and one delivery of it.
  const { rows: endpoints } = await owner.query<{ id: string }>(
    `insert into app_public.webhook_endpoints (url, event_kinds, is_active, secret)
     values ('https://hooks.example.com/probe', '{ticket.created}', false, app_public.new_webhook_secret()) returning id`,
  );
  await owner.query(
    "insert into app_public.webhook_deliveries (endpoint_id, event_id, event_type, payload) values ($1, 1, 'ticket.created', '{}')",
    [endpoints[0]!.id],
  );
});

describe("every policy is load-bearing", () => {
  it("covers every policy in app_public", async () => {
    const { rows } = await database.current.owner.query<{ name: string }>(
      "select tablename || '.' || policyname || ':' || cmd as name from pg_catalog.pg_policies where schemaname = 'app_public' order by 1",
    );
    const covered = [...new Set(CASES.map((entry) => `${entry.table}.${entry.policy}:${entry.command}`))].sort();
    expect(covered).toEqual(rows.map((row) => row.name));
  });

  const label = (entry: PolicyCase) => `${entry.table}.${entry.policy}${entry.role ? ` (${entry.role})` : ""}`;

  it.each(CASES.map((entry) => [label(entry), entry] as const))(
    "%s: dropping it refuses what it permits",
    async (_name, entry) => {
      const root = await database.current.root.connect();
      try {
        expect(passed(await probe(root, null, entry.permitted))).toBe(true);
        const drop = `drop policy ${entry.policy} on app_public.${entry.table}`;
        expect(passed(await probe(root, drop, entry.permitted))).toBe(false);
      } finally {
        root.release();
      }
    },
  );

  it.each(CASES.filter((entry) => entry.forbidden).map((entry) => [label(entry), entry] as const))(
    "%s: loosening it lets through what it forbids",
    async (_name, entry) => {
      const root = await database.current.root.connect();
      try {
        expect(passed(await probe(root, null, entry.forbidden!))).toBe(false);
        const clauses =
          entry.command === "INSERT"
            ? "with check (true)"
            : entry.command === "UPDATE"
              ? "using (true) with check (true)"
              : "using (true)";
        const loosen = `alter policy ${entry.policy} on app_public.${entry.table} ${clauses}`;
        expect(passed(await probe(root, loosen, entry.forbidden!))).toBe(true);
      } finally {
        root.release();
      }
    },
  );
});

describe("grants and policies agree", () => {
  it("enables row-level security on every app_public table", async () => {
    const { rows } = await database.current.owner.query(
      `select c.relname from pg_catalog.pg_class as c
        where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity`,
    );
    expect(rows).toEqual([]);
  });

  it("has a policy for every role and command a grant allows, and no policy without a grant", async () => {
    const { rows } = await database.current.owner.query<{
      table: string;
      role: string;
      command: string;
      granted: boolean;
      policy: boolean;
    }>(
      `with commands(command, privilege) as (values ('SELECT', 'SELECT'), ('INSERT', 'INSERT'), ('UPDATE', 'UPDATE'), ('DELETE', 'DELETE'))
       select c.relname as table, r.rolname as role, commands.command,
              (has_table_privilege(r.oid, c.oid, commands.privilege)
                or (commands.command in ('SELECT', 'INSERT', 'UPDATE') and has_any_column_privilege(r.oid, c.oid, commands.privilege))) as granted,
              exists (select from pg_catalog.pg_policies as p
                       where p.schemaname = 'app_public' and p.tablename = c.relname
                         and p.cmd in (commands.command, 'ALL') and r.rolname = any (p.roles)) as policy
         from pg_catalog.pg_class as c
        cross join commands
        cross join pg_catalog.pg_roles as r
        where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
          and r.rolname in ('ticketing_anonymous', 'ticketing_customer', 'ticketing_agent', 'ticketing_admin', 'ticketing_analyst')`,
    );
    const mismatches = rows.filter((row) => row.granted !== row.policy);
    expect(mismatches).toEqual([]);
  });
});
