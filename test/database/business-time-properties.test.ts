import { beforeAll, describe, expect, it } from "vitest";
import {
  isBusinessMinute,
  type OracleCalendar,
  type OracleHoliday,
  type OracleHours,
  oracleAddMinutes,
  oracleMinutesBetween,
} from "../support/business-time-oracle.ts";
import { seededRandom } from "../support/seeded-random.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * Property tests: app_public.business_minutes_between, app_public.add_business_minutes
 * and the SLA clock (app_private.sla_active_time, sla_due_at, sla_elapsed_minutes)
 * agree with a minute-by-minute model (test/support/business-time-oracle.ts) over
 * random calendars in zones with daylight saving changes (including a half-hour
 * one and one at midnight), overnight intervals, partial holidays, calendar
 * versions and random status histories. Fixed seed; many cases per SQL round trip.
 */
const database = useTestDatabase();
const random = seededRandom(20261130);
const MINUTE = 60_000;
const DAY = 86_400_000;

const ZONES = [
  "Europe/Berlin",
  "America/New_York",
  "Australia/Lord_Howe",
  "America/Santiago",
  "Asia/Kolkata",
  "Pacific/Chatham",
  "UTC",
];

// Instants near the 2026 daylight saving changes of those zones, and ordinary days.
const ANCHORS = [
  "2026-03-08T06:00:00Z",
  "2026-03-29T00:30:00Z",
  "2026-04-04T14:00:00Z",
  "2026-04-05T02:00:00Z",
  "2026-09-05T23:00:00Z",
  "2026-09-26T13:00:00Z",
  "2026-10-03T15:00:00Z",
  "2026-10-25T00:30:00Z",
  "2026-11-01T05:30:00Z",
  "2026-06-15T12:00:00Z",
  "2026-12-24T08:00:00Z",
].map((iso) => Date.parse(iso));

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function integer(min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function isoDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

function clock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** Non-overlapping weekly intervals: cut points around the week, paired, some overnight. */
function randomHours(): OracleHours[] {
  if (random() < 0.1) {
    return [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: 0, end: 1440 }));
  }
  const count = integer(3, 12);
  const shift = integer(0, 335) * 30;
  const points = new Set<number>();
  while (points.size < count * 2) points.add(shift + integer(0, 335) * 30);
  const sorted = [...points].sort((a, b) => a - b);
  const hours: OracleHours[] = [];
  for (let i = 0; i < sorted.length; i += 2) {
    const a = sorted[i] as number;
    const b = Math.min(sorted[i + 1] as number, a + 1410);
    const startWeek = a % 10080;
    const weekday = Math.floor(startWeek / 1440) + 1;
    const start = startWeek % 1440;
    const endOfDay = start + (b - a);
    hours.push({ weekday, start, end: endOfDay <= 1440 ? endOfDay : endOfDay - 1440 });
  }
  return hours;
}

function randomCalendar(): OracleCalendar {
  const anchor = pick(ANCHORS);
  const versions = [{ effectiveFrom: random() < 0.7 ? null : "2026-01-01", hours: randomHours() }];
  if (random() < 0.5) versions.push({ effectiveFrom: isoDay(anchor + integer(-3, 3) * DAY), hours: randomHours() });
  const holidays: OracleHoliday[] = [];
  const days = new Set<string>();
  for (let i = integer(0, 6); i > 0; i--) {
    const date = isoDay(pick(ANCHORS) + integer(-4, 4) * DAY);
    if (days.has(date)) continue;
    days.add(date);
    if (random() < 0.5) holidays.push({ date });
    else {
      const start = integer(0, 46) * 30;
      holidays.push({ date, start, end: integer(start / 30 + 1, 48) * 30 });
    }
  }
  return { zone: pick(ZONES), versions, holidays };
}

const calendars: { id: string; model: OracleCalendar }[] = [];

beforeAll(async () => {
  const models = Array.from({ length: 40 }, () => randomCalendar());
  const input = models.map((model, i) => ({
    name: `random ${i}`,
    zone: model.zone,
    versions: model.versions.map((version) => ({
      effective_from: version.effectiveFrom,
      hours: version.hours.map((h) => ({ weekday: h.weekday, starts_at: clock(h.start), ends_at: clock(h.end) })),
    })),
    holidays: model.holidays.map((holiday) => ({
      holiday_date: holiday.date,
      starts_at: holiday.start === undefined ? null : clock(holiday.start),
      ends_at: holiday.end === undefined ? null : clock(holiday.end),
    })),
  }));
  // All 40 calendars in one statement: business time is rebuilt once per
  // table written, instead of once for each of the ~400 rows.
  const { rows } = await database.current.owner.query<{ id: string; name: string }>(
    `with input as (
       select * from jsonb_to_recordset($1) as c (name text, zone text, versions jsonb, holidays jsonb)
     ), new_calendars as (
       insert into app_public.business_calendars (name, time_zone)
       select name, zone from input
       returning id, name
     ), version_input as (
       select c.id as calendar_id, coalesce(v.effective_from, '-infinity') as effective_from, v.hours
         from new_calendars c
         join input i using (name)
        cross join jsonb_to_recordset(i.versions) as v (effective_from date, hours jsonb)
     ), new_versions as (
       insert into app_public.business_calendar_versions (calendar_id, effective_from)
       select calendar_id, effective_from from version_input
       returning id, calendar_id, effective_from
     ), new_hours as (
       insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at)
       select nv.id, h.weekday, h.starts_at::time, h.ends_at::time
         from new_versions nv
         join version_input vi using (calendar_id, effective_from)
        cross join jsonb_to_recordset(vi.hours) as h (weekday smallint, starts_at text, ends_at text)
     ), new_holidays as (
       insert into app_public.business_calendar_holidays (calendar_id, holiday_date, starts_at, ends_at)
       select c.id, d.holiday_date, d.starts_at::time, d.ends_at::time
         from new_calendars c
         join input i using (name)
        cross join jsonb_to_recordset(i.holidays) as d (holiday_date date, starts_at text, ends_at text)
     )
     select id, name from new_calendars`,
    [JSON.stringify(input)],
  );
  const idOf = new Map(rows.map((row) => [row.name, row.id]));
  models.forEach((model, i) => calendars.push({ id: idOf.get(`random ${i}`) as string, model }));
  const { rows: counts } = await database.current.owner.query(
    `select (select count(*)::int from app_public.business_calendar_hours h
               join app_public.business_calendar_versions v on v.id = h.version_id
               join app_public.business_calendars c on c.id = v.calendar_id
              where c.name like 'random %') as hours,
            (select count(*)::int from app_public.business_calendar_holidays h
               join app_public.business_calendars c on c.id = h.calendar_id
              where c.name like 'random %') as holidays`,
  );
  // Every row of the models was written.
  expect(counts[0]).toEqual({
    hours: models.reduce((n, m) => n + m.versions.reduce((k, v) => k + v.hours.length, 0), 0),
    holidays: models.reduce((n, m) => n + m.holidays.length, 0),
  });
});

function randomInstant(): number {
  return pick(ANCHORS) + integer(-3 * 1440, 2 * 1440) * MINUTE;
}

describe("business time against the minute-by-minute model", () => {
  it("counts the business minutes between two instants", { timeout: 120_000 }, async () => {
    const cases = Array.from({ length: 2000 }, (_, i) => {
      const calendar = pick(calendars);
      const from = randomInstant();
      const to = from + integer(0, 4 * 1440) * MINUTE;
      return { i, calendar, from, to };
    });
    const { rows } = await database.current.owner.query(
      `select c.i, app_public.business_minutes_between(c.calendar_id, c.from_at, c.to_at)::text as minutes,
              app_public.business_minutes_between(c.calendar_id, c.to_at, c.from_at)::text as backwards
         from jsonb_to_recordset($1) as c (i integer, calendar_id uuid, from_at timestamptz, to_at timestamptz)
        order by c.i`,
      [
        JSON.stringify(
          cases.map((c) => ({
            i: c.i,
            calendar_id: c.calendar.id,
            from_at: new Date(c.from).toISOString(),
            to_at: new Date(c.to).toISOString(),
          })),
        ),
      ],
    );
    const mismatches = cases
      .map((c) => ({
        c,
        sql: Number(rows[c.i].minutes),
        backwards: Number(rows[c.i].backwards),
        oracle: oracleMinutesBetween(c.calendar.model, c.from, c.to),
      }))
      .filter((m) => m.sql !== m.oracle || m.backwards !== -m.oracle);
    expect(mismatches.slice(0, 3).map(describeCase)).toEqual([]);
  });

  it("adds business minutes: the end of the N-th business minute", { timeout: 120_000 }, async () => {
    const cases = Array.from({ length: 1500 }, (_, i) => {
      const calendar = pick(calendars);
      const from = randomInstant() + integer(0, 59) * 1000 * (random() < 0.2 ? 1 : 0);
      return { i, calendar, from, minutes: random() < 0.05 ? 0 : integer(1, 1200) };
    });
    const { rows } = await database.current.owner.query(
      `select c.i, app_public.add_business_minutes(c.calendar_id, c.from_at, c.minutes) as due
         from jsonb_to_recordset($1) as c (i integer, calendar_id uuid, from_at timestamptz, minutes integer)
        order by c.i`,
      [
        JSON.stringify(
          cases.map((c) => ({
            i: c.i,
            calendar_id: c.calendar.id,
            from_at: new Date(c.from).toISOString(),
            minutes: c.minutes,
          })),
        ),
      ],
    );
    const mismatches = cases
      .map((c) => {
        const sql = rows[c.i].due === null ? null : (rows[c.i].due as Date).getTime();
        const oracle = oracleAddFractional(c.calendar.model, c.from, c.minutes, c.from + 400 * DAY);
        return { c, sql, oracle };
      })
      .filter((m) => m.sql !== m.oracle);
    expect(mismatches.slice(0, 3).map(describeCase)).toEqual([]);
  });

  it("runs an SLA clock only in business time outside pausing statuses", { timeout: 120_000 }, async () => {
    const statuses = ["open", "in_progress", "waiting_on_customer", "resolved", "closed"] as const;
    const paused: Record<string, Set<string>> = {
      first_response: new Set(["waiting_on_customer"]),
      resolution: new Set(["waiting_on_customer", "resolved"]),
    };
    const cases = Array.from({ length: 1000 }, (_, i) => {
      const calendar = pick(calendars);
      const created = randomInstant();
      const changes: { status: string; at: number }[] = [{ status: pick(statuses), at: created }];
      let at = created;
      for (let k = integer(0, 6); k > 0; k--) {
        at += integer(0, 1440) * MINUTE;
        changes.push({ status: pick(statuses.filter((s) => s !== changes.at(-1)?.status)), at });
      }
      const clock = random() < 0.5 ? "first_response" : "resolution";
      const until = created + integer(0, 5 * 1440) * MINUTE;
      const responded = random() < 0.3 ? created + integer(0, 3 * 1440) * MINUTE : null;
      return { i, calendar, created, changes, clock, responded, target: integer(1, 1200), until };
    });
    const { rows } = await database.current.owner.query(
      `select c.i,
              app_private.sla_due_at(c.calendar_id, c.target, a.active) as due,
              app_private.sla_elapsed_minutes(c.calendar_id, a.active, c.until_at)::text as elapsed
         from jsonb_to_recordset($1) as c (i integer, calendar_id uuid, created_at timestamptz, statuses app_public.ticket_status[],
                                            ats timestamptz[], clock app_public.sla_clock, responded_at timestamptz,
                                            target integer, until_at timestamptz)
         cross join lateral (select app_private.sla_active_time(c.created_at, c.statuses, c.ats, c.clock, c.responded_at) as active) as a
        order by c.i`,
      [
        JSON.stringify(
          cases.map((c) => ({
            i: c.i,
            calendar_id: c.calendar.id,
            created_at: new Date(c.created).toISOString(),
            statuses: c.changes.map((s) => s.status),
            ats: c.changes.map((s) => new Date(s.at).toISOString()),
            clock: c.clock,
            responded_at: c.responded === null ? null : new Date(c.responded).toISOString(),
            target: c.target,
            until_at: new Date(c.until).toISOString(),
          })),
        ),
      ],
    );
    const mismatches = cases
      .map((c) => {
        const pauses = paused[c.clock] as Set<string>;
        // The creation row never pauses (null: the first stretch).
        const statusAt = (at: number): string | null => {
          let status: string | null = null;
          c.changes.forEach((change, index) => {
            if (change.at <= at) status = index === 0 ? null : change.status;
          });
          return status;
        };
        // The clock stops for good when the final run of resolved/closed
        // statuses begins, and counts as running from then on.
        let stop = Number.POSITIVE_INFINITY;
        for (const change of [...c.changes].reverse()) {
          if (change.status !== "resolved" && change.status !== "closed") break;
          stop = change.at;
        }
        if (c.clock === "first_response" && c.responded !== null) stop = Math.min(stop, c.responded);
        const active = (at: number) => {
          const status = statusAt(at);
          return at >= stop || status === null || !pauses.has(status);
        };
        const last = c.changes.at(-1) as { status: string; at: number };
        // Paused for good after the last change: the target can only be reached before it.
        const pausedForGood = c.changes.length > 1 && pauses.has(last.status) && stop === Number.POSITIVE_INFINITY;
        const limit = pausedForGood ? last.at : c.created + 90 * DAY;
        const oracleDue = oracleAddMinutes(c.calendar.model, c.created, c.target, limit, active);
        const oracleElapsed = oracleMinutesBetween(c.calendar.model, c.created, c.until, active);
        const sqlDue = rows[c.i].due === null ? null : (rows[c.i].due as Date).getTime();
        return { c, sql: [sqlDue, Number(rows[c.i].elapsed)], oracle: [oracleDue, oracleElapsed] };
      })
      .filter((m) => m.sql[0] !== m.oracle[0] || m.sql[1] !== m.oracle[1]);
    expect(mismatches.slice(0, 3).map(describeCase)).toEqual([]);
  });
});

describe("materialized business time", () => {
  /** The public functions (index probes in the horizon) against the computation on the fly, exactly. */
  async function compareWithComputed(calendarIds: string[], count: number) {
    const cases = Array.from({ length: count }, (_, i) => {
      const from = randomInstant() + integer(0, 59_999) * (random() < 0.3 ? 1 : 0);
      return {
        i,
        calendar_id: pick(calendarIds),
        from_at: new Date(from).toISOString(),
        to_at: new Date(from + integer(-2 * 1440, 6 * 1440) * MINUTE + integer(0, 999)).toISOString(),
        minutes: random() < 0.05 ? 0 : integer(1, 3000) + (random() < 0.2 ? integer(1, 999_999) / 1_000_000 : 0),
      };
    });
    const { rows } = await database.current.owner.query(
      `select c.i,
              app_public.business_minutes_between(c.calendar_id, c.from_at, c.to_at)::text as fast_minutes,
              app_private.business_minutes_computed(c.calendar_id, c.from_at, c.to_at)::text as computed_minutes,
              app_public.add_business_minutes(c.calendar_id, c.from_at, c.minutes)::text as fast_due,
              app_private.add_business_minutes_computed(c.calendar_id, c.from_at, c.minutes)::text as computed_due,
              app_private.business_seconds_at(c.calendar_id, c.from_at) is not null as materialized
         from jsonb_to_recordset($1) as c (i integer, calendar_id uuid, from_at timestamptz, to_at timestamptz, minutes numeric)
        order by c.i`,
      [JSON.stringify(cases)],
    );
    // The cases lie inside the horizon: the probes answered, not the fallback.
    expect(rows.every((r) => r.materialized)).toBe(true);
    const mismatches = rows.filter((r) => r.fast_minutes !== r.computed_minutes || r.fast_due !== r.computed_due);
    expect(mismatches.slice(0, 3).map((r) => ({ ...r, case: cases[r.i] }))).toEqual([]);
  }

  it("gives exactly what the computation on the fly gives", { timeout: 120_000 }, async () => {
    await compareWithComputed(
      calendars.map((c) => c.id),
      2000,
    );
  });

  it("follows edits of hours, holidays and versions", { timeout: 120_000 }, async () => {
    const owner = database.current.owner;
    const edited = calendars.slice(0, 4).map((c) => c.id);
    await owner.query(
      `update app_public.business_calendar_hours as h set ends_at = h.starts_at + interval '30 minutes'
        where h.id = (select h2.id from app_public.business_calendar_hours as h2
                        join app_public.business_calendar_versions as v on v.id = h2.version_id
                       where v.calendar_id = $1 and h2.starts_at < '23:00' order by h2.id limit 1)`,
      [edited[0]],
    );
    await owner.query(
      `delete from app_public.business_calendar_hours as h using app_public.business_calendar_versions as v
        where v.id = h.version_id and v.calendar_id = $1 and h.weekday in (2, 4)`,
      [edited[1]],
    );
    await owner.query(
      `insert into app_public.business_calendar_holidays (calendar_id, holiday_date, name)
       select $1, d::date, 'edit' from generate_series(date '2026-03-27', date '2026-04-06', interval '1 day') as d
       on conflict do nothing`,
      [edited[2]],
    );
    await owner.query("delete from app_public.business_calendar_holidays where calendar_id = $1", [edited[3]]);
    await owner.query(
      "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '2026-08-20')",
      [edited[3]],
    );
    await compareWithComputed(edited, 600);
  });
});

/**
 * add_business_minutes from an instant inside a minute (seconds past it): the
 * model counts the partial first minute's seconds when it is business time.
 */
function oracleAddFractional(calendar: OracleCalendar, from: number, minutes: number, limit: number): number | null {
  const aligned = Math.floor(from / MINUTE) * MINUTE;
  if (aligned === from || minutes === 0) return oracleAddMinutes(calendar, from, minutes, limit);
  const partial = aligned + MINUTE - from;
  let remaining = minutes * MINUTE;
  if (isBusinessMinute(calendar, aligned)) remaining -= partial;
  for (let at = aligned + MINUTE; at < limit; at += MINUTE) {
    if (!isBusinessMinute(calendar, at)) continue;
    if (remaining <= MINUTE) return at + remaining;
    remaining -= MINUTE;
  }
  return null;
}

function describeCase(m: { c: unknown; sql: unknown; oracle: unknown }): string {
  return JSON.stringify(m, (key, value) =>
    key === "calendar" ? { zone: value.model.zone, model: value.model } : value,
  );
}
