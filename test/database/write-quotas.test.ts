import { beforeAll, describe, expect, it } from "vitest";
import { codeOf, makeOrganization, makeTicket, makeUser, ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import { actAs, sqlState, testPool, useTestDatabase } from "../support/test-database.ts";

/**
 * Write quotas (migrations/committed/000015-write-quotas-per-user-and-kind-pruning-of-expired-security-r.sql): per user, role and
 * kind of write, counted before the row is written, refused with TKRAT and a
 * retry hint; edited by admins as data.
 */
const database = useTestDatabase();

const NEW_TICKET = "insert into app_public.tickets (subject) values ('Quota probe') returning id";

function hintOf(outcome: { ok: boolean; hint?: string }): number | undefined {
  const match = /retry_after=(\d+)/.exec(outcome.hint ?? "");
  return match ? Number(match[1]) : undefined;
}

function attempt(role: string, userId: string, sql: string, params: unknown[] = []) {
  return runAs(database.current.authenticator, role, userId, sql, params);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await database.current.owner.query<{ n: number }>(sql, params);
  return rows[0]!.n;
}

const ticketsOf = (customerId: string) =>
  count("select count(*)::int as n from app_public.tickets where customer_id = $1", [customerId]);
const eventsOf = (userId: string, kind: string) =>
  count("select count(*)::int as n from app_private.write_events where user_id = $1 and kind = $2", [userId, kind]);

/** Counted writes made `ago` before now, as if the user had written them then. */
async function pastEvents(userId: string, kind: string, howMany: number, ago: string): Promise<void> {
  await database.current.owner.query(
    "insert into app_private.write_events (user_id, kind, occurred_at) select $1, $2, now() - $4::interval from generate_series(1, $3)",
    [userId, kind, howMany, ago],
  );
}

let admin: string;
beforeAll(async () => {
  admin = await makeUser(database.current.owner, "Quota Admin", "admin");
});

describe("new tickets", () => {
  it("a customer files 30 in an hour; the 31st is refused before it is written, with a retry hint", async () => {
    const customer = await makeUser(database.current.owner, "Busy Customer", "customer");
    for (let n = 0; n < 30; n += 1) expect(codeOf(await attempt(ROLE.customer, customer, NEW_TICKET))).toBe("ok");
    const refused = await attempt(ROLE.customer, customer, NEW_TICKET);
    expect(codeOf(refused)).toBe("TKRAT");
    expect(refused.ok ? "" : refused.message).toMatch(/too many new tickets/i);
    expect(hintOf(refused)).toBeGreaterThanOrEqual(3590);
    expect(hintOf(refused)).toBeLessThanOrEqual(3600);
    expect(await ticketsOf(customer)).toBe(30);
    expect(await eventsOf(customer, "ticket")).toBe(30);
  });

  it("the window slides: writes older than the interval no longer count, and the hint says when one frees up", async () => {
    const customer = await makeUser(database.current.owner, "Returning Customer", "customer");
    await pastEvents(customer, "ticket", 500, "61 minutes");
    await pastEvents(customer, "ticket", 29, "50 minutes");
    expect(codeOf(await attempt(ROLE.customer, customer, NEW_TICKET))).toBe("ok");
    const refused = await attempt(ROLE.customer, customer, NEW_TICKET);
    expect(codeOf(refused)).toBe("TKRAT");
    // The oldest counted write (50 minutes ago) leaves the window in 10 minutes.
    expect(hintOf(refused)).toBeGreaterThanOrEqual(590);
    expect(hintOf(refused)).toBeLessThanOrEqual(600);
  });

  it("parallel requests of one user cannot overshoot the quota", async () => {
    const customer = await makeUser(database.current.owner, "Parallel Customer", "customer");
    const pool = testPool(database.current.urls.authenticator, 8);
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const codes: string[] = [];
          for (let n = 0; n < 6; n += 1) codes.push(codeOf(await runAs(pool, ROLE.customer, customer, NEW_TICKET)));
          return codes;
        }),
      );
      const codes = outcomes.flat();
      expect(codes.filter((code) => code === "ok")).toHaveLength(30);
      expect(codes.filter((code) => code === "TKRAT")).toHaveLength(18);
    } finally {
      await pool.end();
    }
    expect(await ticketsOf(customer)).toBe(30);
  });

  it("staff have higher quotas: an agent files a 31st ticket for customers", async () => {
    const agent = await makeUser(database.current.owner, "Phone Agent", "agent");
    const customer = await makeUser(database.current.owner, "Caller", "customer");
    await pastEvents(agent, "ticket", 30, "1 minute");
    const filed = await attempt(
      ROLE.agent,
      agent,
      "insert into app_public.tickets (subject, customer_id) values ('By phone', $1) returning id",
      [customer],
    );
    expect(codeOf(filed)).toBe("ok");
    // Counted to the writer, not to the customer the ticket is for.
    expect(await eventsOf(agent, "ticket")).toBe(31);
    expect(await eventsOf(customer, "ticket")).toBe(0);
  });

  it("writes outside an API request (owner, maintenance, imports) are not counted", async () => {
    const customer = await makeUser(database.current.owner, "Imported Customer", "customer");
    for (let n = 0; n < 40; n += 1) await makeTicket(database.current.owner, customer, "open");
    expect(await ticketsOf(customer)).toBe(40);
    expect(await eventsOf(customer, "ticket")).toBe(0);
  });
});

describe("comments and edits", () => {
  it("comments are counted per author, through addComment too", async () => {
    const customer = await makeUser(database.current.owner, "Chatty Customer", "customer");
    const ticket = (await makeTicket(database.current.owner, customer, "open")).id as string;
    await pastEvents(customer, "comment", 119, "5 minutes");
    expect(
      codeOf(await attempt(ROLE.customer, customer, "select app_public.add_comment($1, 'one more')", [ticket])),
    ).toBe("ok");
    const refused = await attempt(ROLE.customer, customer, "select app_public.add_comment($1, 'and another')", [
      ticket,
    ]);
    expect(codeOf(refused)).toBe("TKRAT");
    expect(refused.ok ? "" : refused.message).toMatch(/too many comments/i);
    expect(
      await count("select count(*)::int as n from app_public.ticket_comments where ticket_id = $1", [ticket]),
    ).toBe(1);
  });

  it("ticket text edits are counted, no-op updates included; lifecycle changes are not", async () => {
    const customer = await makeUser(database.current.owner, "Editing Customer", "customer");
    const ticket = (await makeTicket(database.current.owner, customer, "open")).id as string;
    await pastEvents(customer, "edit", 299, "5 minutes");
    const edit = "update app_public.tickets set subject = subject where id = $1 returning id";
    expect(rowsOf(await attempt(ROLE.customer, customer, edit, [ticket]))).toHaveLength(1);
    expect(codeOf(await attempt(ROLE.customer, customer, edit, [ticket]))).toBe("TKRAT");
    expect(
      codeOf(
        await attempt(ROLE.customer, customer, "update app_public.tickets set description = 'x' where id = $1", [
          ticket,
        ]),
      ),
    ).toBe("TKRAT");
    // Withdrawing the ticket is a lifecycle change, not an edit.
    expect(
      codeOf(await attempt(ROLE.customer, customer, "select app_public.transition_ticket($1, 'closed')", [ticket])),
    ).toBe("ok");
  });

  it("display-name changes are counted as edits of the writer", async () => {
    const customer = await makeUser(database.current.owner, "Renaming Customer", "customer");
    await pastEvents(customer, "edit", 300, "30 minutes");
    const rename = "update app_public.users set display_name = 'New Name' where id = $1";
    expect(codeOf(await attempt(ROLE.customer, customer, rename, [customer]))).toBe("TKRAT");
    // An admin renaming them is the admin's edit.
    expect(codeOf(await attempt(ROLE.admin, admin, rename, [customer]))).toBe("ok");
    expect(await eventsOf(admin, "edit")).toBe(1);
  });
});

describe("quotas are data", () => {
  it("admins read and change the numbers; the next write obeys them", async () => {
    const rows = rowsOf(
      await attempt(ROLE.admin, admin, "select role, kind, max_count from app_public.write_quotas order by role, kind"),
    );
    expect(rows).toHaveLength(9);
    expect(rows).toContainEqual({ role: "customer", kind: "ticket", max_count: 30 });

    const customer = await makeUser(database.current.owner, "Limited Customer", "customer");
    await pastEvents(customer, "ticket", 2, "1 minute");
    expect(
      codeOf(
        await attempt(
          ROLE.admin,
          admin,
          "update app_public.write_quotas set max_count = 2 where role = 'customer' and kind = 'ticket'",
        ),
      ),
    ).toBe("ok");
    try {
      expect(codeOf(await attempt(ROLE.customer, customer, NEW_TICKET))).toBe("TKRAT");
    } finally {
      await database.current.owner.query(
        "update app_public.write_quotas set max_count = 30 where role = 'customer' and kind = 'ticket'",
      );
    }
    expect(codeOf(await attempt(ROLE.customer, customer, NEW_TICKET))).toBe("ok");
  });

  it("nobody else reads or changes them, and the numbers stay in range", async () => {
    const customer = await makeUser(database.current.owner, "Curious Customer", "customer");
    const agent = await makeUser(database.current.owner, "Curious Agent", "agent");
    expect(codeOf(await attempt(ROLE.customer, customer, "select * from app_public.write_quotas"))).toBe("42501");
    expect(codeOf(await attempt(ROLE.agent, agent, "update app_public.write_quotas set max_count = 1000000"))).toBe(
      "42501",
    );
    expect(codeOf(await attempt(ROLE.admin, admin, "delete from app_public.write_quotas"))).toBe("42501");
    expect(codeOf(await attempt(ROLE.admin, admin, "update app_public.write_quotas set max_count = 0"))).toBe("23514");
    expect(codeOf(await attempt(ROLE.admin, admin, "update app_public.write_quotas set per_interval = '1 year'"))).toBe(
      "23514",
    );
  });
});

/**
 * One probe per write-quota trigger in the catalog: a write an admin may make
 * to that table (directly or through its function), with what it needs made
 * beforehand by the owner. Probes run rolled back, so each sees the same data.
 */
interface QuotaProbe {
  sql: string;
  params: () => Promise<unknown[]>;
}

const DEFAULT_CALENDAR = "00000000-0000-7000-8000-000000002407";
const owner = () => database.current.owner;
const customerId = () => makeUser(owner(), "Probe Customer", "customer");
const ticketId = async () => (await makeTicket(owner(), await customerId(), "open")).id as string;
const organizationId = () => makeOrganization(owner(), `Probe Org ${Math.random().toString(36).slice(2)}`);

/** Keyed `table.trigger`, as the catalog names them. */
const QUOTA_PROBES: Record<string, QuotaProbe> = {
  "tickets._050_write_quota": {
    sql: "insert into app_public.tickets (subject, customer_id) values ('Quota probe', $1)",
    params: async () => [await customerId()],
  },
  "tickets._050_write_quota_edit": {
    sql: "update app_public.tickets set subject = subject where id = $1",
    params: async () => [await ticketId()],
  },
  "ticket_comments._050_write_quota": {
    sql: "select app_public.add_comment($1, 'Quota probe')",
    params: async () => [await ticketId()],
  },
  "users._050_write_quota_edit": {
    sql: "update app_public.users set display_name = display_name where id = $1",
    params: async () => [await customerId()],
  },
  "ticket_participants._050_write_quota_edit": {
    sql: "select app_public.add_ticket_participant($1, $2)",
    params: async () => [await ticketId(), await customerId()],
  },
  "organizations._050_write_quota_edit": {
    sql: "select app_public.create_organization('Quota Probe Ltd')",
    params: async () => [],
  },
  "organization_memberships._050_write_quota_edit": {
    sql: "select app_public.add_organization_member($1, $2)",
    params: async () => [await organizationId(), await customerId()],
  },
  "organization_sla_policies._050_write_quota": {
    sql: `insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes)
          values ($1, 'low', 10, 20)`,
    params: async () => [await organizationId()],
  },
  "business_calendars._050_write_quota": {
    sql: "insert into app_public.business_calendars (name, time_zone) values ('Quota probe', 'Europe/Berlin')",
    params: async () => [],
  },
  "business_calendar_versions._050_write_quota": {
    sql: "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '2040-01-01')",
    params: async () => [DEFAULT_CALENDAR],
  },
  "business_calendar_hours._050_write_quota": {
    sql: "insert into app_public.business_calendar_hours (version_id, weekday, starts_at, ends_at) values ($1, 1, '09:00', '17:00')",
    // Hours may only be written into a version not yet in effect.
    params: async () => {
      const { rows } = await owner().query<{ id: string }>(
        "insert into app_public.business_calendar_versions (calendar_id, effective_from) values ($1, '2041-01-01') returning id",
        [DEFAULT_CALENDAR],
      );
      return [rows[0]!.id];
    },
  },
  "business_calendar_holidays._050_write_quota": {
    sql: "insert into app_public.business_calendar_holidays (calendar_id, holiday_date) values ($1, '2039-01-01')",
    params: async () => [DEFAULT_CALENDAR],
  },
  "sla_pause_statuses._050_write_quota": {
    sql: "insert into app_public.sla_pause_statuses (status, clock) values ('in_progress', 'first_response')",
    params: async () => [],
  },
};

describe("every write-quota trigger", () => {
  const catalog = async () => {
    const { rows } = await owner().query<{ key: string; kind: string }>(
      `select c.relname || '.' || t.tgname as key, encode(t.tgargs, 'escape') as kind
         from pg_trigger t
         join pg_class c on c.oid = t.tgrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app_public' and t.tgfoid = 'app_private.tg_enforce_write_quota'::regproc`,
    );
    // tgargs holds each argument followed by a NUL byte.
    return new Map(rows.map((row) => [row.key, row.kind.replace(/\\000$/, "")]));
  };

  it("has a probe here, and every probe here has its trigger", async () => {
    expect([...(await catalog()).keys()].sort()).toEqual(Object.keys(QUOTA_PROBES).sort());
  });

  it.each(Object.keys(QUOTA_PROBES))(
    "%s: an admin's write is accepted below the quota and refused at it",
    async (key) => {
      const kind = (await catalog()).get(key);
      if (kind === undefined) expect.fail(`${key} has no write-quota trigger`);
      const probe = QUOTA_PROBES[key]!;
      const params = await probe.params();
      const writer = await makeUser(owner(), `Quota Prober ${key}`, "admin");
      const write = () =>
        sqlState(() =>
          actAs(database.current.authenticator, { role: ROLE.admin, userId: writer }, (client) =>
            client.query(probe.sql, params),
          ),
        );
      expect(await write()).toBe("ok");
      const { rows } = await owner().query<{ max_count: number }>(
        "select max_count from app_public.write_quotas where role = 'admin' and kind = $1",
        [kind],
      );
      await pastEvents(writer, kind, rows[0]!.max_count, "1 minute");
      expect(await write()).toBe("TKRAT");
    },
  );
});
