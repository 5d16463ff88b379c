import { describe, expect, it } from "vitest";
import { DEMO_USERS, loadDemoDataIfEmpty, setDemoPassword } from "../../src/database/demo-data.ts";
import { verifyPassword } from "../../src/auth/passwords.ts";
import { useTestDatabase } from "../support/test-database.ts";

const database = useTestDatabase();
const PASSWORD = "demo-this-data-directory-only";

describe("demo data", () => {
  it("loads users and tickets in every status once, through the real rules", { timeout: 60_000 }, async () => {
    expect(await loadDemoDataIfEmpty(database.current.urls, PASSWORD)).toBe(true);
    const owner = database.current.owner;
    const users = await owner.query("select role, count(*)::int as n from app_public.users group by role order by role");
    expect(users.rows).toEqual([
      { role: "customer", n: 3 },
      { role: "agent", n: 2 },
      { role: "admin", n: 1 },
    ]);
    const statuses = await owner.query<{ status: string; n: number }>(
      "select status, count(*)::int as n from app_public.tickets group by status order by status",
    );
    expect(statuses.rows).toEqual([
      { status: "open", n: 2 },
      { status: "in_progress", n: 2 },
      { status: "waiting_on_customer", n: 1 },
      { status: "resolved", n: 1 },
      { status: "closed", n: 2 },
    ]);
    const internal = await owner.query("select count(*)::int as n from app_public.ticket_comments where is_internal");
    expect(internal.rows[0].n).toBe(1);
    const { rows } = await owner.query<{ password_hash: string }>(
      "select password_hash from app_private.user_accounts where email = $1",
      [DEMO_USERS[0].email],
    );
    expect(await verifyPassword(rows[0]!.password_hash, PASSWORD)).toBe(true);

    expect(await loadDemoDataIfEmpty(database.current.urls, PASSWORD)).toBe(false);
    const again = await owner.query("select count(*)::int as n from app_public.tickets");
    expect(again.rows[0].n).toBe(8);
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
