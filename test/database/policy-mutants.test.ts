import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { applySettings } from "../../src/database/request-transaction.ts";
import { actorSettings, useTestDatabase } from "../support/test-database.ts";
import {
  activeUser,
  addMember,
  addParticipant,
  commentBy,
  type FixtureUser,
  makeOrganization,
  removeMember,
  ticketIn,
} from "../support/fixtures.ts";

/**
 * Partial loosening. policy-coverage.test.ts drops each policy and replaces
 * it with `true`; here each policy loses one clause at a time (the mistakes a
 * later migration is likeliest to make) and a probe must notice. Each mutant
 * is applied, probed and rolled back inside one transaction on a superuser
 * connection that then takes the web role and claims like the API. Mistakes
 * another layer already stops are left out (e.g. an agent's comment policy
 * that forgets the ticket's agent: the tickets policy inside it still hides
 * the ticket).
 */
const database = useTestDatabase();
type Person =
  | "customer"
  | "otherCustomer"
  | "agent"
  | "assigned"
  | "admin"
  // Organizations: the requester, manager, a member who shares sight, one who does not,
  // a removed member, a member of a deactivated organization, another organization's
  // member, a customer copied in and one whose cc was removed.
  | "requester"
  | "manager"
  | "sighted"
  | "blind"
  | "removed"
  | "deactivatedOrgMember"
  | "outsider"
  | "cc"
  | "exCc";
const people = {} as Record<Person, FixtureUser>;
const ids = {} as Record<string, string>;

beforeAll(async () => {
  const owner = database.current.owner;
  people.customer = await activeUser(owner, "Mutant Customer", "customer");
  people.otherCustomer = await activeUser(owner, "Mutant Other Customer", "customer");
  people.agent = await activeUser(owner, "Mutant Pool Agent", "agent");
  people.assigned = await activeUser(owner, "Mutant Assigned Agent", "agent");
  people.admin = await activeUser(owner, "Mutant Admin", "admin");
  ids.work = await ticketIn(owner, people.customer.id, "in_progress", people.assigned.id);
  ids.open = await ticketIn(owner, people.customer.id, "open");
  ids.closed = await ticketIn(owner, people.customer.id, "closed", people.assigned.id);
  ids.resolved = await ticketIn(owner, people.customer.id, "resolved", people.assigned.id);
  ids.other = await ticketIn(owner, people.otherCustomer.id, "in_progress", people.assigned.id);
  ids.internal = await commentBy(owner, ids.work, people.assigned.id, "Internal note", true);
  ids.public = await commentBy(owner, ids.work, people.assigned.id, "Public reply");

  for (const name of [
    "requester",
    "manager",
    "sighted",
    "blind",
    "removed",
    "deactivatedOrgMember",
    "outsider",
    "cc",
    "exCc",
  ] as const) {
    people[name] = await activeUser(owner, `Mutant ${name}`, "customer");
  }
  ids.org = await makeOrganization(owner, "Mutant Org");
  ids.closedOrg = await makeOrganization(owner, "Mutant Closed Org");
  ids.otherOrg = await makeOrganization(owner, "Mutant Other Org");
  await addMember(owner, ids.org, people.requester.id);
  await addMember(owner, ids.org, people.manager.id, "manager");
  await addMember(owner, ids.org, people.sighted.id, "member", true);
  await addMember(owner, ids.org, people.blind.id);
  await addMember(owner, ids.org, people.removed.id, "member", true);
  await addMember(owner, ids.closedOrg, people.deactivatedOrgMember.id, "member", true);
  await addMember(owner, ids.otherOrg, people.outsider.id, "manager");
  ids.orgWork = await ticketIn(owner, people.requester.id, "in_progress", people.assigned.id);
  await addMember(owner, ids.closedOrg, people.requester.id);
  ids.closedOrgTicket = await ticketIn(owner, people.requester.id, "in_progress", people.assigned.id, {
    organizationId: ids.closedOrg,
  });
  await removeMember(owner, ids.org, people.removed.id);
  await owner.query("update app_public.organizations set is_active = false where id = $1", [ids.closedOrg]);
  await addParticipant(owner, ids.orgWork, people.cc.id);
  await addParticipant(owner, ids.orgWork, people.exCc.id);
  await owner.query("update app_public.ticket_participants set removed_at = now() where user_id = $1", [
    people.exCc.id,
  ]);
  // Attachments: one of the ticket itself, one of the internal note.
  for (const commentId of [null, ids.internal]) {
    await owner.query(
      `insert into app_public.attachments (ticket_id, comment_id, uploader_id, file_name, content_type, size, sha256)
       values ($1, $2, $3, 'f.txt', 'text/plain', 1, repeat('a', 64))`,
      [ids.work, commentId, people.assigned.id],
    );
  }
});

/** A policy helper replaced by a version that forgets one condition (in the probe's transaction). */
function helperWithout(name: string, body: string): string {
  return `create or replace function app_private.${name}() returns uuid[] language sql stable security definer
    set search_path = pg_catalog, public, pg_temp as $$ ${body} $$`;
}

interface Mutant {
  name: string;
  table: string;
  policy: string;
  /** The policy's clauses after the mistake (an ALTER POLICY tail). */
  mutation?: string;
  /** Or the mistake as a statement of its own (a policy helper that forgets a condition). */
  change?: string;
  who: keyof typeof people;
  /** A query whose first row's `n` is 0 (or that is refused) with the real policy, and positive with the mistake. */
  probe: string;
}

const me = (role: string) => `(select app_private.acting_user_id('${role}'))`;
/** What a policy shared by several roles would check if it forgot the ticket. */
const signedIn = "(select app_private.current_user_role())";

const MUTANTS: Mutant[] = [
  {
    name: "customers' comment filter forgets is_internal",
    table: "ticket_comments",
    policy: "select_customer",
    mutation: "using (exists (select 1 from app_public.tickets as t where t.id = ticket_comments.ticket_id))",
    who: "customer",
    probe: "select count(*)::int as n from app_public.ticket_comments where is_internal",
  },
  {
    name: "customers' comment filter forgets whose ticket it is",
    table: "ticket_comments",
    policy: "select_customer",
    mutation: `using (not is_internal and ${me("customer")} is not null)`,
    who: "otherCustomer",
    probe: "select count(*)::int as n from app_public.ticket_comments where ticket_id = @work",
  },
  {
    name: "customers may comment on closed tickets",
    table: "ticket_comments",
    policy: "insert_customer",
    mutation: `with check (author_id = ${me("customer")} and not is_internal and exists (select 1 from app_public.tickets as t where t.id = ticket_comments.ticket_id))`,
    who: "customer",
    probe:
      "with c as (insert into app_public.ticket_comments (ticket_id, body) values (@closed, 'late') returning 1) select count(*)::int as n from c",
  },
  {
    name: "customers may comment as somebody else's ticket",
    table: "ticket_comments",
    policy: "insert_customer",
    mutation: `with check (author_id = ${me("customer")} and not is_internal)`,
    who: "customer",
    probe:
      "with c as (insert into app_public.ticket_comments (ticket_id, body) values (@other, 'hi') returning 1) select count(*)::int as n from c",
  },
  {
    name: "agents may comment on closed tickets",
    table: "ticket_comments",
    policy: "insert_agent",
    mutation: `with check (author_id = ${me("agent")} and exists (select 1 from app_public.tickets as t where t.id = ticket_comments.ticket_id))`,
    who: "assigned",
    probe:
      "with c as (insert into app_public.ticket_comments (ticket_id, body, is_internal) values (@closed, 'late', true) returning 1) select count(*)::int as n from c",
  },
  {
    name: "staff's comment filter shows every ticket's notes",
    table: "ticket_comments",
    policy: "select_staff",
    mutation: `using (${signedIn} is not null)`,
    who: "agent",
    probe: "select count(*)::int as n from app_public.ticket_comments where ticket_id = @work",
  },
  {
    name: "agents see every ticket, not just open or their own",
    table: "tickets",
    policy: "select_agent",
    mutation: `using (agent_id = ${me("agent")} or ${me("agent")} is not null)`,
    who: "agent",
    probe: "select count(*)::int as n from app_public.tickets where id = @work",
  },
  {
    name: "agents see open and unfinished tickets alike",
    table: "tickets",
    policy: "select_agent",
    mutation: `using (agent_id = ${me("agent")} or (status <> 'closed' and ${me("agent")} is not null))`,
    who: "agent",
    probe: "select count(*)::int as n from app_public.tickets where id = @resolved",
  },
  {
    name: "customers may edit closed tickets",
    table: "tickets",
    policy: "update_customer",
    mutation: `using (customer_id = ${me("customer")}) with check (customer_id = ${me("customer")})`,
    who: "customer",
    probe:
      "with u as (update app_public.tickets set subject = 'Rewritten' where id = @closed returning 1) select count(*)::int as n from u",
  },
  {
    name: "agents may edit the open tickets they can merely see",
    table: "tickets",
    policy: "update_agent",
    mutation: `using (${me("agent")} is not null) with check (${me("agent")} is not null)`,
    who: "agent",
    probe:
      "with u as (update app_public.tickets set subject = 'Rewritten' where id = @open returning 1) select count(*)::int as n from u",
  },
  {
    name: "customers see other customers",
    table: "users",
    policy: "select_customer",
    mutation: `using (${me("customer")} is not null)`,
    who: "customer",
    probe: "select count(*)::int as n from app_public.users where role = 'customer' and id <> @customer",
  },
  {
    name: "customers may rename anybody",
    table: "users",
    policy: "update_customer",
    mutation: `using (${me("customer")} is not null) with check (${me("customer")} is not null)`,
    who: "customer",
    probe:
      "with u as (update app_public.users set display_name = 'Pwned' where id = @admin returning 1) select count(*)::int as n from u",
  },
  {
    name: "customers read the status history of any ticket",
    table: "ticket_status_history",
    policy: "select_visible_ticket",
    mutation: `using (${signedIn} is not null)`,
    who: "otherCustomer",
    probe: "select count(*)::int as n from app_public.ticket_status_history where ticket_id = @work",
  },
  {
    name: "customers read the assignment history of any ticket",
    table: "ticket_assignment_history",
    policy: "select_visible_ticket",
    mutation: `using (${signedIn} is not null)`,
    who: "otherCustomer",
    probe: "select count(*)::int as n from app_public.ticket_assignment_history where ticket_id = @work",
  },
  {
    name: "agents read the status history of any ticket",
    table: "ticket_status_history",
    policy: "select_visible_ticket",
    mutation: `using (${signedIn} is not null)`,
    who: "agent",
    probe: "select count(*)::int as n from app_public.ticket_status_history where ticket_id = @work",
  },
  {
    name: "identity by token alone: the policy trusts the claim without the users row",
    table: "tickets",
    policy: "select_customer",
    mutation: "using (customer_id = nullif(current_setting('jwt.claims.user_id', true), '')::uuid)",
    who: "customer",
    // The same token after the customer was deactivated (in this transaction).
    probe: "select count(*)::int as n from app_public.tickets",
  },
  {
    name: "organization sight without the shared flag (same organization, no shared sight)",
    table: "tickets",
    policy: "select_customer",
    change: helperWithout(
      "customer_sighted_organization_ids",
      `select coalesce(array_agg(m.organization_id), '{}') from app_public.organization_memberships as m
         join app_public.organizations as o on o.id = m.organization_id
        where m.user_id = app_private.acting_user_id('customer') and m.removed_at is null and o.is_active`,
    ),
    who: "blind",
    probe: "select count(*)::int as n from app_public.tickets where id = @orgWork",
  },
  {
    name: "a deactivated organization still gives sight",
    table: "tickets",
    policy: "select_customer",
    change: helperWithout(
      "customer_sighted_organization_ids",
      `select coalesce(array_agg(m.organization_id), '{}') from app_public.organization_memberships as m
        where m.user_id = app_private.acting_user_id('customer') and m.removed_at is null
          and (m.sees_organization_tickets or m.role = 'manager')`,
    ),
    who: "deactivatedOrgMember",
    probe: "select count(*)::int as n from app_public.tickets where id = @closedOrgTicket",
  },
  {
    name: "a removed member keeps sight",
    table: "tickets",
    policy: "select_customer",
    change: helperWithout(
      "customer_sighted_organization_ids",
      `select coalesce(array_agg(m.organization_id), '{}') from app_public.organization_memberships as m
         join app_public.organizations as o on o.id = m.organization_id
        where m.user_id = app_private.acting_user_id('customer') and o.is_active
          and (m.sees_organization_tickets or m.role = 'manager')`,
    ),
    who: "removed",
    probe: "select count(*)::int as n from app_public.tickets where id = @orgWork",
  },
  {
    name: "a removed cc keeps sight",
    table: "tickets",
    policy: "select_customer",
    change: helperWithout(
      "customer_cc_ticket_ids",
      `select coalesce(array_agg(p.ticket_id), '{}') from app_public.ticket_participants as p
        where p.user_id = app_private.acting_user_id('customer') and p.kind = 'cc'`,
    ),
    who: "exCc",
    probe: "select count(*)::int as n from app_public.tickets where id = @orgWork",
  },
  {
    name: "any organization's ticket is visible to any organization's member",
    table: "tickets",
    policy: "select_customer",
    mutation: `using (customer_id = ${me("customer")} or (organization_id is not null and cardinality((select app_private.customer_sighted_organization_ids())) > 0))`,
    who: "outsider",
    probe: "select count(*)::int as n from app_public.tickets where id = @orgWork",
  },
  {
    name: "sight alone lets a member comment (not requester, manager or cc)",
    table: "ticket_comments",
    policy: "insert_customer",
    mutation: `with check (author_id = ${me("customer")} and not is_internal and exists (select 1 from app_public.tickets as t where t.id = ticket_comments.ticket_id and t.status <> 'closed'))`,
    who: "sighted",
    probe:
      "with c as (insert into app_public.ticket_comments (ticket_id, body) values (@orgWork, 'me too') returning 1) select count(*)::int as n from c",
  },
  {
    name: "every member counts as a manager (comments as a plain member who shares sight)",
    table: "ticket_comments",
    policy: "insert_customer",
    change: helperWithout(
      "customer_managed_organization_ids",
      `select coalesce(array_agg(m.organization_id), '{}') from app_public.organization_memberships as m
         join app_public.organizations as o on o.id = m.organization_id
        where m.user_id = app_private.acting_user_id('customer') and m.removed_at is null and o.is_active`,
    ),
    who: "sighted",
    probe:
      "with c as (insert into app_public.ticket_comments (ticket_id, body) values (@orgWork, 'me too') returning 1) select count(*)::int as n from c",
  },
  {
    name: "customers see the customers of other organizations",
    table: "users",
    policy: "select_customer",
    change: helperWithout(
      "customer_colleague_ids",
      "select coalesce(array_agg(m.user_id), '{}') from app_public.organization_memberships as m where m.removed_at is null",
    ),
    who: "manager",
    probe: "select count(*)::int as n from app_public.users where id = @outsider",
  },
  {
    name: "members who do not manage see their colleagues' memberships",
    table: "organization_memberships",
    policy: "select_customer",
    mutation:
      "using (removed_at is null and organization_id = any ((select app_private.customer_organization_ids())::uuid[]))",
    who: "blind",
    probe: "select count(*)::int as n from app_public.organization_memberships where user_id = @manager",
  },
  {
    name: "customers see organizations they do not belong to",
    table: "organizations",
    policy: "select_customer",
    mutation: `using (${me("customer")} is not null)`,
    who: "blind",
    probe: "select count(*)::int as n from app_public.organizations where id = @otherOrg",
  },
  {
    name: "customers see the participants of any ticket",
    table: "ticket_participants",
    policy: "select_customer",
    mutation: "using (removed_at is null)",
    who: "otherCustomer",
    probe: "select count(*)::int as n from app_public.ticket_participants where ticket_id = @orgWork",
  },
  {
    name: "customers see removed participants",
    table: "ticket_participants",
    policy: "select_customer",
    mutation: "using (exists (select 1 from app_public.tickets as t where t.id = ticket_participants.ticket_id))",
    who: "requester",
    probe: "select count(*)::int as n from app_public.ticket_participants where removed_at is not null",
  },
  {
    name: "attachments forget the comment's rule (customers see internal notes' files)",
    table: "attachments",
    policy: "select_visible_ticket",
    mutation: "using (exists (select 1 from app_public.tickets as t where t.id = attachments.ticket_id))",
    who: "customer",
    probe: "select count(*)::int as n from app_public.attachments where comment_id is not null",
  },
  {
    name: "a member who only shares sight uploads files (not requester, manager or cc)",
    table: "attachments",
    policy: "insert_uploader",
    mutation: `with check (uploader_id = (select app_private.acting_user_id((select app_private.current_user_role())))
      and exists (select 1 from app_public.tickets as t where t.id = attachments.ticket_id and t.status <> 'closed'))`,
    who: "sighted",
    probe:
      "with a as (insert into app_public.attachments (ticket_id, file_name, content_type, size, sha256) values (@orgWork, 'p.txt', 'text/plain', 1, repeat('a', 64)) returning 1) select count(*)::int as n from a",
  },
  {
    name: "attachments forget the ticket's rule",
    table: "attachments",
    policy: "select_visible_ticket",
    mutation:
      "using (attachments.comment_id is null or exists (select 1 from app_public.ticket_comments as c where c.id = attachments.comment_id))",
    who: "otherCustomer",
    probe: "select count(*)::int as n from app_public.attachments where ticket_id = @work",
  },
  {
    name: "uploads forget that the ticket is closed",
    table: "attachments",
    policy: "insert_uploader",
    mutation: `with check (uploader_id = (select app_private.acting_user_id((select app_private.current_user_role())))
      and exists (select 1 from app_public.tickets as t where t.id = attachments.ticket_id) and attachments.comment_id is null)`,
    who: "customer",
    probe:
      "with a as (insert into app_public.attachments (ticket_id, comment_id, file_name, content_type, size, sha256) values (@closed, null, 'f.txt', 'text/plain', 1, repeat('a', 64)) returning 1) select count(*)::int as n from a",
  },
  {
    name: "uploads forget that the comment must be the uploader's own",
    table: "attachments",
    policy: "insert_uploader",
    mutation: `with check (uploader_id = (select app_private.acting_user_id((select app_private.current_user_role())))
      and exists (select 1 from app_public.tickets as t where t.id = attachments.ticket_id and t.status <> 'closed')
      and (attachments.comment_id is null or exists (select 1 from app_public.ticket_comments as c
        where c.id = attachments.comment_id and c.ticket_id = attachments.ticket_id)))`,
    who: "customer",
    probe:
      "with a as (insert into app_public.attachments (ticket_id, comment_id, file_name, content_type, size, sha256) values (@work, @public, 'f.txt', 'text/plain', 1, repeat('a', 64)) returning 1) select count(*)::int as n from a",
  },
];

function fill(sql: string): string {
  const values: Record<string, string> = {
    ...ids,
    ...Object.fromEntries(Object.entries(people).map(([key, user]) => [key, user.id])),
  };
  return sql.replaceAll(/@(\w+)/g, (_, key: string) => `'${values[key]!}'`);
}

type Outcome = { code: string; n?: number };

async function run(root: pg.PoolClient, mutant: Mutant, mutate: boolean): Promise<Outcome> {
  await root.query("begin");
  try {
    if (mutate)
      await root.query(
        mutant.change ?? `alter policy ${mutant.policy} on app_public.${mutant.table} ${mutant.mutation}`,
      );
    if (mutant.name.startsWith("identity by token")) {
      await root.query("update app_public.users set is_active = false where id = $1", [people[mutant.who].id]);
    }
    const user = people[mutant.who];
    await applySettings(root, actorSettings({ role: user.tokenRole, userId: user.id }));
    const { rows } = await root.query(fill(mutant.probe));
    return { code: "ok", n: rows[0].n as number };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? "unknown" };
  } finally {
    await root.query("rollback");
  }
}

describe("a policy that loses one clause is caught", () => {
  it.each(MUTANTS.map((mutant) => [`${mutant.table}.${mutant.policy}`, mutant.name, mutant] as const))(
    "%s: %s",
    async (_policy, _name, mutant) => {
      const root = await database.current.root.connect();
      try {
        const real = await run(root, mutant, false);
        expect([{ code: "ok", n: 0 }, { code: "42501" }], "with the real policy").toContainEqual(real);
        const mistaken = await run(root, mutant, true);
        expect(mistaken.code, "with the mistake").toBe("ok");
        expect(mistaken.n, "with the mistake").toBeGreaterThan(0);
      } finally {
        root.release();
      }
    },
  );
});
