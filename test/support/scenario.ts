import type pg from "pg";
import { expect } from "vitest";
import { ANALYST_GROUP } from "../../src/database/analyst-roles.ts";
import { ROLE as WEB_ROLE } from "../../src/database/web-roles.ts";
import { commitAs } from "./test-database.ts";

/**
 * Building blocks for SQL-level scenarios: users and tickets arranged as the
 * owner, statements run as a web role with claims (committed, like API
 * requests), outcomes as plain values so table-driven tests read well.
 */
export const ROLE = { ...WEB_ROLE, analyst: ANALYST_GROUP } as const;

export type Outcome = { ok: true; rows: Record<string, any>[]; count: number } | { ok: false; code: string; message: string; hint?: string };

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
    const result = await commitAs(pool, { role: role ?? undefined, userId: userId ?? undefined }, (client) => client.query(sql, params));
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
  await owner.query("insert into app_private.user_accounts (user_id, email, password_hash) values ($1, $2, 'unusable')", [
    id,
    `${name.replace(/\W+/g, ".").toLowerCase()}.${id.slice(-8)}@example.com`,
  ]);
  return id;
}

export interface TicketOptions {
  subject?: string;
  description?: string;
  priority?: "low" | "normal" | "high" | "urgent";
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
    `insert into app_public.tickets (subject, description, customer_id, status, agent_id, priority)
     values ($1, $2, $3, $4, $5, $6) returning *`,
    [
      options.subject ?? "Printer broken",
      options.description ?? "It does not print",
      customerId,
      status,
      agentId,
      options.priority ?? "normal",
    ],
  );
  return rows[0]!;
}

/**
 * The audit invariant: the newest status-history row of every ticket equals
 * its current status, and every ticket has exactly one creation row.
 */
export async function expectHistoryInvariant(owner: pg.Pool): Promise<void> {
  const mismatched = await owner.query(
    `select t.id, t.status, h.to_status
       from app_public.tickets as t
       left join lateral (
         select to_status from app_public.ticket_status_history as h
          where h.ticket_id = t.id order by changed_at desc, id desc limit 1
       ) as h on true
      where h.to_status is distinct from t.status`,
  );
  expect(mismatched.rows).toEqual([]);
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
  const mismatched = await owner.query(
    `select t.id, t.agent_id, h.to_agent_id
       from app_public.tickets as t
       left join lateral (
         select to_agent_id from app_public.ticket_assignment_history as h
          where h.ticket_id = t.id order by changed_at desc, id desc limit 1
       ) as h on true
      where h.to_agent_id is distinct from t.agent_id`,
  );
  expect(mismatched.rows).toEqual([]);
}
