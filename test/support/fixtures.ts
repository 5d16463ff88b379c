import type pg from "pg";
import { expect } from "vitest";
import { ANALYST_GROUP } from "../../src/database/analyst-roles.ts";
import { type UserRole, ROLE as WEB_ROLE, webRoleOf } from "../../src/database/web-roles.ts";
import { actAs, commitAs, type Actor } from "./test-database.ts";

/**
 * The fixtures of SQL and GraphQL tests, in one vocabulary: users of every
 * role in every condition (active, deactivated, demoted), tickets in a given
 * state, and comments, arranged either as the owner (fast, any state) or
 * through the real functions as a signed-in user (so the rules and side
 * effects apply); statements run as a web role with claims (committed, like
 * API requests) with outcomes as plain values so table-driven tests read
 * well; and the audit invariants every test that changed tickets can check.
 * `actorOf` turns a fixture user into the role and claims the API would set
 * for their token.
 */
export const ROLE = { ...WEB_ROLE, analyst: ANALYST_GROUP } as const;

export type Outcome =
  | { ok: true; rows: Record<string, any>[]; count: number }
  | { ok: false; code: string; message: string; hint?: string };

/**
 * Runs one statement as `role` with `userId` as the JWT claim, in its own
 * committed transaction (commitAs); without a role, as the pool's own role.
 */
export async function runAs(
  pool: pg.Pool,
  role: string | null,
  userId: string | null,
  sql: string,
  params: unknown[] = [],
): Promise<Outcome> {
  try {
    const result = await commitAs(pool, { role: role ?? undefined, userId: userId ?? undefined }, (client) =>
      client.query(sql, params),
    );
    return { ok: true, rows: result.rows, count: result.rowCount ?? 0 };
  } catch (error) {
    const { code, message, hint } = error as { code?: string; message: string; hint?: string };
    return { ok: false, code: code ?? "unknown", message, hint };
  }
}

/** The SQLSTATE of a refused outcome, or "ok". */
export function codeOf(outcome: Outcome): string {
  return outcome.ok ? "ok" : outcome.code;
}

/** Rows of a successful outcome; fails the test with the database's message otherwise. */
export function rowsOf(outcome: Outcome): Record<string, any>[] {
  if (!outcome.ok) expect.fail(`statement refused: ${outcome.code} ${outcome.message}`);
  return outcome.rows;
}

export async function makeUser(owner: pg.Pool, name: string, role: string, active = true): Promise<string> {
  const { rows } = await owner.query<{ id: string }>(
    "insert into app_public.users (display_name, role, is_active) values ($1, $2, $3) returning id",
    [name, role, active],
  );
  const id = rows[0]!.id;
  await owner.query(
    "insert into app_private.user_accounts (user_id, email, password_hash) values ($1, $2, 'unusable')",
    [id, `${name.replace(/\W+/g, ".").toLowerCase()}.${id.slice(-8)}@example.com`],
  );
  return id;
}

/** The standard cast of a scenario: two customers, two agents and an admin, all active; user ids. */
export interface Cast {
  customer: string;
  otherCustomer: string;
  agent: string;
  otherAgent: string;
  admin: string;
}

/** Creates the standard cast as the owner, in this order, named "Customer", "Other Customer", …. */
export async function standardCast(owner: pg.Pool): Promise<Cast> {
  return {
    customer: await makeUser(owner, "Customer", "customer"),
    otherCustomer: await makeUser(owner, "Other Customer", "customer"),
    agent: await makeUser(owner, "Agent", "agent"),
    otherAgent: await makeUser(owner, "Other Agent", "agent"),
    admin: await makeUser(owner, "Admin", "admin"),
  };
}

export interface TicketOptions {
  subject?: string;
  description?: string;
  priority?: "low" | "normal" | "high" | "urgent";
  /** The organization it is filed for; left out, the customer's primary one (if any). */
  organizationId?: string;
}

/** A ticket put straight into a state by the owner (history triggers still record it). */
export async function makeTicket(
  owner: pg.Pool,
  customerId: string,
  status = "open",
  agentId: string | null = null,
  options: TicketOptions = {},
): Promise<Record<string, any>> {
  const { rows } = await owner.query(
    `insert into app_public.tickets (subject, description, customer_id, status, agent_id, priority, organization_id)
     values ($1, $2, $3, $4, $5, $6, $7) returning *`,
    [
      options.subject ?? "Printer broken",
      options.description ?? "It does not print",
      customerId,
      status,
      agentId,
      options.priority ?? "normal",
      options.organizationId ?? null,
    ],
  );
  return rows[0]!;
}

/**
 * The tickets whose newest row in `history` (by time, then id) does not name
 * the ticket's current `column` value in `historyColumn`: none, when the
 * history tells the truth.
 */
async function ticketsDisagreeingWithHistory(
  owner: pg.Pool,
  history: "ticket_status_history" | "ticket_assignment_history",
  column: "status" | "agent_id",
  historyColumn: "to_status" | "to_agent_id",
): Promise<unknown[]> {
  const { rows } = await owner.query(
    `select t.id, t.${column}, h.${historyColumn}
       from app_public.tickets as t
       left join lateral (
         select ${historyColumn} from app_public.${history} as h
          where h.ticket_id = t.id order by changed_at desc, id desc limit 1
       ) as h on true
      where h.${historyColumn} is distinct from t.${column}`,
  );
  return rows;
}

/**
 * The audit invariant: the newest status-history row of every ticket equals
 * its current status, and every ticket has exactly one creation row.
 */
export async function expectHistoryInvariant(owner: pg.Pool): Promise<void> {
  expect(await ticketsDisagreeingWithHistory(owner, "ticket_status_history", "status", "to_status")).toEqual([]);
  const creations = await owner.query(
    `select t.id from app_public.tickets as t
      where (select count(*) from app_public.ticket_status_history as h
              where h.ticket_id = t.id and h.from_status is null) <> 1`,
  );
  expect(creations.rows).toEqual([]);
}

/**
 * The assignment audit: the newest assignment-history row of every ticket
 * names its current agent; a ticket without such rows has no agent.
 */
export async function expectAssignmentInvariant(owner: pg.Pool): Promise<void> {
  expect(await ticketsDisagreeingWithHistory(owner, "ticket_assignment_history", "agent_id", "to_agent_id")).toEqual(
    [],
  );
}

/**
 * The search copies are in step: every comment has its row in
 * app_private.searchable_comments, with its ticket, its text vector, and its
 * ticket's open state and agent as they are now (migration 000043).
 */
export async function expectSearchableCommentsInStep(owner: pg.Pool): Promise<void> {
  const { rows } = await owner.query(
    `select c.id
       from app_public.ticket_comments as c
       join app_public.tickets as t on t.id = c.ticket_id
       left join app_private.searchable_comments as s on s.comment_id = c.id
      where s.comment_id is null
         or s.ticket_id <> c.ticket_id
         or s.search <> c.search
         or s.ticket_open <> (t.status = 'open')::int
         or s.ticket_agent_id is distinct from t.agent_id`,
  );
  expect(rows).toEqual([]);
}

export type { UserRole };
export type TicketStatus = "open" | "in_progress" | "waiting_on_customer" | "resolved" | "closed";

/** A user as a test knows them: the row's id and the Postgres role their token names. */
export interface FixtureUser {
  id: string;
  /** The role the token carries (for a demoted user, the role before the change). */
  tokenRole: ReturnType<typeof webRoleOf>;
}

export function actorOf(user: FixtureUser): Actor {
  return { role: user.tokenRole, userId: user.id };
}

/** An active user of `role`. */
export async function activeUser(owner: pg.Pool, name: string, role: UserRole): Promise<FixtureUser> {
  return { id: await makeUser(owner, name, role), tokenRole: webRoleOf(role) };
}

/** A user of `role` who was deactivated after their token was issued. */
export async function deactivatedUser(owner: pg.Pool, name: string, role: UserRole): Promise<FixtureUser> {
  const user = await activeUser(owner, name, role);
  await owner.query("update app_public.users set is_active = false where id = $1", [user.id]);
  return user;
}

/**
 * A user whose token still says `from` while the row now says `to` (an admin
 * changed the role after the token was issued). Demoting an agent releases
 * their tickets, as the real rule does.
 */
export async function demotedUser(owner: pg.Pool, name: string, from: UserRole, to: UserRole): Promise<FixtureUser> {
  const user = await activeUser(owner, name, from);
  await owner.query("update app_public.users set role = $2 where id = $1", [user.id, to]);
  return user;
}

/** A ticket put straight into `status` by the owner (triggers still write its histories); returns its id. */
export async function ticketIn(
  owner: pg.Pool,
  customerId: string,
  status: TicketStatus,
  agentId: string | null = null,
  options: TicketOptions = {},
): Promise<string> {
  return (await makeTicket(owner, customerId, status, agentId, options)).id as string;
}

/** A comment written by the owner on behalf of `authorId` (no policy check); returns its id. */
export async function commentBy(
  owner: pg.Pool,
  ticketId: string,
  authorId: string,
  body: string,
  internal = false,
): Promise<string> {
  const { rows } = await owner.query<{ id: string }>(
    "insert into app_public.ticket_comments (ticket_id, author_id, body, is_internal) values ($1, $2, $3, $4) returning id",
    [ticketId, authorId, body, internal],
  );
  return rows[0]!.id;
}

/** Files a ticket as `user` through the real insert path (policies, grants, triggers); committed. */
export async function fileTicketAs(
  pool: pg.Pool,
  user: FixtureUser,
  subject: string,
  customerId?: string,
  priority: "low" | "normal" | "high" | "urgent" = "normal",
): Promise<string> {
  return commitAs(pool, actorOf(user), async (client) => {
    const { rows } = customerId
      ? await client.query<{ id: string }>(
          "insert into app_public.tickets (subject, customer_id, priority) values ($1, $2, $3) returning id",
          [subject, customerId, priority],
        )
      : await client.query<{ id: string }>(
          "insert into app_public.tickets (subject, priority) values ($1, $2) returning id",
          [subject, priority],
        );
    return rows[0]!.id;
  });
}

/** Comments as `user` through app_public.add_comment; committed. Returns the comment id. */
export async function commentAs(
  pool: pg.Pool,
  user: FixtureUser,
  ticketId: string,
  body: string,
  internal = false,
): Promise<string> {
  return commitAs(pool, actorOf(user), async (client) => {
    const { rows } = await client.query<{ id: string }>("select (app_public.add_comment($1, $2, $3)).id", [
      ticketId,
      body,
      internal,
    ]);
    return rows[0]!.id;
  });
}

/** Moves a ticket as `user` through app_public.transition_ticket; committed. */
export async function transitionAs(
  pool: pg.Pool,
  user: FixtureUser,
  ticketId: string,
  to: TicketStatus,
  note?: string,
): Promise<void> {
  await commitAs(pool, actorOf(user), (client) =>
    client.query("select app_public.transition_ticket($1, $2, $3)", [ticketId, to, note ?? null]),
  );
}

/** Assigns a ticket as `user` through app_public.assign_ticket; committed. */
export async function assignAs(
  pool: pg.Pool,
  user: FixtureUser,
  ticketId: string,
  agentId: string | null,
): Promise<void> {
  await commitAs(pool, actorOf(user), (client) =>
    client.query("select app_public.assign_ticket($1, $2)", [ticketId, agentId]),
  );
}

/** Reads as `user` in a rolled-back transaction. */
export function readAs<T extends pg.QueryResultRow = Record<string, any>>(
  pool: pg.Pool,
  user: FixtureUser | Actor,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const actor = "tokenRole" in user ? actorOf(user) : user;
  return actAs(pool, actor, async (client) => (await client.query<T>(sql, params)).rows);
}

export interface OrganizationOptions {
  domains?: string[];
  autoJoin?: boolean;
  active?: boolean;
}

/** An organization made by the owner; returns its id. */
export async function makeOrganization(
  owner: pg.Pool,
  name: string,
  options: OrganizationOptions = {},
): Promise<string> {
  const { rows } = await owner.query<{ id: string }>(
    "insert into app_public.organizations (name, domains, auto_join, is_active) values ($1, $2, $3, $4) returning id",
    [name, options.domains ?? [], options.autoJoin ?? false, options.active ?? true],
  );
  return rows[0]!.id;
}

/** Makes a customer a member (or manager) of an organization, as the owner. */
export async function addMember(
  owner: pg.Pool,
  organizationId: string,
  userId: string,
  role: "member" | "manager" = "member",
  seesOrganizationTickets = false,
): Promise<void> {
  await owner.query(
    `insert into app_public.organization_memberships (organization_id, user_id, role, sees_organization_tickets)
     values ($1, $2, $3, $4)
     on conflict (organization_id, user_id) do update
       set role = excluded.role, sees_organization_tickets = excluded.sees_organization_tickets, removed_at = null`,
    [organizationId, userId, role, seesOrganizationTickets],
  );
}

/** Ends a membership, as the owner (the row stays, with removed_at). */
export async function removeMember(owner: pg.Pool, organizationId: string, userId: string): Promise<void> {
  await owner.query(
    "update app_public.organization_memberships set removed_at = now() where organization_id = $1 and user_id = $2",
    [organizationId, userId],
  );
}

/** Adds a participant to a ticket, as the owner. */
export async function addParticipant(
  owner: pg.Pool,
  ticketId: string,
  userId: string,
  kind: "cc" | "follower" = "cc",
): Promise<void> {
  await owner.query("insert into app_public.ticket_participants (ticket_id, user_id, kind) values ($1, $2, $3)", [
    ticketId,
    userId,
    kind,
  ]);
}

/**
 * An attachment through its real state changes, without bytes: requested as
 * the uploader (their policies and quota; `role` is a key of ROLE), then the
 * verdict recorded as the API records it after reading the bytes back
 * (ready, rejected, or left pending). Returns its id.
 */
export async function attachmentBy(
  authenticator: pg.Pool,
  uploader: { id: string; role: "customer" | "agent" | "admin" },
  ticketId: string,
  fileName: string,
  commentId: string | null,
  verdict: "ready" | "rejected" | "pending" = "ready",
): Promise<string> {
  const [row] = rowsOf(
    await runAs(
      authenticator,
      ROLE[uploader.role],
      uploader.id,
      "select (app_public.create_attachment_upload($1, $2, 'image/png', 68, $3, $4)).id",
      [ticketId, fileName, "ab".repeat(32), commentId],
    ),
  );
  const id = row!.id as string;
  if (verdict !== "pending") {
    await authenticator.query("select app_private.finish_attachment_upload($1, $2, $3)", [
      uploader.id,
      id,
      verdict === "ready" ? null : "The SHA-256 does not match",
    ]);
  }
  return id;
}
