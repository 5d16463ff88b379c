import { describe, expect, it } from "vitest";
import { DEMO_USERS, loadDemoDataIfEmpty, setDemoPassword } from "../../src/database/demo-data.ts";
import { verifyPassword } from "../../src/auth/passwords.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { expectAssignmentInvariant, expectHistoryInvariant } from "../support/fixtures.ts";

const database = useTestDatabase();
const PASSWORD = "demo-this-data-directory-only";

describe("demo data", () => {
  it("loads users and tickets in every status once, through the real rules", { timeout: 60_000 }, async () => {
    // Two commands started together on an empty database: one loads, the other waits and finds it loaded.
    const loaded = await Promise.all([
      loadDemoDataIfEmpty(database.current.urls, PASSWORD),
      loadDemoDataIfEmpty(database.current.urls, PASSWORD),
    ]);
    expect(loaded.sort()).toEqual([false, true]);
    const owner = database.current.owner;
    const users = await owner.query(
      "select role, count(*)::int as n from app_public.users group by role order by role",
    );
    expect(users.rows).toEqual([
      { role: "customer", n: 4 },
      { role: "agent", n: 2 },
      { role: "admin", n: 1 },
    ]);
    // Today's tickets, made through the real functions.
    const statuses = await owner.query<{ status: string; n: number }>(
      `select status, count(*)::int as n from app_public.tickets
       where created_at > now() - interval '1 hour' group by status order by status`,
    );
    expect(statuses.rows).toEqual([
      { status: "open", n: 2 },
      { status: "in_progress", n: 2 },
      { status: "waiting_on_customer", n: 1 },
      { status: "resolved", n: 1 },
      { status: "closed", n: 2 },
    ]);
    const internal = await owner.query(
      "select count(*)::int as n from app_public.ticket_comments where is_internal and created_at > now() - interval '1 hour'",
    );
    expect(internal.rows[0].n).toBe(1);
    // Two organizations, each with a manager and a member; tickets filed for them; one customer copied in.
    const organizations = await owner.query(
      `select o.name, array_agg(m.role::text order by m.role) as roles,
              (select count(*)::int from app_public.tickets as t where t.organization_id = o.id) > 0 as has_tickets
         from app_public.organizations as o
         join app_public.organization_memberships as m on m.organization_id = o.id and m.removed_at is null
        group by o.id order by o.name`,
    );
    expect(organizations.rows).toEqual([
      { name: "Contoso", roles: ["member", "manager"], has_tickets: true },
      { name: "Northwind Traders", roles: ["member", "manager"], has_tickets: true },
    ]);
    // Northwind's contract: its own targets for high and urgent tickets.
    const contract = await owner.query(
      `select o.name, p.priority::text, p.first_response_minutes, p.resolution_minutes
         from app_public.organization_sla_policies as p join app_public.organizations as o on o.id = p.organization_id
        order by p.priority`,
    );
    expect(contract.rows).toEqual([
      { name: "Northwind Traders", priority: "high", first_response_minutes: 30, resolution_minutes: 240 },
      { name: "Northwind Traders", priority: "urgent", first_response_minutes: 15, resolution_minutes: 120 },
    ]);
    const cc = await owner.query(
      "select count(*)::int as n from app_public.ticket_participants where kind = 'cc' and removed_at is null",
    );
    expect(cc.rows[0].n).toBe(1);
    const { rows } = await owner.query<{ password_hash: string }>(
      "select password_hash from app_private.user_accounts where email = $1",
      [DEMO_USERS[0].email],
    );
    expect(await verifyPassword(rows[0]!.password_hash, PASSWORD)).toBe(true);

    const { rows: counted } = await owner.query("select count(*)::int as n from app_public.tickets");
    const tickets = counted[0].n as number;
    expect(tickets).toBeGreaterThan(30);
    expect(await loadDemoDataIfEmpty(database.current.urls, PASSWORD)).toBe(false);
    const again = await owner.query("select count(*)::int as n from app_public.tickets");
    expect(again.rows[0].n).toBe(tickets);
    // Its past mails nobody (docs/email.md); the demo logins are verified, so they can sign in.
    const { rows: mail } = await owner.query(
      `select (select count(*)::int from app_private.outbound_mails) as mails,
              (select count(*)::int from app_private.user_accounts where email_verified_at is null) as unverified`,
    );
    expect(mail[0]).toEqual({ mails: 0, unverified: 0 });
  });

  it("spreads five weeks of past tickets with consistent histories", async () => {
    const owner = database.current.owner;
    const { rows: span } = await owner.query(
      `select count(*)::int as tickets,
              count(distinct (created_at at time zone 'UTC')::date)::int as days,
              min(created_at) < now() - interval '28 days' as from_weeks_ago,
              count(*) filter (where status = 'closed' and resolved_at is null)::int as withdrawn,
              count(*) filter (where resolved_at is not null)::int as resolved,
              count(*) filter (where first_responded_at is not null)::int as answered
       from app_public.tickets where created_at < now() - interval '1 day'`,
    );
    expect(span[0]).toMatchObject({ from_weeks_ago: true });
    expect(span[0].days).toBeGreaterThanOrEqual(20);
    for (const figure of ["withdrawn", "resolved", "answered"]) expect(span[0][figure], figure).toBeGreaterThan(0);
    await expectHistoryInvariant(owner);
    await expectAssignmentInvariant(owner);
    // Every change is dated within its ticket's life, in order, and is a move the workflow allows.
    const { rows: wrong } = await owner.query(
      `select h.ticket_id from app_public.ticket_status_history as h
       join app_public.tickets as t on t.id = h.ticket_id
       left join app_public.ticket_transitions as w on w.from_status = h.from_status and w.to_status = h.to_status
       where h.changed_at < t.created_at or h.changed_at > now()
          or (h.from_status is not null and w.from_status is null)`,
    );
    expect(wrong).toEqual([]);
    // Past tickets: resolved_at is the time of their resolution in the history.
    const { rows: stamps } = await owner.query(
      `select count(*)::int as n from app_public.tickets as t
       where t.resolved_at is distinct from (
               select max(h.changed_at) from app_public.ticket_status_history as h
               where h.ticket_id = t.id and h.to_status = 'resolved')
         and t.status = 'resolved' and t.created_at < now() - interval '1 day'`,
    );
    expect(stamps[0].n).toBe(0);
  });

  it("gives every reporting view rows, and SLA figures both met and breached", async () => {
    const owner = database.current.owner;
    for (const view of [
      "tickets",
      "ticket_status_history",
      "daily_flow",
      "backlog",
      "agent_workload",
      "sla_compliance",
      "first_response_times",
      "resolution_times",
    ]) {
      const { rows } = await owner.query(`select count(*)::int as n from app_reporting.${view}`);
      expect(rows[0].n, view).toBeGreaterThan(0);
    }
    const { rows: week } = await owner.query(
      `select sum(created)::int as created, sum(resolved)::int as resolved, sum(closed)::int as closed
       from app_reporting.daily_flow where day between current_date - 8 and current_date - 1`,
    );
    for (const figure of ["created", "resolved", "closed"])
      expect(week[0][figure], `last week ${figure}`).toBeGreaterThan(0);
    const { rows: sla } = await owner.query(
      `select sum(first_response_met)::int as met, sum(first_response_breached)::int as breached,
              sum(resolution_met)::int as resolution_met, sum(resolution_breached)::int as resolution_breached,
              count(distinct week_start)::int as weeks
       from app_reporting.sla_compliance`,
    );
    for (const figure of ["met", "breached", "resolution_met", "resolution_breached"]) {
      expect(sla[0][figure], figure).toBeGreaterThan(0);
    }
    expect(sla[0].weeks).toBeGreaterThanOrEqual(5);
    const { rows: times } = await owner.query(
      "select count(*)::int as n from app_reporting.resolution_times where p50_minutes is not null",
    );
    expect(times[0].n).toBeGreaterThanOrEqual(3);
    const { rows: workload } = await owner.query(
      "select count(*)::int as n from app_reporting.agent_workload where resolved_last_30_days > 0",
    );
    expect(workload[0].n).toBe(2);
  });

  it("gives every demo login a new password, and no other account", { timeout: 60_000 }, async () => {
    const owner = database.current.owner;
    await owner.query(
      "select app_private.create_user_account('someone@example.com', 'Someone', 'customer', 'not-a-demo-hash')",
    );
    await setDemoPassword(database.current.urls.owner, "demo-a-fresh-one");
    const { rows } = await owner.query<{ email: string; password_hash: string }>(
      "select email::text, password_hash from app_private.user_accounts order by email",
    );
    const demo = rows.filter((row) => DEMO_USERS.some((user) => user.email === row.email));
    expect(demo).toHaveLength(DEMO_USERS.length);
    for (const row of demo) expect(await verifyPassword(row.password_hash, "demo-a-fresh-one")).toBe(true);
    expect(rows.find((row) => row.email === "someone@example.com")?.password_hash).toBe("not-a-demo-hash");
  });
});
