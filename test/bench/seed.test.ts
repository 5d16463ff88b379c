import pg from "pg";
import { describe, expect, it } from "vitest";
import { verifyPassword } from "../../src/auth/passwords.ts";
import { castFor } from "../../bench/database.ts";
import { BENCH_PASSWORD } from "../../bench/scale.ts";
import { seed } from "../../bench/seed.ts";
import { expectHistoryInvariant } from "../support/scenario.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * The benchmark's seeder at a tiny scale, so the bench cannot rot silently:
 * the data it loads must obey the same invariants as data made through the API.
 */
const database = useTestDatabase();

describe("benchmark seeder", () => {
  it("loads consistent, realistic data", { timeout: 60_000 }, async () => {
    const rootUrl = new URL(database.current.urls.root);
    rootUrl.pathname = `/${database.current.name}`;
    const root = new pg.Client({ connectionString: rootUrl.toString() });
    await root.connect();
    try {
      await seed(root, { tickets: 600, customers: 40, agents: 6 }, () => undefined);
    } finally {
      await root.end();
    }
    const owner = database.current.owner;
    await expectHistoryInvariant(owner);
    const statuses = await owner.query("select status, count(*)::int as n from app_public.tickets group by status");
    expect(statuses.rows.map((row) => row.status).sort()).toEqual(["closed", "in_progress", "open", "resolved", "waiting_on_customer"]);
    const closed = statuses.rows.find((row) => row.status === "closed")!.n;
    expect(closed / 600).toBeGreaterThan(0.45);
    const priorities = await owner.query("select count(distinct priority)::int as n from app_public.tickets");
    expect(priorities.rows[0].n).toBe(4);
    const perTicket = await owner.query(
      `select (select count(*) from app_public.ticket_status_history)::float / 600 as history,
              (select count(*) from app_public.ticket_comments)::float / 600 as comments,
              (select count(*) from app_private.ticket_status_history_default)::int as in_default`,
    );
    expect(perTicket.rows[0].history).toBeGreaterThan(3.5);
    expect(perTicket.rows[0].comments).toBeGreaterThan(2);
    expect(perTicket.rows[0].in_default).toBe(0);
    const broken = await owner.query(
      `select count(*)::int as n from app_public.tickets
        where (status in ('in_progress', 'waiting_on_customer') and agent_id is null)
           or resolution_due_at is null or first_response_due_at is null`,
    );
    expect(broken.rows[0].n).toBe(0);

    const rootOfDatabase = rootUrl.toString();
    const cast = await castFor(rootOfDatabase);
    expect(cast.movableTickets.length).toBeGreaterThan(0);
    const account = await owner.query("select password_hash from app_private.user_accounts where email = $1", [cast.loginEmails[0]]);
    expect(await verifyPassword(account.rows[0].password_hash, BENCH_PASSWORD)).toBe(true);
  });
});
