import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import { createTicket } from "../realtime/realtime-helpers.ts";
import { useAnalystSession } from "../reporting/analyst-session.ts";
import { commitAs, sqlState, useTestDatabase } from "../support/test-database.ts";

/**
 * Realtime events in the database (migrations/committed/000018-realtime-events-as-owner-only-rows-notifications-carry-only-.sql):
 * one owner-only row per change, only its id on the one channel, read by the
 * API through one narrow function that ignores stale ids, pruned after a week.
 */
const database = useTestDatabase();
const analyst = useAnalystSession(database);

let listener: pg.Client;
const heard: string[] = [];

beforeAll(async () => {
  listener = new pg.Client({ connectionString: database.current.urls.owner });
  await listener.connect();
  listener.on("notification", (message) => heard.push(`${message.channel} ${message.payload ?? ""}`));
  await listener.query("listen ticketing_events");
});

afterAll(async () => {
  await listener.end();
});

async function eventRows(where: string, values: unknown[]) {
  const { rows } = await database.current.owner.query(
    `select * from app_private.realtime_events where ${where} order by id`,
    values,
  );
  return rows as Record<string, unknown>[];
}

describe("realtime events", () => {
  it("are one row per change and a notification carrying only the row's id", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Event Customer", "customer");
    const agent = await makeUser(db.owner, "Event Agent", "agent");
    heard.length = 0;
    const ticketId = await createTicket(db, customer, "Event ticket");
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, agent, "select app_public.assign_ticket($1, $2)", [ticketId, agent]),
    );
    rowsOf(
      await runAs(db.authenticator, ROLE.agent, agent, "select app_public.add_comment($1, 'A note', true)", [ticketId]),
    );

    const rows = await eventRows("ticket_id = $1", [ticketId]);
    expect(rows).toMatchObject([
      { kind: "created", customer_id: customer, agent_id: null, in_open_pool: true, comment_id: null },
      { kind: "assigned", agent_id: agent, previous_agent_id: null, in_open_pool: true },
      { kind: "commented", agent_id: agent, in_open_pool: false },
    ]);
    expect(rows[2]?.comment_id).toEqual(expect.any(String));
    await vi.waitFor(() => expect(heard.length).toBeGreaterThanOrEqual(3), { timeout: 5_000, interval: 200 });
    expect(heard).toEqual(rows.map((row) => `ticketing_events ${String(row.id)}`));
  });

  it("record a user's deactivation with the user alone", async () => {
    const db = database.current;
    const agent = await makeUser(db.owner, "Leaving Agent", "agent");
    await db.owner.query("update app_public.users set is_active = false where id = $1", [agent]);
    expect(await eventRows("user_id = $1", [agent])).toMatchObject([{ kind: "deactivated", ticket_id: null }]);
  });

  it("record sight_changed for the user whose memberships or participations change in what gives sight", async () => {
    const db = database.current;
    const { rows: organization } = await db.owner.query(
      "insert into app_public.organizations (name) values ('Sight Events Ltd') returning id",
    );
    const acme = organization[0].id as string;
    const requester = await makeUser(db.owner, "Sight Requester", "customer");
    const colleague = await makeUser(db.owner, "Sight Colleague", "customer");
    await db.owner.query(
      "insert into app_public.organization_memberships (organization_id, user_id) values ($1, $2), ($1, $3)",
      [acme, requester, colleague],
    );
    const sightEvents = async () => (await eventRows("user_id = $1 and kind = 'sight_changed'", [colleague])).length;
    expect(await sightEvents()).toBe(1);
    const ticketId = await createTicket(db, requester, "Sight ticket");
    rowsOf(
      await runAs(db.authenticator, ROLE.customer, requester, "select app_public.add_ticket_participant($1, $2)", [
        ticketId,
        colleague,
      ]),
    );
    expect(await sightEvents()).toBe(2);
    // Nothing that gives sight changed: no event.
    await db.owner.query("update app_public.organization_memberships set updated_at = now() where user_id = $1", [
      colleague,
    ]);
    expect(await sightEvents()).toBe(2);
    await db.owner.query(
      "update app_public.organization_memberships set sees_organization_tickets = true where user_id = $1",
      [colleague],
    );
    rowsOf(
      await runAs(db.authenticator, ROLE.customer, colleague, "select app_public.remove_ticket_participant($1, $2)", [
        ticketId,
        colleague,
      ]),
    );
    await db.owner.query("update app_public.organizations set is_active = false where id = $1", [acme]);
    expect(await sightEvents()).toBe(5);
    // An organization without members changes without an event (and without failing).
    await db.owner.query("insert into app_public.organizations (name, is_active) values ('Sight Events Empty', false)");
    await db.owner.query("update app_public.organizations set is_active = true where name = 'Sight Events Empty'");
    expect(await eventRows("user_id = $1 and kind = 'sight_changed'", [requester])).toHaveLength(2);
    expect(await eventRows("user_id = $1 and kind = 'sight_changed'", [colleague])).toMatchObject(
      Array.from({ length: 5 }, () => ({ ticket_id: null, comment_id: null, customer_id: null })),
    );
  });

  it("cannot be read or written by web roles, analysts or the authenticator", async () => {
    const db = database.current;
    for (const role of ["ticketing_customer", "ticketing_agent", "ticketing_admin", "ticketing_anonymous"]) {
      const state = await sqlState(() =>
        commitAs(db.authenticator, { role, userId: "01900000-0000-7000-8000-000000000001" }, (c) =>
          c.query("select * from app_private.realtime_events"),
        ),
      );
      expect(state, role).toBe("42501");
    }
    expect(await sqlState(() => db.authenticator.query("select * from app_private.realtime_events"))).toBe("42501");
    expect(
      await sqlState(() =>
        db.authenticator.query(
          "insert into app_private.realtime_events (kind, user_id) values ('deactivated', gen_random_uuid())",
        ),
      ),
    ).toBe("42501");
    expect(await sqlState(() => analyst.current.client.query("select * from app_private.realtime_events"))).toBe(
      "42501",
    );
    expect(
      await sqlState(() => analyst.current.client.query("select * from app_private.realtime_events_by_id('{1}')")),
    ).toBe("42501");
    expect(
      await sqlState(() =>
        commitAs(db.authenticator, { role: "ticketing_admin" }, (c) =>
          c.query("select * from app_private.realtime_events_by_id('{1}')"),
        ),
      ),
    ).toBe("42501");
  });

  it("are read by id by the authenticator only while fresh, at most 500 at a time", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Fresh Customer", "customer");
    const ticketId = await createTicket(db, customer, "Fresh ticket");
    const [row] = await eventRows("ticket_id = $1", [ticketId]);
    const read = async (ids: unknown[]) =>
      (
        await db.authenticator.query<{ id: string }>("select id from app_private.realtime_events_by_id($1::bigint[])", [
          ids,
        ])
      ).rows;

    expect(await read([row!.id, 0, -5, "9223372036854775807"])).toEqual([{ id: row!.id }]);
    // A replay of an old id finds nothing.
    await db.owner.query(
      "update app_private.realtime_events set occurred_at = occurred_at - interval '3 minutes' where id = $1",
      [row!.id],
    );
    expect(await read([row!.id])).toEqual([]);

    const { rows: recent } = await db.owner.query<{ id: string }>(
      "select id from app_private.realtime_events where occurred_at > now() - interval '1 minute'",
    );
    expect(recent.length).toBeGreaterThan(0);
    expect(await read(recent.map((r) => r.id))).toHaveLength(recent.length);
    const padded = [...Array.from({ length: 500 }, (_, i) => -i - 1), ...recent.map((r) => r.id)];
    expect(await read(padded)).toEqual([]);
  });

  it("are kept a week (the event log), then pruned a bounded number at a time", async () => {
    const db = database.current;
    await db.owner.query(
      `insert into app_private.realtime_events (kind, user_id, occurred_at)
       select 'deactivated', gen_random_uuid(), now() - interval '8 days' from generate_series(1, 30)`,
    );
    // A day old: kept.
    await db.owner.query(
      `insert into app_private.realtime_events (kind, user_id, occurred_at)
       select 'deactivated', gen_random_uuid(), now() - interval '1 day' from generate_series(1, 5)`,
    );
    const before = Number((await db.owner.query("select count(*) from app_private.realtime_events")).rows[0].count);
    const { rows } = await db.owner.query<{ pruned: number }>("select app_private.prune_realtime_events(20) as pruned");
    expect(rows[0]!.pruned).toBe(20);
    expect(Number((await db.owner.query("select app_private.prune_realtime_events() as n")).rows[0].n)).toBe(10);
    const after = Number((await db.owner.query("select count(*) from app_private.realtime_events")).rows[0].count);
    expect(before - after).toBe(30);
  });
});
