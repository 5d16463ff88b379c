import type pg from "pg";

/**
 * A known data set for the reporting views, arranged as the owner with fixed
 * timestamps. Tickets are inserted directly in their final state (the insert
 * triggers keep the given resolved_at/closed_at and write one creation row of
 * status history, dated created_at); one ticket moves through a real status
 * change. Secrets (texts, emails, a status note) are planted so the tests can
 * prove they never reach a view.
 *
 * Historical tickets (T1-T8) are in March 2026, ISO weeks 10 and 11; recent
 * ones (R1-R4) are relative to `now`, for the "last 7/30 days" figures.
 * SLA targets (020): urgent 30/240 min, high 120/1440, normal 480/4320, low 1440/10080.
 */
export const SECRET = "SECRET-TEXT";

export interface Fixture {
  now: Date;
  users: Record<"cara" | "dan" | "ada" | "bo" | "cy" | "ana", string>;
  tickets: Record<"t1" | "t2" | "t3" | "t4" | "t5" | "t6" | "t7" | "t8" | "r1" | "r2" | "r3" | "r4", string>;
}

type Status = "open" | "in_progress" | "waiting_on_customer" | "resolved" | "closed";
type Priority = "low" | "normal" | "high" | "urgent";

interface TicketSpec {
  status: Status;
  priority: Priority;
  customer: string;
  agent?: string;
  createdAt: Date;
  /** Minutes after creation. */
  respondedAfter?: number;
  resolvedAfter?: number;
  closedAfter?: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const at = (iso: string) => new Date(iso);
const after = (start: Date, minutes: number | undefined) =>
  minutes === undefined ? null : new Date(start.getTime() + minutes * MINUTE);

async function insertUser(client: pg.ClientBase, name: string, role: string, email: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    "insert into app_public.users (display_name, role) values ($1, $2) returning id",
    [name, role],
  );
  const id = rows[0]!.id;
  await client.query("insert into app_private.user_accounts (user_id, email, password_hash) values ($1, $2, $3)", [
    id,
    email,
    `$argon2id$${SECRET}`,
  ]);
  return id;
}

async function insertTicket(client: pg.ClientBase, spec: TicketSpec): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `insert into app_public.tickets
       (subject, description, status, priority, customer_id, agent_id,
        created_at, updated_at, first_responded_at, resolved_at, closed_at)
     values ($1, $1, $2, $3, $4, $5, $6, $6, $7, $8, $9)
     returning id`,
    [
      `${SECRET} subject`,
      spec.status,
      spec.priority,
      spec.customer,
      spec.agent ?? null,
      spec.createdAt,
      after(spec.createdAt, spec.respondedAfter),
      after(spec.createdAt, spec.resolvedAfter),
      after(spec.createdAt, spec.closedAfter),
    ],
  );
  return rows[0]!.id;
}

export async function arrangeFixture(owner: pg.Pool): Promise<Fixture> {
  const client = await owner.connect();
  try {
    await client.query("begin");
    const now = new Date();
    const users = {
      cara: await insertUser(client, "Cara Customer", "customer", "cara@example.com"),
      dan: await insertUser(client, "Dan Customer", "customer", "dan@example.com"),
      ada: await insertUser(client, "Ada Agent", "agent", "ada@example.com"),
      bo: await insertUser(client, "Bo Agent", "agent", "bo@example.com"),
      cy: await insertUser(client, "Cy Agent", "agent", "cy@example.com"),
      ana: await insertUser(client, "Ana Admin", "admin", "ana@example.com"),
    };
    const { cara, dan, ada, bo } = users;
    // Cara belongs to an organization (as its manager): her tickets are filed for it.
    const { rows: organizations } = await client.query<{ id: string }>(
      "insert into app_public.organizations (name, domains) values ('Northwind Traders', '{northwind.example}') returning id",
    );
    await client.query(
      "insert into app_public.organization_memberships (organization_id, user_id, role) values ($1, $2, 'manager')",
      [organizations[0]!.id, cara],
    );
    const ticket = (spec: TicketSpec) => insertTicket(client, spec);
    const tickets = {
      // ISO week 2026-W10 (Monday 2 March)
      t1: await ticket({
        status: "closed",
        priority: "urgent",
        customer: cara,
        agent: ada,
        createdAt: at("2026-03-02T09:00:00Z"),
        respondedAfter: 10,
        resolvedAfter: 60,
        closedAfter: 1440,
      }),
      t2: await ticket({
        status: "resolved",
        priority: "urgent",
        customer: dan,
        agent: ada,
        createdAt: at("2026-03-02T10:00:00Z"),
        respondedAfter: 60,
        resolvedAfter: 360,
      }),
      t3: await ticket({
        status: "resolved",
        priority: "high",
        customer: cara,
        agent: bo,
        createdAt: at("2026-03-03T08:00:00Z"),
        respondedAfter: 30,
        resolvedAfter: 720,
      }),
      t4: await ticket({ status: "open", priority: "high", customer: dan, createdAt: at("2026-03-03T09:00:00Z") }),
      // Created open; moved to in_progress below through the real trigger path.
      t5: await ticket({
        status: "open",
        priority: "normal",
        customer: cara,
        createdAt: at("2026-03-04T12:00:00Z"),
        respondedAfter: 20,
      }),
      // ISO week 2026-W11 (Monday 9 March)
      t6: await ticket({
        status: "closed",
        priority: "low",
        customer: dan,
        createdAt: at("2026-03-09T10:00:00Z"),
        closedAfter: 60,
      }),
      // Replied exactly at the first-response due time: met, not breached.
      t7: await ticket({
        status: "waiting_on_customer",
        priority: "normal",
        customer: cara,
        agent: ada,
        createdAt: at("2026-03-10T09:00:00Z"),
        respondedAfter: 480,
      }),
      t8: await ticket({
        status: "open",
        priority: "high",
        customer: dan,
        agent: bo,
        createdAt: at("2026-03-10T10:00:00Z"),
      }),
      // Recent
      r1: await ticket({
        status: "resolved",
        priority: "normal",
        customer: cara,
        agent: ada,
        createdAt: new Date(now.getTime() - 3 * DAY),
        respondedAfter: 60,
        resolvedAfter: 1440,
      }),
      r2: await ticket({
        status: "closed",
        priority: "high",
        customer: dan,
        agent: ada,
        createdAt: new Date(now.getTime() - 20 * DAY),
        respondedAfter: 15,
        resolvedAfter: 120,
        closedAfter: 1440,
      }),
      r3: await ticket({
        status: "closed",
        priority: "low",
        customer: cara,
        agent: bo,
        createdAt: new Date(now.getTime() - 40 * DAY),
        respondedAfter: 600,
        resolvedAfter: 7200,
        closedAfter: 8640,
      }),
      r4: await ticket({
        status: "open",
        priority: "low",
        customer: dan,
        createdAt: new Date(now.getTime() - 60 * MINUTE),
      }),
    };
    // A real status change by agent Bo, with a note that must stay private.
    await client.query("select set_config('jwt.claims.user_id', $1, true), set_config('app.status_note', $2, true)", [
      bo,
      `${SECRET} note`,
    ]);
    await client.query("update app_public.tickets set status = 'in_progress', agent_id = $2 where id = $1", [
      tickets.t5,
      bo,
    ]);
    await client.query("select set_config('jwt.claims.user_id', '', true), set_config('app.status_note', '', true)");
    await client.query(
      "insert into app_public.ticket_comments (ticket_id, author_id, body, is_internal) values ($1, $2, $3, true)",
      [tickets.t1, ada, `${SECRET} internal note`],
    );
    // The sla_clock job's run (every minute in a running system): the
    // breaches of these back-dated tickets happened before any write.
    await client.query("select app_private.record_sla_events()");
    await client.query("commit");
    return { now, users, tickets };
  } catch (error) {
    await client.query("rollback");
    throw error;
  } finally {
    client.release();
  }
}
