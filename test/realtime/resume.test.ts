import { beforeAll, describe, expect, it } from "vitest";
import { cursorOf } from "../../src/graphql/realtime-cursor.ts";
import { DEFAULT_WEBSOCKET_LIMITS } from "../../src/graphql/realtime-socket.ts";
import { useAnalystSession } from "../reporting/analyst-session.ts";
import { makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import { useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  createTicket,
  MY_QUEUE_AFTER,
  MY_TICKETS,
  MY_TICKETS_AFTER,
  sleep,
  TICKET_CHANGED_AFTER,
  useSockets,
} from "./realtime-helpers.ts";

/**
 * Resuming a subscription with `after: <cursor>`: the events missed while
 * disconnected are replayed in order (only those the subscriber may see now),
 * then SUBSCRIBED, then live events, with nothing lost or repeated; cursors
 * that cannot be resumed from are refused with CURSOR_EXPIRED.
 */
const MAX_SUBSCRIPTIONS_PER_USER = 3;
const database = useTestDatabase();
const analyst = useAnalystSession(database);
const api = useTestApi(database, {
  websocketLimits: { ...DEFAULT_WEBSOCKET_LIMITS, maxSubscriptionsPerUser: MAX_SUBSCRIPTIONS_PER_USER },
});
const QUIET_MS = 1_500;

let admin: string;
const sockets = useSockets(api);

beforeAll(async () => {
  admin = await makeUser(database.current.owner, "Resume Admin", "admin");
});

async function comment(
  role: keyof typeof ROLE,
  userId: string,
  ticketId: string,
  body: string,
  internal = false,
): Promise<void> {
  rowsOf(
    await runAs(database.current.authenticator, ROLE[role], userId, "select app_public.add_comment($1, $2, $3)", [
      ticketId,
      body,
      internal,
    ]),
  );
}

describe("resuming with after", () => {
  it("replays the 50 visible changes made while away, in order, none invisible, then continues live", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Returning Customer", "customer");
    const other = await makeUser(db.owner, "Other Customer", "customer");
    const mine = await createTicket(db, customer, "Laptop will not boot");
    const theirs = await createTicket(db, other, "Someone else's printer");

    const first = sockets.subscribe(customer, "customer", MY_TICKETS);
    await first.ready();
    expect(first.kinds()).toEqual(["SUBSCRIBED"]);
    const cursor = first.events[0]!.cursor;
    first.unsubscribe();

    // Away: 50 changes the customer may see, and 20 they may not (internal notes, another customer's ticket).
    const expected: string[] = [];
    for (let index = 0; index < 50; index++) {
      if (index % 5 === 0) await comment("admin", admin, mine, `internal ${index}`, true);
      if (index % 5 === 1) await comment("customer", other, theirs, `other ${index}`);
      await comment("customer", customer, mine, `visible ${index}`);
      expected.push(`visible ${index}`);
    }

    const back = sockets.subscribe(customer, "customer", MY_TICKETS_AFTER, { after: cursor });
    await back.live();
    expect(back.errors).toEqual([]);
    expect(back.kinds()).toEqual([...expected.map(() => "COMMENTED"), "SUBSCRIBED"]);
    expect(back.events.slice(0, 50).map((event) => event.comment?.body)).toEqual(expected);
    expect(back.events.every((event) => event.ticketId === mine || event.kind === "SUBSCRIBED")).toBe(true);
    expect(JSON.stringify(back.events)).not.toMatch(/internal|other \d/);
    // Each replayed event has its own cursor, none the one resumed from; SUBSCRIBED's is the newest event's.
    const replayed = back.events.slice(0, 50).map((event) => event.cursor);
    expect(new Set(replayed).size).toBe(50);
    expect(replayed).not.toContain(cursor);
    expect(back.events[50]?.cursor).toBe(replayed[49]);

    // Live again: the next change arrives after SUBSCRIBED, once.
    await comment("customer", customer, mine, "live again");
    await back.untilCount(52);
    await sleep(QUIET_MS);
    expect(back.kinds().slice(50)).toEqual(["SUBSCRIBED", "COMMENTED"]);
    expect(back.events[51]?.comment?.body).toBe("live again");

    // Resuming from a replayed event's cursor delivers only what followed it.
    const middle = sockets.subscribe(customer, "customer", MY_TICKETS_AFTER, { after: back.events[39]!.cursor });
    await middle.live();
    expect(middle.events.slice(0, -1).map((event) => event.comment?.body)).toEqual([
      ...expected.slice(40),
      "live again",
    ]);
  });

  it("replays nothing of a ticket the subscriber may not see", async () => {
    const db = database.current;
    const owner = await makeUser(db.owner, "Ticket Owner", "customer");
    const snoop = await makeUser(db.owner, "Ticket Snoop", "customer");
    const ticketId = await createTicket(db, owner, "Private matter");
    const start = sockets.subscribe(snoop, "customer", TICKET_CHANGED_AFTER, { id: ticketId });
    await start.ready();
    const cursor = start.events[0]!.cursor;
    start.unsubscribe();

    await comment("customer", owner, ticketId, "my secret");
    await comment("customer", owner, ticketId, "another secret");

    const resumed = sockets.subscribe(snoop, "customer", TICKET_CHANGED_AFTER, { id: ticketId, after: cursor });
    await resumed.live();
    await sleep(QUIET_MS);
    expect(resumed.kinds()).toEqual(["SUBSCRIBED"]);
    expect(resumed.errors).toEqual([]);
  });

  it("replays an agent's queue under the agent's current rights", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Queue Customer", "customer");
    const agent = await makeUser(db.owner, "Queue Agent", "agent");
    const start = sockets.subscribe(agent, "agent", MY_QUEUE_AFTER);
    await start.ready();
    const cursor = start.events[0]!.cursor;
    start.unsubscribe();

    const ticketId = await createTicket(db, customer, "Cannot log in");
    rowsOf(
      await runAs(db.authenticator, ROLE.admin, admin, "select app_public.assign_ticket($1, $2)", [ticketId, agent]),
    );
    await comment("agent", agent, ticketId, "Looking into it", true);

    const resumed = sockets.subscribe(agent, "agent", MY_QUEUE_AFTER, { after: cursor });
    await resumed.live();
    expect(resumed.kinds()).toEqual(["CREATED", "ASSIGNED", "COMMENTED", "SUBSCRIBED"]);
    expect(resumed.events[2]?.comment).toMatchObject({ body: "Looking into it", isInternal: true });
  });
});

describe("cursors that cannot be resumed from", () => {
  async function refusal(userId: string, after: string): Promise<unknown[]> {
    const recorder = sockets.subscribe(userId, "customer", MY_TICKETS_AFTER, { after });
    await recorder.live();
    expect(recorder.events).toEqual([]);
    return recorder.errors;
  }

  it("refuses garbage, unknown and forged cursors with CURSOR_EXPIRED", async () => {
    const customer = await makeUser(database.current.owner, "Garbage Customer", "customer");
    const { rows } = await database.current.owner.query<{ id: string }>(
      "select coalesce(max(id), 0)::text as id from app_private.realtime_events",
    );
    for (const after of [
      "garbage",
      "",
      "ZXZlbnQ6LTE=",
      Buffer.from("event:1e3").toString("base64"),
      cursorOf(String(BigInt(rows[0]!.id) + 1_000n)),
    ]) {
      expect(await refusal(customer, after), after).toMatchObject([{ extensions: { code: "CURSOR_EXPIRED" } }]);
    }
  });

  it("refuses a cursor older than a day", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Away Customer", "customer");
    const ticketId = await createTicket(db, customer, "Old news");
    const start = sockets.subscribe(customer, "customer", MY_TICKETS);
    await start.ready();
    const cursor = start.events[0]!.cursor;
    start.unsubscribe();
    await comment("customer", customer, ticketId, "long ago");
    // The change was made 25 hours ago, as far as the log knows.
    await db.owner.query(
      "update app_private.realtime_events set occurred_at = occurred_at - interval '25 hours' where ticket_id = $1 and kind = 'commented'",
      [ticketId],
    );

    expect(await refusal(customer, cursor)).toMatchObject([{ extensions: { code: "CURSOR_EXPIRED" } }]);
  });

  it("refuses a replay of more than 500 events, so the client reloads instead", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Busy Customer", "customer");
    const ticketId = await createTicket(db, customer, "Very busy ticket");
    const start = sockets.subscribe(customer, "customer", MY_TICKETS);
    await start.ready();
    const cursor = start.events[0]!.cursor;
    start.unsubscribe();
    await db.owner.query(
      "insert into app_private.realtime_events (kind, ticket_id, customer_id) select 'updated', $1, $2 from generate_series(1, 501)",
      [ticketId, customer],
    );

    expect(await refusal(customer, cursor)).toMatchObject([{ extensions: { code: "CURSOR_EXPIRED" } }]);
    // 500 is still replayed: resume from the first inserted one.
    const { rows } = await db.owner.query<{ id: string }>(
      "select min(id)::text as id from app_private.realtime_events where ticket_id = $1 and kind = 'updated'",
      [ticketId],
    );
    const resumed = sockets.subscribe(customer, "customer", MY_TICKETS_AFTER, { after: cursorOf(rows[0]!.id) });
    // 500 replayed events, each run through the subscription's selection: seconds on a loaded machine.
    await resumed.live(25_000);
    expect(resumed.errors).toEqual([]);
    expect(resumed.kinds().filter((kind) => kind === "UPDATED")).toHaveLength(500);
  });
});

describe("limits that still apply", () => {
  it("counts resumed subscriptions against the per-user cap", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Capped Customer", "customer");
    const start = sockets.subscribe(customer, "customer", MY_TICKETS);
    await start.ready();
    const cursor = start.events[0]!.cursor;

    const resumed = Array.from({ length: MAX_SUBSCRIPTIONS_PER_USER - 1 }, () =>
      sockets.subscribe(customer, "customer", MY_TICKETS_AFTER, { after: cursor }),
    );
    await Promise.all(resumed.map((recorder) => recorder.live()));
    expect(resumed.map((recorder) => recorder.errors)).toEqual(resumed.map(() => []));
    const extra = sockets.subscribe(customer, "customer", MY_TICKETS_AFTER, { after: cursor });
    await extra.live();
    expect(extra.errors).toMatchObject([{ extensions: { code: "TOO_MANY_SUBSCRIPTIONS" } }]);
  });

  it("a forged NOTIFY of an old event id delivers nothing to a resumed subscription", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Forged Customer", "customer");
    const ticketId = await createTicket(db, customer, "Forgery target");
    const start = sockets.subscribe(customer, "customer", MY_TICKETS);
    await start.ready();
    const cursor = start.events[0]!.cursor;
    start.unsubscribe();
    await comment("customer", customer, ticketId, "while away");
    const { rows } = await db.owner.query<{ id: string }>(
      "select id::text from app_private.realtime_events where ticket_id = $1 order by id desc limit 1",
      [ticketId],
    );

    const resumed = sockets.subscribe(customer, "customer", MY_TICKETS_AFTER, { after: cursor });
    await resumed.live();
    expect(resumed.kinds()).toEqual(["COMMENTED", "SUBSCRIBED"]);
    // The analyst replays the id of the event just replayed, and invents others.
    const { client } = analyst.current;
    await client.query("begin read write");
    for (const payload of [rows[0]!.id, String(BigInt(rows[0]!.id) + 1_000n), "1", cursor]) {
      await client.query("select pg_notify('ticketing_events', $1)", [payload]);
    }
    await client.query("commit");
    await sleep(QUIET_MS);
    expect(resumed.kinds()).toEqual(["COMMENTED", "SUBSCRIBED"]);
  });
});
