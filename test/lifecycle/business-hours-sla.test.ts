import { beforeAll, describe, expect, it } from "vitest";
import { actAs, useTestDatabase } from "../support/test-database.ts";
import {
  activeUser,
  actorOf,
  commentAs,
  type FixtureUser,
  fileTicketAs,
  transitionAs,
  assignAs,
} from "../support/fixtures.ts";

/**
 * SLA due times on business hours, through the real tickets, history and
 * triggers: the worked example of docs/business-hours.md step by step, stored
 * due times that always equal a recomputation from the status history, and
 * calendar edits that move the due times of unfinished tickets.
 */
const database = useTestDatabase();
let berlin: string;
let customer: FixtureUser;
let agent: FixtureUser;
let admin: FixtureUser;

async function one<T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await database.current.owner.query(sql, params);
  return rows[0] as T;
}

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await activeUser(owner, "Hours Customer", "customer");
  agent = await activeUser(owner, "Hours Agent", "agent");
  admin = await activeUser(owner, "Hours Admin", "admin");
  // Europe/Berlin, Monday to Friday 09:00-17:00, Whit Monday 2026 a holiday.
  berlin = (
    await one<{ id: string }>(
      "insert into app_public.business_calendars (name, time_zone) values ('Berlin office', 'Europe/Berlin') returning id",
    )
  ).id;
  const version = await one<{ id: string }>(
    "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '2026-01-01') returning id",
    [berlin],
  );
  await owner.query(
    `insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at)
     select $1, d, '09:00', '17:00' from generate_series(1, 5) as d`,
    [version.id],
  );
  await owner.query(
    "insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name) values ($1, '2026-05-25', 'Whit Monday')",
    [berlin],
  );
  // Normal priority: first reply within 2 business hours, resolution within 2 business days.
  await owner.query(
    "update app_public.sla_policies set calendar_id = $1, first_response_minutes = 120, resolution_minutes = 960 where priority = 'normal'",
    [berlin],
  );
});

describe("the worked example (docs/business-hours.md)", () => {
  it("Friday 16:30 in Berlin, waiting on the customer over the weekend and the holiday", async () => {
    const owner = database.current.owner;
    // 1. Created Friday 22 May 2026 at 16:30 CEST (14:30 UTC); the agent
    //    starts at 16:40 and replies publicly at 16:45. (Rows put straight
    //    into the past: the history below is what the triggers would write.)
    const ticket = await one<{ id: string; first_response_due_at: Date; resolution_due_at: Date }>(
      `insert into app_public.tickets (subject, customer_id, agent_id, status, priority, created_at, updated_at, first_responded_at)
       values ('Invoice export fails', $1, $2, 'open', 'normal', '2026-05-22T14:30:00Z', '2026-05-22T14:30:00Z', '2026-05-22T14:45:00Z')
       returning id, first_response_due_at, resolution_due_at`,
      [customer.id, agent.id],
    );
    // 30 business minutes on Friday (16:30-17:00); the 90 left start on
    // Tuesday, as Saturday, Sunday and Whit Monday are closed: 10:30 CEST.
    expect(ticket.first_response_due_at).toEqual(new Date("2026-05-26T08:30:00Z"));
    // 960: 30 on Friday, 480 on Tuesday, 450 on Wednesday until 16:30 CEST.
    expect(ticket.resolution_due_at).toEqual(new Date("2026-05-27T14:30:00Z"));

    // 2. In progress at 16:40, waiting on the customer at 16:50; the customer
    //    answers on Tuesday at 11:00 CEST (09:00 UTC) and it is in progress again.
    await owner.query(
      `insert into app_public.ticket_status_history (ticket_id, from_status, to_status, changed_at)
       values ($1, 'open', 'in_progress', '2026-05-22T14:40:00Z'),
              ($1, 'in_progress', 'waiting_on_customer', '2026-05-22T14:50:00Z'),
              ($1, 'waiting_on_customer', 'in_progress', '2026-05-26T09:00:00Z')`,
      [ticket.id],
    );
    // The ticket row follows its history (status_changed_at unknown: read from the history).
    await owner.query(
      "alter table app_public.tickets disable trigger _250_sla_due_times_update; alter table app_public.tickets disable trigger _800_status_history_update",
    );
    try {
      await owner.query(
        "update app_public.tickets set status = 'in_progress', status_changed_at = null where id = $1",
        [ticket.id],
      );
    } finally {
      await owner.query(
        "alter table app_public.tickets enable trigger _250_sla_due_times_update; alter table app_public.tickets enable trigger _800_status_history_update",
      );
    }

    // 3. Recompute from the history, as a calendar edit would.
    await owner.query("select app_private.recompute_sla_due_times(array[$1::uuid])", [berlin]);
    const after = await one(
      `select first_response_due_at, resolution_due_at,
              app_private.sla_elapsed_minutes($2, app_private.ticket_sla_active_time(id, created_at, status, status_changed_at, 'resolution', null), '2026-05-26T15:00:00Z')::integer as resolution_elapsed_tuesday_evening,
              app_public.business_minutes_between($2, '2026-05-22T14:50:00Z', '2026-05-26T09:00:00Z')::integer as paused_business_minutes
         from app_public.tickets where id = $1`,
      [ticket.id, berlin],
    );
    // The reply (16:45 Friday) came in time; its due time stays 10:30 Tuesday.
    expect(after.first_response_due_at).toEqual(new Date("2026-05-26T08:30:00Z"));
    // Resolution: 20 minutes ran on Friday (16:30-16:50); the pause hid 130
    // business minutes (Friday 16:50-17:00, Tuesday 09:00-11:00); from 11:00
    // Tuesday 940 remain: 360 on Tuesday, 480 on Wednesday, 100 on Thursday:
    // 10:40 CEST.
    expect(after.paused_business_minutes).toBe(130);
    expect(after.resolution_elapsed_tuesday_evening).toBe(20 + 360);
    expect(after.resolution_due_at).toEqual(new Date("2026-05-28T08:40:00Z"));

    // 4. At risk from Wednesday 14:40 CEST: 240 business minutes (a quarter
    //    of 960) left until the due time, 140 on Wednesday and 100 on Thursday.
    const risk = await one(
      `select app_public.business_minutes_between($1, '2026-05-27T12:40:00Z', '2026-05-28T08:40:00Z')::integer as left_at_risk,
              app_public.add_business_minutes($1, '2026-05-27T12:40:00Z', 240) as due`,
      [berlin],
    );
    expect(risk).toEqual({ left_at_risk: 240, due: new Date("2026-05-28T08:40:00Z") });
  });
});

describe("stored due times", () => {
  it("follow every status change and always equal a recomputation from the history", async () => {
    const api = database.current.authenticator;
    // High priority stays on the 24x7 calendar: 120 / 1440 minutes.
    const id = await fileTicketAs(api, customer, "VPN drops", undefined, "high");
    const read = () =>
      one<{
        first_response_due_at: Date | null;
        resolution_due_at: Date | null;
        created_at: Date;
        status_changed_at: Date;
      }>(
        "select first_response_due_at, resolution_due_at, created_at, status_changed_at from app_public.tickets where id = $1",
        [id],
      );
    const created = await read();
    expect(created.resolution_due_at!.getTime() - created.created_at.getTime()).toBe(1440 * 60_000);
    expect(created.status_changed_at).toEqual(created.created_at);

    await assignAs(api, admin, id, agent.id);
    await transitionAs(api, agent, id, "in_progress");
    await transitionAs(api, agent, id, "waiting_on_customer");
    // Paused short of its targets: no due time while the clock stands still.
    const waiting = await read();
    expect(waiting).toMatchObject({ first_response_due_at: null, resolution_due_at: null });
    const left = await actAs(api, actorOf(customer), async (client) => {
      const { rows } = await client.query(
        `select app_public.tickets_resolution_business_minutes_left(t) as left, app_public.tickets_resolution_at_risk(t) as at_risk,
                app_public.tickets_resolution_breached(t) as breached
           from app_public.tickets as t where t.id = $1`,
        [id],
      );
      return rows[0];
    });
    expect(left.left).toBeGreaterThan(1430);
    expect(left).toMatchObject({ at_risk: false, breached: false });

    // The customer answers: the clock runs again, later by the time it waited.
    await commentAs(api, customer, id, "Here are the logs");
    const resumed = await read();
    expect(resumed.status_changed_at.getTime()).toBeGreaterThan(waiting.status_changed_at.getTime());
    const waited = resumed.status_changed_at.getTime() - waiting.status_changed_at.getTime();
    // (JavaScript dates keep milliseconds, the database microseconds.)
    expect(
      Math.abs(resumed.resolution_due_at!.getTime() - (created.resolution_due_at!.getTime() + waited)),
    ).toBeLessThanOrEqual(1);

    await commentAs(api, agent, id, "Fixed the MTU");
    await transitionAs(api, agent, id, "resolved");
    const resolved = await read();
    // Resolved: the due time it was judged by stays.
    expect(resolved.resolution_due_at).toEqual(resumed.resolution_due_at);

    // The history explains every stored due time: recomputing changes nothing.
    const { rows } = await database.current.owner.query(
      `select t.first_response_due_at = app_private.sla_due_at(p.calendar_id, p.first_response_minutes,
                app_private.ticket_sla_active_time(t.id, t.created_at, t.status, t.status_changed_at, 'first_response', t.first_responded_at))
                as first_response_agrees,
              t.resolution_due_at = app_private.sla_due_at(p.calendar_id, p.resolution_minutes,
                app_private.ticket_sla_active_time(t.id, t.created_at, t.status, t.status_changed_at, 'resolution', null))
                as resolution_agrees
         from app_public.tickets as t join app_public.sla_policies as p on p.priority = t.priority
        where t.id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({ first_response_agrees: true, resolution_agrees: true });
    expect((await one("select app_private.recompute_sla_due_times() as changed")).changed).toBe(0);
  });

  it("are recomputed set-based exactly as one by one, across a clock change", async () => {
    const owner = database.current.owner;
    // Sixty open tickets on the Berlin calendar (normal priority) created at
    // odd instants around the March 2026 clock change; each got its due
    // times one by one from the insert trigger.
    await owner.query(
      `insert into app_public.tickets (subject, customer_id, status, priority, created_at, updated_at)
       select 'Around the clock change ' || g, $1, 'open', 'normal', at, at
         from generate_series(1, 60) as g,
              lateral (select timestamptz '2026-03-20T00:00:00Z' + g * interval '6 hours 7 minutes 13.5 seconds' as at) as x`,
      [customer.id],
    );
    // The set-based recomputation (one pass over the calendar) finds the same instants.
    expect(
      (await one("select app_private.recompute_sla_due_times(array[$1::uuid]) as changed", [berlin])).changed,
    ).toBe(0);
    // And it corrects a due time that is wrong.
    await owner.query(
      "update app_public.tickets set resolution_due_at = resolution_due_at + interval '1 second' where subject = 'Around the clock change 7'",
    );
    expect(
      (await one("select app_private.recompute_sla_due_times(array[$1::uuid]) as changed", [berlin])).changed,
    ).toBe(1);
  });

  it("move with a calendar edit, for unfinished tickets only, in one statement", async () => {
    const api = database.current.authenticator;
    const owner = database.current.owner;
    const open = await fileTicketAs(api, customer, "Open on the Berlin calendar");
    const done = await fileTicketAs(api, customer, "Finished on the Berlin calendar");
    await assignAs(api, admin, done, agent.id);
    await transitionAs(api, agent, done, "in_progress");
    await transitionAs(api, agent, done, "resolved");
    const before = await owner.query(
      "select id, resolution_due_at from app_public.tickets where id = any ($1) order by id",
      [[open, done]],
    );
    const due = before.rows.find((row) => row.id === open).resolution_due_at as Date;
    // Close the office on the day the open ticket is due: it moves to a later day.
    const { rows: day } = await owner.query(
      "select ($1::timestamptz at time zone 'Europe/Berlin')::date::text as day",
      [due],
    );
    // An admin may (rolled back here); the owner writes it for good.
    await actAs(api, actorOf(admin), (client) =>
      client.query(
        "insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name) values ($1, $2, 'Closed')",
        [berlin, day[0].day],
      ),
    );
    await owner.query(
      "insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name) values ($1, $2, 'Closed')",
      [berlin, day[0].day],
    );
    const after = await owner.query(
      "select id, resolution_due_at from app_public.tickets where id = any ($1) order by id",
      [[open, done]],
    );
    const moved = after.rows.find((row) => row.id === open).resolution_due_at as Date;
    expect(moved.getTime()).toBeGreaterThan(due.getTime());
    expect(after.rows.find((row) => row.id === done).resolution_due_at).toEqual(
      before.rows.find((row) => row.id === done).resolution_due_at,
    );
    expect((await one("select app_private.recompute_sla_due_times() as changed")).changed).toBe(0);
  });

  it("keep a paused clock's business seconds left and add them on resume, equal to the full computation at every step", async () => {
    const api = database.current.authenticator;
    const owner = database.current.owner;
    // Twelve tickets in progress, created up to five days ago: normal on the
    // Berlin calendar (a target may already be reached), high on 24x7.
    const { rows: made } = await owner.query<{ id: string }>(
      `insert into app_public.tickets (subject, customer_id, agent_id, status, priority, created_at, updated_at)
       select 'Paused and resumed ' || g, $1, $2, 'in_progress', case when g % 2 = 0 then 'normal' else 'high' end::app_public.ticket_priority,
              now() - g * interval '9 hours 17 minutes', now() - g * interval '9 hours 17 minutes'
         from generate_series(1, 12) as g
       returning id`,
      [customer.id, agent.id],
    );
    const ids = made.map((row) => row.id);
    // Stored due times and seconds left against the full computation from the history.
    const check = async () => {
      const { rows } = await owner.query(
        `select t.id,
                t.first_response_due_at is not distinct from fr.due_at
                  and t.first_response_paused_seconds_left is not distinct from fr.paused_seconds_left as first_response_agrees,
                t.resolution_due_at is not distinct from rs.due_at
                  and t.resolution_paused_seconds_left is not distinct from rs.paused_seconds_left as resolution_agrees,
                t.resolution_paused_seconds_left is not null as kept
           from app_public.tickets as t
           join app_public.sla_policies as p on p.priority = t.priority
           cross join lateral app_private.sla_clock_state(p.calendar_id, p.first_response_minutes,
             app_private.ticket_sla_active_time(t.id, t.created_at, t.status, t.status_changed_at, 'first_response', t.first_responded_at)) as fr
           cross join lateral app_private.sla_clock_state(p.calendar_id, p.resolution_minutes,
             app_private.ticket_sla_active_time(t.id, t.created_at, t.status, t.status_changed_at, 'resolution', null)) as rs
          where t.id = any ($1)`,
        [ids],
      );
      expect(rows.filter((row) => !row.first_response_agrees || !row.resolution_agrees)).toEqual([]);
      return rows.filter((row) => row.kept).length;
    };
    const moveAll = async (to: "waiting_on_customer" | "in_progress" | "resolved", which = ids) => {
      for (const id of which) await transitionAs(api, agent, id, to);
    };

    expect(await check()).toBe(0);
    for (let round = 0; round < 3; round++) {
      await moveAll("waiting_on_customer");
      // Paused short of its target, the seconds left are kept: at least the
      // first ticket's (24x7, 9 h 17 min of its 24 h used).
      expect(await check()).toBeGreaterThan(0);
      await moveAll("in_progress");
      expect(await check()).toBe(0);
    }
    // Paused, then: a priority change (computed in full), holidays on the
    // last three days (business time already used shrinks: the set-based
    // recomputation) and a resolution straight from the pause.
    await moveAll("waiting_on_customer");
    await owner.query("update app_public.tickets set priority = 'urgent' where id = $1", [ids[4]]);
    await owner.query(
      `insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name)
       select $1, (now() at time zone 'Europe/Berlin')::date - d, 'Paused clocks closure' from generate_series(1, 3) as d`,
      [berlin],
    );
    await check();
    await moveAll("resolved", ids.slice(0, 4));
    await moveAll("in_progress", ids.slice(4));
    expect(await check()).toBe(0);
    // Reopened: the first ticket was resolved in time (24x7, 9 h 17 min of
    // 24 h), so its clock runs again from the history.
    await moveAll("in_progress", ids.slice(0, 2));
    expect(await check()).toBe(0);
    expect((await one("select app_private.recompute_sla_due_times() as changed")).changed).toBe(0);
  });
});

describe("a calendar closed from a date on", () => {
  /**
   * Its latest version has no opening hours: no due time after that date is
   * ever reached. The computation on the fly stops at the closure instead of
   * walking 50 years of windows; counted in calls of business_spans (one per
   * window) in the transaction, not in time.
   */
  it("answers null at once for a target past the closure, and the same due time before it", async () => {
    const owner = database.current.owner;
    const closing = (
      await one<{ id: string }>(
        "insert into app_public.business_calendars (name, time_zone) values ('Closing office', 'Europe/Berlin') returning id",
      )
    ).id;
    const open = await one<{ id: string }>(
      "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '2026-01-01') returning id",
      [closing],
    );
    await owner.query(
      "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) select $1, d, '09:00', '17:00' from generate_series(1, 5) as d",
      [open.id],
    );
    await owner.query(
      "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '2026-08-20')",
      [closing],
    );
    const never = (
      await one<{ id: string }>(
        "insert into app_public.business_calendars (name, time_zone) values ('Never open', 'UTC') returning id",
      )
    ).id;

    const client = await database.current.root.connect();
    try {
      await client.query("begin");
      await client.query("set local track_functions = 'pl'");
      const { rows } = await client.query(
        `select app_public.add_business_minutes($1, '2026-08-10T07:00:00Z', 600) as reached,
                app_public.add_business_minutes($1, '2026-08-10T07:00:00Z', 10000) as past_closure,
                app_public.add_business_minutes($1, '2026-09-01T07:00:00Z', 60) as after_closure,
                app_public.add_business_minutes($2, '2026-08-10T07:00:00Z', 60) as no_version`,
        [closing, never],
      );
      // Monday 10 August 09:00 in Berlin: 8 hours that day, 2 the next. Eight working days before the closure hold 3 840 minutes.
      expect(rows[0]).toEqual({
        reached: new Date("2026-08-11T09:00:00Z"),
        past_closure: null,
        after_closure: null,
        no_version: null,
      });
      const { rows: calls } = await client.query(
        "select coalesce(pg_stat_get_xact_function_calls('app_private.business_spans(uuid, timestamptz, timestamptz)'::regprocedure), 0)::int as n",
      );
      // One window reaches past the closure; walking 50 years, the three nulls took 151.
      expect(calls[0].n).toBeLessThanOrEqual(2);
      await client.query("rollback");
    } finally {
      client.release();
    }
  });
});

describe("the SLA's own business-time questions", () => {
  it("are not bounded like a caller's: elapsed business time over 12 years of a ticket's life", async () => {
    // A caller's businessMinutesBetween refuses more than 10 years; the SLA's computations must not fail on old data.
    await expect(
      one("select app_public.business_minutes_between($1, '2014-01-01', '2026-01-01')", [berlin]),
    ).rejects.toThrow("Business minutes are counted over at most 10 years");
    const { minutes } = await one<{ minutes: string }>(
      "select app_private.sla_elapsed_minutes($1, tstzmultirange(tstzrange('2014-01-01', '2026-01-01')), '2026-01-01')::text as minutes",
      [berlin],
    );
    // Berlin has hours from 2026 on only: nothing before, and no error.
    expect(minutes).toBe("0");
  });
});
