import type pg from "pg";
import { hashPassword } from "../auth/passwords.ts";
import type { DatabaseUrls } from "./connection-urls.ts";
import { withClient } from "./cluster-setup.ts";
import { loadDemoHistory } from "./demo-history.ts";
import { inRequestTransaction } from "./request-transaction.ts";
import { type UserRole, webRoleOf } from "./web-roles.ts";

/**
 * Demo data for the local embedded database: a few customers, two agents,
 * an admin, two organizations (each with a manager and a member), five weeks
 * of past tickets (demo-history.ts) and today's tickets in every status with
 * a conversation and a customer copied in. Users are created as the owner;
 * today's tickets go through the real SQL functions acting as those users, so
 * their histories, SLA times and audit rows are genuine.
 * Never loaded into a database the user supplied. The demo logins' password
 * is generated once per data directory (config/local-secrets.ts), never a
 * published one.
 */

export const DEMO_USERS = [
  { key: "admin", email: "admin@demo.test", name: "Ada Admin", role: "admin" },
  { key: "alice", email: "alice.agent@demo.test", name: "Alice Agent", role: "agent" },
  { key: "bob", email: "bob.agent@demo.test", name: "Bob Agent", role: "agent" },
  { key: "carol", email: "carol@demo.test", name: "Carol Customer", role: "customer" },
  { key: "dan", email: "dan@demo.test", name: "Dan Customer", role: "customer" },
  { key: "erin", email: "erin@demo.test", name: "Erin Customer", role: "customer" },
  { key: "frank", email: "frank@demo.test", name: "Frank Customer", role: "customer" },
] as const;

type UserKey = (typeof DEMO_USERS)[number]["key"];
type Ids = Record<UserKey, string>;

async function createUsers(owner: pg.Client, password: string): Promise<Ids> {
  const hash = await hashPassword(password);
  const ids = {} as Ids;
  for (const user of DEMO_USERS) {
    const { rows } = await owner.query<{ id: string }>(
      "select id from app_private.create_user_account($1, $2, $3, $4)",
      [user.email, user.name, user.role, hash],
    );
    ids[user.key] = rows[0]!.id;
  }
  return ids;
}

/** One statement as a user, in its own transaction, exactly as the API runs it. */
async function as<T extends pg.QueryResultRow>(
  client: pg.Client,
  role: UserRole,
  userId: string,
  sql: string,
  values: unknown[] = [],
): Promise<T | undefined> {
  return inRequestTransaction(
    client,
    { userId, role: webRoleOf(role) },
    async (c) => (await c.query<T>(sql, values)).rows[0],
  );
}

/**
 * Northwind Traders: Carol manages it, Dan sees its tickets. Contoso: Erin
 * manages it, Frank is a member who sees only his own (and what he is copied
 * in on). Northwind's contract promises faster answers on high and urgent
 * tickets than the default targets. Made by the admin through the real
 * functions and the API's tables.
 */
async function createOrganizations(api: pg.Client, ids: Ids): Promise<void> {
  const organization = async (name: string, domain: string) =>
    (await as<{ id: string }>(api, "admin", ids.admin, "select id from app_public.create_organization($1, array[$2])", [
      name,
      domain,
    ]))!.id;
  const member = (organizationId: string, user: UserKey, role: "member" | "manager", sees: boolean) =>
    as(api, "admin", ids.admin, "select id from app_public.add_organization_member($1, $2, $3, $4)", [
      organizationId,
      ids[user],
      role,
      sees,
    ]);
  const northwind = await organization("Northwind Traders", "northwind.example");
  const contoso = await organization("Contoso", "contoso.example");
  await member(northwind, "carol", "manager", true);
  await member(northwind, "dan", "member", true);
  await member(contoso, "erin", "manager", true);
  await member(contoso, "frank", "member", false);
  await as(
    api,
    "admin",
    ids.admin,
    `insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes)
     values ($1, 'high', 30, 240), ($1, 'urgent', 15, 120)`,
    [northwind],
  );
}

async function createTickets(api: pg.Client, ids: Ids): Promise<void> {
  const file = async (customer: UserKey, subject: string, description: string, priority: string) =>
    (await as<{ id: string }>(
      api,
      "customer",
      ids[customer],
      "insert into app_public.tickets (subject, description, priority) values ($1, $2, $3) returning id",
      [subject, description, priority],
    ))!.id;
  const take = (agent: UserKey) => as(api, "agent", ids[agent], "select * from app_public.take_next_ticket()");
  const move = (role: UserRole, user: UserKey, ticket: string, status: string, note: string) =>
    as(api, role, ids[user], "select * from app_public.transition_ticket($1, $2, $3)", [ticket, status, note]);
  const reply = (role: UserRole, user: UserKey, ticket: string, body: string, internal = false) =>
    as(api, role, ids[user], "select * from app_public.add_comment($1, $2, $3)", [ticket, body, internal]);

  const outage = await file(
    "carol",
    "Checkout page returns an error",
    "Since this morning every payment fails with error 502.",
    "urgent",
  );
  const invoice = await file(
    "dan",
    "Wrong VAT on invoice #2291",
    "The invoice shows 19% VAT; we are VAT-exempt.",
    "high",
  );
  const password = await file("erin", "Cannot reset my password", "The reset email never arrives.", "normal");
  await file("carol", "Export to CSV is slow", "Exporting 10k rows takes minutes.", "normal");
  await file("dan", "Change company address", "Please update our billing address.", "low");
  const duplicate = await file("erin", "Duplicate: login issue", "Filed twice by mistake.", "low");
  await file("carol", "Feature request: dark mode", "Would love a dark theme for the portal.", "low");
  const question = await file(
    "dan",
    "Question about API limits",
    "What is the rate limit of the public API?",
    "normal",
  );

  // Agents claim the most urgent, oldest work first: outage, invoice, then the normal ones.
  for (const agent of ["alice", "bob", "alice", "bob", "alice"] as const) await take(agent);
  await reply("agent", "alice", outage, "We are on it; the payment provider has an incident.");
  await reply("agent", "alice", outage, "Provider ticket INC-4411 opened.", true);
  await reply("agent", "bob", invoice, "Could you send us your VAT exemption certificate?");
  await move("agent", "bob", invoice, "waiting_on_customer", "Asked for the exemption certificate");
  await reply("agent", "alice", password, "The mail was blocked by your spam filter; resent.");
  await move("agent", "alice", password, "resolved", "Reset email delivered");
  await reply("agent", "alice", question, "100 requests per minute per key.");
  await move("agent", "alice", question, "resolved", "Answered");
  await move("customer", "dan", question, "closed", "Thanks!");
  await move("customer", "erin", duplicate, "closed", "Filed twice");
  // Erin copies in her colleague Frank, who cannot otherwise see her tickets.
  await as(api, "customer", ids.erin, "select id from app_public.add_ticket_participant($1, $2, 'cc')", [
    password,
    ids.frank,
  ]);
}

/**
 * Loads the demo data once: only when the database has no users yet. Returns
 * whether it did. Two local commands started together (`npm start` and
 * `db:dev watch`) both call this on the shared database; the first holds a
 * session advisory lock while it loads, so the second waits and then finds
 * the users there, instead of creating them a second time.
 */
export async function loadDemoDataIfEmpty(urls: DatabaseUrls, password: string): Promise<boolean> {
  return withClient(urls.owner, async (owner) => {
    await owner.query("select pg_advisory_lock(hashtext('ticketing: demo data'))");
    const { rows } = await owner.query<{ empty: boolean }>("select not exists (select from app_public.users) as empty");
    if (!rows[0]?.empty) return false;
    await loadDemoData(urls, owner, await createUsers(owner, password));
    return true;
  });
}

/** The rest of the demo data, for the users just created; `owner` is the loader's own connection. */
async function loadDemoData(urls: DatabaseUrls, owner: pg.Client, ids: Ids): Promise<void> {
  // Mail goes only to verified addresses (docs/email.md): the demo accounts are
  // verified once their past is written, so it mails nobody.
  // (A database migrated to an older release has no verification, and no mail.)
  const { rows } = await owner.query<{ present: boolean }>(
    `select exists (select from pg_catalog.pg_attribute
       where attrelid = 'app_private.user_accounts'::regclass and attname = 'email_verified_at' and not attisdropped) as present`,
  );
  const verified = async (value: "null" | "now()") => {
    if (rows[0]?.present) await owner.query(`update app_private.user_accounts set email_verified_at = ${value}`);
  };
  await verified("null");
  await withClient(urls.authenticator, (api) => createOrganizations(api, ids));
  await loadDemoHistory(urls, { customers: [ids.carol, ids.dan, ids.erin], agents: [ids.alice, ids.bob] });
  await withClient(urls.authenticator, (api) => createTickets(api, ids));
  await verified("now()");
}

/**
 * Gives the demo logins a new password: a data directory whose demo data
 * was loaded with the formerly published password gets its own.
 */
export async function setDemoPassword(ownerUrl: string, password: string): Promise<void> {
  const hash = await hashPassword(password);
  await withClient(ownerUrl, (owner) =>
    owner.query("update app_private.user_accounts set password_hash = $1 where email = any($2::citext[])", [
      hash,
      DEMO_USERS.map((user) => user.email),
    ]),
  );
}
