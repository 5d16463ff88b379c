import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { bearer, firstError, graphql, useTestApi } from "../support/test-api.ts";
import { makeTicket, makeUser } from "../support/fixtures.ts";

/**
 * Business calendars through GraphQL: admins create and edit calendars,
 * versions, hours, holidays and policies, with coded errors and an audit
 * trail; everybody else reads; tickets expose business minutes elapsed and
 * left; SLA events are read by staff.
 */
const database = useTestDatabase();
const api = useTestApi(database);
let admin: string;
let agent: string;
let customer: string;

beforeAll(async () => {
  const owner = database.current.owner;
  admin = await makeUser(owner, "Calendar Admin", "admin");
  agent = await makeUser(owner, "Calendar Agent", "agent");
  customer = await makeUser(owner, "Calendar Customer", "customer");
});

const asAdmin = (query: string, variables: Record<string, unknown> = {}) =>
  graphql(api.current.request, query, variables, bearer(admin, "ticketing_admin"));

const CREATE_CALENDAR = `mutation ($name: String!, $zone: String!) {
  createBusinessCalendar(input: { businessCalendar: { name: $name, timeZone: $zone } }) { businessCalendar { rowId name timeZone } }
}`;
const CREATE_VERSION = `mutation ($calendarId: UUID!, $from: Date!) {
  createBusinessCalendarVersion(input: { businessCalendarVersion: { calendarId: $calendarId, effectiveFrom: $from } }) { businessCalendarVersion { rowId } }
}`;
const CREATE_HOUR = `mutation ($versionId: UUID!, $weekday: Int!, $start: Time!, $end: Time!) {
  createBusinessCalendarHour(input: { businessCalendarHour: { versionId: $versionId, weekday: $weekday, startsAt: $start, endsAt: $end } }) {
    businessCalendarHour { rowId weekday startsAt endsAt }
  }
}`;

describe("admins edit calendars", () => {
  let calendarId: string;
  let versionId: string;

  it("creates a calendar, a version and opening hours (overnight allowed)", async () => {
    const created = await asAdmin(CREATE_CALENDAR, { name: "Vienna desk", zone: "Europe/Vienna" });
    expect(created.body.errors).toBeUndefined();
    calendarId = created.body.data.createBusinessCalendar.businessCalendar.rowId;
    const version = await asAdmin(CREATE_VERSION, { calendarId, from: "2026-01-01" });
    versionId = version.body.data.createBusinessCalendarVersion.businessCalendarVersion.rowId;
    for (const [weekday, start, end] of [
      [1, "09:00", "12:00"],
      [1, "13:00", "17:30"],
      [5, "22:00", "06:00"],
    ] as const) {
      const hour = await asAdmin(CREATE_HOUR, { versionId, weekday, start, end });
      expect(hour.body.errors).toBeUndefined();
    }
    const { rows } = await database.current.owner.query(
      "select count(*)::int as n from app_private.audit_log where table_name like 'app_public.business_calendar%'",
    );
    expect(rows[0].n).toBe(5);
  });

  it("refuses overlapping hours, unknown zones, bad ranges and duplicates with coded errors", async () => {
    const overlap = await asAdmin(CREATE_HOUR, { versionId, weekday: 1, start: "11:00", end: "14:00" });
    expect(firstError(overlap.body)).toEqual({
      code: "INVALID_INPUT",
      message: "Opening hours overlap another interval of the same calendar version",
    });
    // Friday 22:00-06:00 runs into Saturday morning.
    const overnight = await asAdmin(CREATE_HOUR, { versionId, weekday: 6, start: "05:00", end: "07:00" });
    expect(firstError(overnight.body).code).toBe("INVALID_INPUT");
    const weekday = await asAdmin(CREATE_HOUR, { versionId, weekday: 8, start: "09:00", end: "10:00" });
    expect(firstError(weekday.body)).toEqual({
      code: "INVALID_INPUT",
      message: "The weekday must be 1 (Monday) to 7 (Sunday)",
    });
    const zone = await asAdmin(CREATE_CALENDAR, { name: "Nowhere", zone: "Mars/Olympus" });
    expect(firstError(zone.body)).toEqual({
      code: "INVALID_INPUT",
      message: "The time zone must be an IANA time zone name such as Europe/Berlin",
    });
    const duplicate = await asAdmin(CREATE_CALENDAR, { name: "Vienna desk", zone: "UTC" });
    expect(firstError(duplicate.body).code).toBe("CONFLICT");
    const holiday = await asAdmin(
      `mutation ($calendarId: UUID!) {
        createBusinessCalendarHoliday(input: { businessCalendarHoliday: { calendarId: $calendarId, holidayDate: "2026-12-24", startsAt: "14:00", endsAt: "12:00" } }) {
          businessCalendarHoliday { rowId }
        }
      }`,
      { calendarId },
    );
    expect(firstError(holiday.body)).toEqual({
      code: "INVALID_INPUT",
      message: "A partial holiday needs a start before its end (or neither, for the whole day)",
    });
    // Nothing of the refused writes is left.
    const { rows } = await database.current.owner.query(
      "select count(*)::int as n from app_public.business_calendar_hours where version_id = $1",
      [versionId],
    );
    expect(rows[0].n).toBe(3);
  });

  it("lets agents and customers read calendars but not write them", async () => {
    for (const [user, role] of [
      [agent, "ticketing_agent"],
      [customer, "ticketing_customer"],
    ] as const) {
      const write = await graphql(
        api.current.request,
        CREATE_CALENDAR,
        { name: "Mine", zone: "UTC" },
        bearer(user, role),
      );
      expect(firstError(write.body).code).toBe("FORBIDDEN");
      const read = await graphql(
        api.current.request,
        `query ($id: UUID!, $from: Datetime!, $to: Datetime!) {
          businessCalendar(rowId: $id) { name timeZone }
          businessMinutesBetween(calendarId: $id, fromAt: $from, toAt: $to)
        }`,
        { id: calendarId, from: "2026-03-02T07:00:00Z", to: "2026-03-02T17:00:00Z" },
        bearer(user, role),
      );
      // Monday 2 March 2026 in Vienna (UTC+1): 09:00-12:00 and 13:00-17:30 local.
      expect(read.body).toEqual({
        data: { businessCalendar: { name: "Vienna desk", timeZone: "Europe/Vienna" }, businessMinutesBetween: "450" },
      });
    }
  });

  it("answers business minutes over at most 10 years; a longer span is INVALID_INPUT, not minutes of work", async () => {
    const ask = (from: string, to: string) =>
      graphql(
        api.current.request,
        "query ($id: UUID!, $from: Datetime!, $to: Datetime!) { businessMinutesBetween(calendarId: $id, fromAt: $from, toAt: $to) }",
        { id: calendarId, from, to },
        bearer(customer, "ticketing_customer"),
      );
    const decade = await ask("2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    expect(Number(decade.body.data.businessMinutesBetween)).toBeGreaterThan(0);
    for (const [from, to] of [
      ["2020-01-01T00:00:00Z", "2030-01-02T00:00:00Z"],
      ["3000-01-01T00:00:00Z", "0001-01-01T00:00:00Z"],
    ]) {
      const refused = await ask(from!, to!);
      expect(refused.body.data).toEqual({ businessMinutesBetween: null });
      expect(firstError(refused.body)).toEqual({
        code: "INVALID_INPUT",
        message: "Business minutes are counted over at most 10 years",
      });
    }
  });

  it("moves a policy to a calendar; tickets show business minutes and staff read SLA events", async () => {
    const ticket = await makeTicket(database.current.owner, customer, "open", null, { priority: "low" });
    const policy = await asAdmin(
      `mutation ($calendarId: UUID!) {
        updateSlaPolicy(input: { priority: low, patch: { calendarId: $calendarId, firstResponseMinutes: 60 } }) {
          slaPolicy { priority calendarId firstResponseMinutes }
        }
      }`,
      { calendarId },
    );
    expect(policy.body.data.updateSlaPolicy.slaPolicy).toEqual({
      priority: "low",
      calendarId,
      firstResponseMinutes: 60,
    });
    const { rows: audited } = await database.current.owner.query(
      "select actor_id, new_data ->> 'calendar_id' as calendar_id from app_private.audit_log where table_name = 'app_public.sla_policies' and operation = 'UPDATE'",
    );
    expect(audited).toEqual([{ actor_id: admin, calendar_id: calendarId }]);
    const read = await graphql(
      api.current.request,
      `query ($id: UUID!) {
        ticket(rowId: $id) {
          firstResponseDueAt
          firstResponseBusinessMinutesElapsed
          firstResponseBusinessMinutesLeft
          resolutionBusinessMinutesLeft
        }
      }`,
      { id: ticket.id },
      bearer(customer, "ticketing_customer"),
    );
    const fields = read.body.data.ticket;
    expect(fields.firstResponseBusinessMinutesElapsed + fields.firstResponseBusinessMinutesLeft).toBe(60);
    expect(fields.resolutionBusinessMinutesLeft).toBeLessThanOrEqual(10080);
    // The stored due time was recomputed on the new calendar (open since creation, no pause).
    const { rows } = await database.current.owner.query(
      "select app_public.add_business_minutes($2, created_at, 60) as due from app_public.tickets where id = $1",
      [ticket.id, calendarId],
    );
    expect(new Date(fields.firstResponseDueAt)).toEqual(rows[0].due);

    const events = await graphql(
      api.current.request,
      "{ slaEvents { totalCount } }",
      {},
      bearer(customer, "ticketing_customer"),
    );
    expect(firstError(events.body).code).toBe("FORBIDDEN");
  });
  it("audits deletes of hours, holidays, versions and pause rules with the removed row", async () => {
    const version = await asAdmin(CREATE_VERSION, { calendarId, from: "2026-07-01" });
    const laterVersionId = version.body.data.createBusinessCalendarVersion.businessCalendarVersion.rowId;
    const hour = await asAdmin(CREATE_HOUR, { versionId: laterVersionId, weekday: 2, start: "08:00", end: "16:00" });
    const hourId = hour.body.data.createBusinessCalendarHour.businessCalendarHour.rowId;
    const holiday = await asAdmin(
      `mutation ($calendarId: UUID!) {
        createBusinessCalendarHoliday(input: { businessCalendarHoliday: { calendarId: $calendarId, holidayDate: "2026-08-15", name: "Assumption" } }) {
          businessCalendarHoliday { rowId }
        }
      }`,
      { calendarId },
    );
    const holidayId = holiday.body.data.createBusinessCalendarHoliday.businessCalendarHoliday.rowId;
    const otherHour = await asAdmin(CREATE_HOUR, {
      versionId: laterVersionId,
      weekday: 3,
      start: "08:00",
      end: "16:00",
    });
    const otherHourId = otherHour.body.data.createBusinessCalendarHour.businessCalendarHour.rowId;

    for (const [mutation, variables] of [
      [
        "mutation ($id: UUID!) { deleteBusinessCalendarHour(input: { rowId: $id }) { clientMutationId } }",
        { id: hourId },
      ],
      [
        "mutation ($id: UUID!) { deleteBusinessCalendarHoliday(input: { rowId: $id }) { clientMutationId } }",
        { id: holidayId },
      ],
      [
        "mutation ($id: UUID!) { deleteBusinessCalendarVersion(input: { rowId: $id }) { clientMutationId } }",
        { id: laterVersionId },
      ],
      ["mutation { deleteSlaPauseStatus(input: { status: resolved, clock: resolution }) { clientMutationId } }", {}],
    ] as const) {
      const deleted = await asAdmin(mutation, variables);
      expect(deleted.body.errors).toBeUndefined();
    }
    const { rows } = await database.current.owner.query(
      `select table_name, record_id, actor_id, old_data ->> 'id' as old_id, old_data ->> 'status' as old_status, new_data
         from app_private.audit_log where operation = 'DELETE' order by occurred_at, table_name`,
    );
    const removed = (table: string, id: string | null, status: string | null = null) => ({
      table_name: `app_public.${table}`,
      record_id: id,
      actor_id: admin,
      old_id: id,
      old_status: status,
      new_data: null,
    });
    // The version's remaining hour goes with it (a cascade), audited as well.
    expect(rows).toEqual([
      removed("business_calendar_hours", hourId),
      removed("business_calendar_holidays", holidayId),
      removed("business_calendar_versions", laterVersionId),
      removed("business_calendar_hours", otherHourId),
      removed("sla_pause_statuses", null, "resolved"),
    ]);
    // Put the default pause rule back for the tests after this one.
    await database.current.owner.query(
      "insert into app_public.sla_pause_statuses (status, clock) values ('resolved', 'resolution')",
    );
  });
});
