import type pg from "pg";
import { actAs, commitAs, type Actor } from "./test-database.ts";
import { expectHistoryInvariant, makeTicket, makeUser, ROLE, type TicketOptions } from "./scenario.ts";

/**
 * General fixtures for SQL and GraphQL tests: users of every role in every
 * condition (active, deactivated, demoted), tickets in a given state, and
 * comments, arranged either as the owner (fast, any state) or through the
 * real functions as a signed-in user (so the rules and side effects apply).
 * Everything returns ids; `actorOf` turns a fixture user into the role and
 * claims the API would set for their token.
 */
export { makeTicket, makeUser, ROLE, type TicketOptions };

export type UserRole = "customer" | "agent" | "admin";
export type TicketStatus = "open" | "in_progress" | "waiting_on_customer" | "resolved" | "closed";

/** A user as a test knows them: the row's id and the Postgres role their token names. */
export interface FixtureUser {
  id: string;
  /** The role the token carries (for a demoted user, the role before the change). */
  tokenRole: (typeof ROLE)[UserRole];
}

export function actorOf(user: FixtureUser): Actor {
  return { role: user.tokenRole, userId: user.id };
}

/** An active user of `role`. */
export async function activeUser(owner: pg.Pool, name: string, role: UserRole): Promise<FixtureUser> {
  return { id: await makeUser(owner, name, role), tokenRole: ROLE[role] };
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
export async function commentAs(pool: pg.Pool, user: FixtureUser, ticketId: string, body: string, internal = false): Promise<string> {
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
export async function transitionAs(pool: pg.Pool, user: FixtureUser, ticketId: string, to: TicketStatus, note?: string): Promise<void> {
  await commitAs(pool, actorOf(user), (client) =>
    client.query("select app_public.transition_ticket($1, $2, $3)", [ticketId, to, note ?? null]),
  );
}

/** Assigns a ticket as `user` through app_public.assign_ticket; committed. */
export async function assignAs(pool: pg.Pool, user: FixtureUser, ticketId: string, agentId: string | null): Promise<void> {
  await commitAs(pool, actorOf(user), (client) => client.query("select app_public.assign_ticket($1, $2)", [ticketId, agentId]));
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

/**
 * The audit invariant of issue 3, for any test that changed tickets: the
 * newest status-history row of every ticket equals its current status, and
 * every ticket has exactly one creation row.
 */
export const assertHistoryInvariant = expectHistoryInvariant;
