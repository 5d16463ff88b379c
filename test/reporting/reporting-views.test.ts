import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { useAnalystSession } from "./analyst-session.ts";
import { arrangeFixture, SECRET, type Fixture } from "./reporting-fixture.ts";

/**
 * Every app_reporting view, read by a real analyst login, against the known
 * data set of reporting-fixture.ts: the figures are checked exactly.
 */
const database = useTestDatabase();
const analyst = useAnalystSession(database);
let fixture: Fixture;

beforeAll(async () => {
  fixture = await arrangeFixture(database.current.owner);
  // One attachment with a name that must not reach analysts.
  await database.current.owner.query(
    `insert into app_public.attachments (ticket_id, uploader_id, file_name, content_type, size, sha256, state, completed_at)
     values ($1, $2, $3, 'text/plain', 2048, repeat('a', 64), 'ready', now())`,
    [fixture.tickets.t1, fixture.users.cara, `${SECRET}.txt`],
  );
});

const VIEWS = [
  "tickets",
  "ticket_status_history",
  "daily_flow",
  "backlog",
  "agent_workload",
  "sla_compliance",
  "first_response_times",
  "resolution_times",
  "ticket_events",
  "organizations",
  "attachments",
  "sla_event_compliance",
];

async function rows<T = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await analyst.current.client.query(sql, values)).rows as T[];
}

describe("app_reporting views, as an analyst", () => {
  it("are exactly the documented views, each readable", async () => {
    const views = await rows<{ table_name: string }>(
      "select table_name from information_schema.views where table_schema = 'app_reporting' order by table_name",
    );
    expect(views.map((view) => view.table_name)).toEqual([...VIEWS].sort());
    for (const view of VIEWS) {
      expect((await rows(`select * from app_reporting.${view}`)).length).toBeGreaterThan(0);
    }
  });

  it("never show the planted secrets, emails or customers' names", async () => {
    for (const view of VIEWS) {
      const [dump] = await rows<{ text: string }>(
        `select coalesce(string_agg(to_jsonb(v)::text, ' '), '') as text from app_reporting.${view} as v`,
      );
      expect(dump!.text, view).not.toContain(SECRET);
      expect(dump!.text, view).not.toContain("@");
      expect(dump!.text, view).not.toContain("Customer");
    }
  });

  it("attachments: ticket, state and size only", async () => {
    const all = await rows("select * from attachments");
    expect(all).toEqual([
      {
        id: expect.any(String),
        ticket_id: fixture.tickets.t1,
        on_comment: false,
        state: "ready",
        size: "2048",
        created_at: expect.any(Date),
      },
    ]);
  });

  it("tickets: one row per ticket with ids, timestamps and SLA facts", async () => {
    const all = await rows("select * from tickets order by number");
    expect(all).toHaveLength(12);
    expect(Object.keys(all[0]!)).toEqual([
      "id",
      "number",
      "status",
      "priority",
      "priority_rank",
      "customer_id",
      "agent_id",
      "created_at",
      "updated_at",
      "first_response_due_at",
      "resolution_due_at",
      "first_responded_at",
      "resolved_at",
      "closed_at",
      "first_response_minutes",
      "resolution_minutes",
      "first_response_breached",
      "resolution_breached",
      "organization_id",
      "organization_name",
    ]);
    const byId = new Map(all.map((row) => [row.id, row]));
    expect(byId.get(fixture.tickets.t2)).toMatchObject({
      status: "resolved",
      priority: "urgent",
      customer_id: fixture.users.dan,
      agent_id: fixture.users.ada,
      first_response_due_at: new Date("2026-03-02T10:30:00Z"),
      resolution_due_at: new Date("2026-03-02T14:00:00Z"),
      first_response_minutes: "60.00",
      resolution_minutes: "360.00",
      first_response_breached: true,
      resolution_breached: true,
    });
    // Cara's tickets are filed for her organization, Dan's for none.
    expect(byId.get(fixture.tickets.t1)).toMatchObject({
      organization_id: expect.any(String),
      organization_name: "Northwind Traders",
    });
    expect(byId.get(fixture.tickets.t2)).toMatchObject({ organization_id: null, organization_name: null });
    const [company] = await rows("select * from organizations");
    expect(company).toEqual({
      organization_id: byId.get(fixture.tickets.t1)!.organization_id,
      organization_name: "Northwind Traders",
      is_active: true,
      created_at: expect.any(Date),
      members: 1,
      managers: 1,
    });
    const perCompany = await rows(
      "select organization_name, count(*)::int as tickets from tickets group by organization_name order by organization_name nulls last",
    );
    expect(perCompany).toEqual([
      { organization_name: "Northwind Traders", tickets: 6 },
      { organization_name: null, tickets: 6 },
    ]);
    // A reply exactly at the due time is in time.
    expect(byId.get(fixture.tickets.t7)).toMatchObject({
      status: "waiting_on_customer",
      first_response_due_at: new Date("2026-03-10T17:00:00Z"),
      first_responded_at: new Date("2026-03-10T17:00:00Z"),
      first_response_minutes: "480.00",
      first_response_breached: false,
      resolution_breached: true,
    });
    // Withdrawn (closed without reply or resolution) within the targets.
    expect(byId.get(fixture.tickets.t6)).toMatchObject({
      status: "closed",
      first_response_minutes: null,
      resolution_minutes: null,
      first_response_breached: false,
      resolution_breached: false,
    });
    // Not due yet.
    expect(byId.get(fixture.tickets.r4)).toMatchObject({ first_response_breached: false, resolution_breached: false });
    expect(all.filter((row) => row.first_response_breached).length).toBe(3);
    expect(all.filter((row) => row.resolution_breached).length).toBe(5);
  });

  it("ticket_status_history: creation rows and real changes, without notes", async () => {
    const all = await rows("select * from ticket_status_history");
    expect(all).toHaveLength(13);
    expect(Object.keys(all[0]!)).toEqual([
      "id",
      "ticket_id",
      "ticket_number",
      "from_status",
      "to_status",
      "changed_by",
      "changed_at",
    ]);
    const t5 = await rows(
      "select from_status, to_status, changed_by, changed_at from ticket_status_history where ticket_id = $1 order by changed_at",
      [fixture.tickets.t5],
    );
    expect(t5).toEqual([
      { from_status: null, to_status: "open", changed_by: null, changed_at: new Date("2026-03-04T12:00:00Z") },
      { from_status: "open", to_status: "in_progress", changed_by: fixture.users.bo, changed_at: expect.any(Date) },
    ]);
    const t1 = await rows("select from_status, to_status, changed_at from ticket_status_history where ticket_id = $1", [
      fixture.tickets.t1,
    ]);
    expect(t1).toEqual([{ from_status: null, to_status: "closed", changed_at: new Date("2026-03-02T09:00:00Z") }]);
  });

  it("daily_flow: created, resolved and closed per UTC day, quiet days as zeros", async () => {
    const march = await rows(
      "select day::text, created, resolved, closed from daily_flow where day between '2026-03-01' and '2026-03-11' order by day",
    );
    expect(march).toEqual([
      { day: "2026-03-02", created: 2, resolved: 2, closed: 0 },
      { day: "2026-03-03", created: 2, resolved: 1, closed: 1 },
      { day: "2026-03-04", created: 1, resolved: 0, closed: 0 },
      { day: "2026-03-05", created: 0, resolved: 0, closed: 0 },
      { day: "2026-03-06", created: 0, resolved: 0, closed: 0 },
      { day: "2026-03-07", created: 0, resolved: 0, closed: 0 },
      { day: "2026-03-08", created: 0, resolved: 0, closed: 0 },
      { day: "2026-03-09", created: 1, resolved: 0, closed: 1 },
      { day: "2026-03-10", created: 2, resolved: 0, closed: 0 },
      { day: "2026-03-11", created: 0, resolved: 0, closed: 0 },
    ]);
    const [summary] = await rows(
      `select count(*)::integer as days,
              (max(day) - min(day) + 1) as span,
              min(day)::text as first_day,
              max(day) = (now() at time zone 'UTC')::date as ends_today,
              sum(created)::integer as created,
              sum(resolved)::integer as resolved,
              sum(closed)::integer as closed
       from daily_flow`,
    );
    expect(summary).toMatchObject({ first_day: "2026-03-02", ends_today: true, created: 12, resolved: 6, closed: 4 });
    expect(summary!.days).toBe(summary!.span);
  });

  it("backlog: unfinished tickets by status and priority, zeros included", async () => {
    const all = await rows(
      `select status, priority, tickets, unassigned, resolution_overdue, oldest_created_at from backlog
       order by array_position(array['open', 'in_progress', 'waiting_on_customer'], status), priority_rank`,
    );
    expect(all).toHaveLength(12);
    const nonEmpty = all.filter((row) => (row.tickets as number) > 0);
    expect(nonEmpty).toEqual([
      {
        status: "open",
        priority: "low",
        tickets: 1,
        unassigned: 1,
        resolution_overdue: 0,
        oldest_created_at: expect.any(Date),
      },
      {
        status: "open",
        priority: "high",
        tickets: 2,
        unassigned: 1,
        resolution_overdue: 2,
        oldest_created_at: new Date("2026-03-03T09:00:00Z"),
      },
      {
        status: "in_progress",
        priority: "normal",
        tickets: 1,
        unassigned: 0,
        resolution_overdue: 1,
        oldest_created_at: new Date("2026-03-04T12:00:00Z"),
      },
      {
        status: "waiting_on_customer",
        priority: "normal",
        tickets: 1,
        unassigned: 0,
        resolution_overdue: 1,
        oldest_created_at: new Date("2026-03-10T09:00:00Z"),
      },
    ]);
    for (const row of all.filter((row) => row.tickets === 0)) {
      expect(row).toMatchObject({ unassigned: 0, resolution_overdue: 0, oldest_created_at: null });
    }
  });

  it("agent_workload: every agent (names of staff only), current and recent work, median resolution", async () => {
    const all = await rows("select * from agent_workload order by display_name");
    expect(all).toEqual([
      {
        agent_id: fixture.users.ada,
        display_name: "Ada Agent",
        is_active: true,
        open_tickets: 0,
        in_progress_tickets: 0,
        waiting_on_customer_tickets: 1,
        resolved_last_7_days: 1,
        resolved_last_30_days: 2,
        // R1 1440 min and R2 120 min
        median_resolution_minutes_last_30_days: "780.00",
      },
      {
        agent_id: fixture.users.bo,
        display_name: "Bo Agent",
        is_active: true,
        open_tickets: 1,
        in_progress_tickets: 1,
        waiting_on_customer_tickets: 0,
        resolved_last_7_days: 0,
        resolved_last_30_days: 0,
        median_resolution_minutes_last_30_days: null,
      },
      {
        agent_id: fixture.users.cy,
        display_name: "Cy Agent",
        is_active: true,
        open_tickets: 0,
        in_progress_tickets: 0,
        waiting_on_customer_tickets: 0,
        resolved_last_7_days: 0,
        resolved_last_30_days: 0,
        median_resolution_minutes_last_30_days: null,
      },
    ]);
  });

  it("sla_compliance: met, breached, pending and ratios per ISO week and priority", async () => {
    const march = await rows(
      `select iso_week, week_start::text, priority, tickets,
              first_response_met, first_response_breached, first_response_pending, first_response_compliance,
              resolution_met, resolution_breached, resolution_pending, resolution_compliance
       from sla_compliance
       where week_start < '2026-04-01'
       order by week_start, priority_rank`,
    );
    const row = (
      iso_week: string,
      week_start: string,
      priority: string,
      [frMet, frBreached, frCompliance]: [number, number, string],
      [resMet, resBreached, resCompliance]: [number, number, string],
    ) => ({
      iso_week,
      week_start,
      priority,
      tickets: frMet + frBreached,
      first_response_met: frMet,
      first_response_breached: frBreached,
      first_response_pending: 0,
      first_response_compliance: frCompliance,
      resolution_met: resMet,
      resolution_breached: resBreached,
      resolution_pending: 0,
      resolution_compliance: resCompliance,
    });
    expect(march).toEqual([
      row("2026-W10", "2026-03-02", "normal", [1, 0, "1.0000"], [0, 1, "0.0000"]),
      row("2026-W10", "2026-03-02", "high", [1, 1, "0.5000"], [1, 1, "0.5000"]),
      row("2026-W10", "2026-03-02", "urgent", [1, 1, "0.5000"], [1, 1, "0.5000"]),
      row("2026-W11", "2026-03-09", "low", [1, 0, "1.0000"], [1, 0, "1.0000"]),
      row("2026-W11", "2026-03-09", "normal", [1, 0, "1.0000"], [0, 1, "0.0000"]),
      row("2026-W11", "2026-03-09", "high", [0, 1, "0.0000"], [0, 1, "0.0000"]),
    ]);
    const pending = await rows(
      `select tickets, first_response_pending, first_response_compliance, resolution_pending, resolution_compliance
       from sla_compliance
       where priority = 'low' and week_start = date_trunc('week', $1::timestamptz at time zone 'UTC')::date`,
      [new Date(fixture.now.getTime() - 60 * 60_000)],
    );
    expect(pending).toEqual([
      {
        tickets: 1,
        first_response_pending: 1,
        first_response_compliance: null,
        resolution_pending: 1,
        resolution_compliance: null,
      },
    ]);
    const [total] = await rows("select sum(tickets)::integer as tickets from sla_compliance");
    expect(total).toEqual({ tickets: 12 });
  });

  it("first_response_times: p50 and p90 per priority", async () => {
    expect(await rows("select * from first_response_times order by priority_rank")).toEqual([
      { priority: "low", priority_rank: 1, tickets: 1, p50_minutes: "600.00", p90_minutes: "600.00" },
      { priority: "normal", priority_rank: 2, tickets: 3, p50_minutes: "60.00", p90_minutes: "396.00" },
      { priority: "high", priority_rank: 3, tickets: 2, p50_minutes: "22.50", p90_minutes: "28.50" },
      { priority: "urgent", priority_rank: 4, tickets: 2, p50_minutes: "35.00", p90_minutes: "55.00" },
    ]);
  });

  it("resolution_times: p50 and p90 per priority", async () => {
    expect(await rows("select * from resolution_times order by priority_rank")).toEqual([
      { priority: "low", priority_rank: 1, tickets: 1, p50_minutes: "7200.00", p90_minutes: "7200.00" },
      { priority: "normal", priority_rank: 2, tickets: 1, p50_minutes: "1440.00", p90_minutes: "1440.00" },
      { priority: "high", priority_rank: 3, tickets: 2, p50_minutes: "420.00", p90_minutes: "660.00" },
      { priority: "urgent", priority_rank: 4, tickets: 2, p50_minutes: "210.00", p90_minutes: "330.00" },
    ]);
  });

  it("filters the way BI tools write them: plain text, a schema-qualified cast, parameters", async () => {
    const column = await rows<{ table_name: string; column_name: string; data_type: string }>(
      `select table_name, column_name, data_type from information_schema.columns
       where table_schema = 'app_reporting' and column_name in ('status', 'priority', 'from_status', 'to_status')
       order by table_name, column_name`,
    );
    expect(column).toHaveLength(10);
    for (const row of column) expect(row.data_type).toBe("text");

    const [plain] = await rows("select count(*)::integer as n from tickets where status = 'open'");
    // What Metabase sends for a filter on a text column, schema-qualified.
    const [cast] = await rows(
      "select count(*)::integer as n from app_reporting.tickets where status = 'open'::pg_catalog.text",
    );
    const [bound] = await rows("select count(*)::integer as n from app_reporting.tickets where status = $1", ["open"]);
    const [list] = await rows(
      "select count(*)::integer as n from app_reporting.tickets where priority = any('{high,urgent}'::pg_catalog.text[])",
    );
    expect(plain).toEqual({ n: 3 });
    expect(cast).toEqual(plain);
    expect(bound).toEqual(plain);
    expect(list!.n).toBeGreaterThan(0);
    const [byRank] = await rows(
      "select priority from app_reporting.tickets order by priority_rank desc, created_at limit 1",
    );
    expect(byRank).toEqual({ priority: "urgent" });
    // The application's own types stay out of reach: nothing in a view needs them.
    await expect(rows("select 'open'::app_public.ticket_status")).rejects.toThrow(
      /permission denied for schema app_public/,
    );
  });
});
