import { expect, it } from "vitest";
import { activeUser, commentBy, ticketIn } from "../support/fixtures.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { useAnalystSession } from "./analyst-session.ts";

/** The analysts' change feed: the event log's ticket events, read incrementally, without content. */
const database = useTestDatabase();
const analyst = useAnalystSession(database);

it("gives analysts the ticket events after their cursor, in order, ids and kinds only", async () => {
  const owner = database.current.owner;
  const customer = await activeUser(owner, "Feed Customer", "customer");
  const agent = await activeUser(owner, "Feed Agent", "agent");
  const client = analyst.current.client;
  const { rows: start } = await client.query<{ cursor: string }>(
    "select coalesce(max(event_id), 0)::text as cursor from app_reporting.ticket_events",
  );
  const ticket = await ticketIn(owner, customer.id, "open");
  await commentBy(owner, ticket, agent.id, "SECRET-REPLY-TEXT", true);
  await owner.query("update app_public.users set is_active = false where id = $1", [customer.id]);

  const { rows } = await client.query(
    "select * from app_reporting.ticket_events where event_id > $1 order by event_id",
    [start[0]!.cursor],
  );
  expect(rows.map((row) => [row.kind, row.ticket_id])).toEqual([
    ["created", ticket],
    ["commented", ticket],
  ]);
  expect(Object.keys(rows[0]!).sort()).toEqual([
    "agent_id",
    "customer_id",
    "event_id",
    "kind",
    "occurred_at",
    "ticket_id",
  ]);
  expect(JSON.stringify(rows)).not.toContain("SECRET-REPLY-TEXT");
  // The log itself stays out of reach.
  const direct = await client.query("select count(*) from app_private.realtime_events").then(
    () => "read",
    (error: { code?: string }) => error.code,
  );
  expect(direct).toBe("42501");
});
