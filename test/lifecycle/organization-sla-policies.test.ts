import { beforeAll, describe, expect, it } from "vitest";
import { actAs, commitAs, sqlState, useTestDatabase } from "../support/test-database.ts";
import { bearer, firstError, graphql, useTestApi } from "../support/test-api.ts";
import {
  activeUser,
  actorOf,
  addMember,
  assignAs,
  fileTicketAs,
  type FixtureUser,
  makeOrganization,
  readAs,
  removeMember,
  transitionAs,
} from "../support/fixtures.ts";

/**
 * SLA targets per organization: an organization's own row replaces the
 * default policy of that priority for the tickets filed for it, through
 * every computation (row triggers, the set-based recomputation, ticket
 * fields, events); edits recompute unfinished tickets; customers read only
 * their organizations' targets; admins edit them in GraphQL.
 */
const database = useTestDatabase();
const api = useTestApi(database);
let acme: string;
let globex: string;
let member: FixtureUser;
let outsider: FixtureUser;
let loner: FixtureUser;
let agent: FixtureUser;
let admin: FixtureUser;
const defaults = {} as Record<string, { first: number; resolution: number }>;

interface Due {
  organization_id: string | null;
  created_at: Date;
  first_response_due_at: Date | null;
  resolution_due_at: Date | null;
  resolution_at_risk_at: Date | null;
}

async function dueOf(id: string): Promise<Due> {
  const { rows } = await database.current.owner.query<Due>(
    `select organization_id, created_at, first_response_due_at, resolution_due_at, resolution_at_risk_at
       from app_public.tickets where id = $1`,
    [id],
  );
  return rows[0]!;
}

/** The ticket's targets as minutes after its creation (the 24x7 calendar: business minutes are minutes). */
async function targetsOf(id: string): Promise<{ first: number | null; resolution: number | null }> {
  const due = await dueOf(id);
  const minutes = (at: Date | null) => (at === null ? null : (at.getTime() - due.created_at.getTime()) / 60_000);
  return { first: minutes(due.first_response_due_at), resolution: minutes(due.resolution_due_at) };
}

const asAdmin = (sql: string, params: unknown[] = []) =>
  commitAs(database.current.authenticator, actorOf(admin), (c) => c.query(sql, params));

beforeAll(async () => {
  const owner = database.current.owner;
  member = await activeUser(owner, "Acme Member", "customer");
  outsider = await activeUser(owner, "Globex Member", "customer");
  loner = await activeUser(owner, "Lone Customer", "customer");
  agent = await activeUser(owner, "Contract Agent", "agent");
  admin = await activeUser(owner, "Contract Admin", "admin");
  acme = await makeOrganization(owner, "Acme (premium contract)");
  globex = await makeOrganization(owner, "Globex");
  await addMember(owner, acme, member.id);
  await addMember(owner, globex, outsider.id);
  const { rows } = await owner.query<{ priority: string; first_response_minutes: number; resolution_minutes: number }>(
    "select priority, first_response_minutes, resolution_minutes from app_public.sla_policies",
  );
  for (const row of rows)
    defaults[row.priority] = { first: row.first_response_minutes, resolution: row.resolution_minutes };
  // Acme's contract: high-priority tickets answered within 30 and resolved within 240 minutes.
  await asAdmin(
    "insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values ($1, 'high', 30, 240)",
    [acme],
  );
});

describe("the targets that hold for a ticket", () => {
  it("are the organization's own for its priority, else the defaults", async () => {
    const api = database.current.authenticator;
    const premium = await fileTicketAs(api, member, "Line down", undefined, "high");
    expect((await dueOf(premium)).organization_id).toBe(acme);
    expect(await targetsOf(premium)).toEqual({ first: 30, resolution: 240 });
    // A priority Acme has no row for, and other customers' high tickets: the defaults.
    const normal = await fileTicketAs(api, member, "Question", undefined, "normal");
    expect(await targetsOf(normal)).toEqual(defaults.normal);
    for (const customer of [outsider, loner]) {
      const other = await fileTicketAs(api, customer, "Line down too", undefined, "high");
      expect(await targetsOf(other)).toEqual(defaults.high);
    }
    // The defaults differ from the contract, so the checks above tell them apart.
    expect(defaults.high).not.toEqual({ first: 30, resolution: 240 });
  });

  it("follow an edit of the organization's targets for unfinished tickets only, and return to the defaults on removal", async () => {
    const api = database.current.authenticator;
    const open = await fileTicketAs(api, member, "Printer on fire", undefined, "urgent");
    const done = await fileTicketAs(api, member, "Printer fixed", undefined, "urgent");
    await assignAs(api, admin, done, agent.id);
    await transitionAs(api, agent, done, "in_progress");
    await transitionAs(api, agent, done, "resolved");
    expect(await targetsOf(open)).toEqual(defaults.urgent);

    await asAdmin(
      "insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values ($1, 'urgent', 15, 60)",
      [acme],
    );
    expect(await targetsOf(open)).toEqual({ first: 15, resolution: 60 });
    // A quarter of the 60 minutes before the due time: at risk (24x7).
    const due = await dueOf(open);
    expect(due.resolution_at_risk_at!.getTime()).toBe(due.resolution_due_at!.getTime() - 15 * 60_000);
    // The resolved ticket keeps the due times it was judged by.
    expect(await targetsOf(done)).toEqual(defaults.urgent);

    await asAdmin(
      "update app_public.organization_sla_policies set resolution_minutes = 90 where organization_id = $1 and priority = 'urgent'",
      [acme],
    );
    expect(await targetsOf(open)).toEqual({ first: 15, resolution: 90 });

    await asAdmin(
      "delete from app_public.organization_sla_policies where organization_id = $1 and priority = 'urgent'",
      [acme],
    );
    expect(await targetsOf(open)).toEqual(defaults.urgent);

    const { rows } = await database.current.owner.query<{ operation: string; actor_id: string }>(
      "select operation, actor_id from app_private.audit_log where table_name = 'app_public.organization_sla_policies' order by id",
    );
    expect(rows.map((r) => r.operation)).toEqual(["INSERT", "INSERT", "UPDATE", "DELETE"]);
    expect(new Set(rows.map((r) => r.actor_id))).toEqual(new Set([admin.id]));
  });

  it("change with the ticket's organization", async () => {
    const api = database.current.authenticator;
    const id = await fileTicketAs(api, member, "Moved around", undefined, "high");
    expect(await targetsOf(id)).toEqual({ first: 30, resolution: 240 });
    await asAdmin("update app_public.tickets set organization_id = null where id = $1", [id]);
    expect(await targetsOf(id)).toEqual(defaults.high);
    const due = await dueOf(id);
    expect(due.resolution_at_risk_at!.getTime()).toBe(
      due.resolution_due_at!.getTime() - (defaults.high!.resolution / 4) * 60_000,
    );
    await asAdmin("update app_public.tickets set organization_id = $2 where id = $1", [id, acme]);
    expect(await targetsOf(id)).toEqual({ first: 30, resolution: 240 });
  });

  it("give a customer's ticket fields the organization's targets, also after the customer left it", async () => {
    const api = database.current.authenticator;
    const id = await fileTicketAs(api, member, "Fields", undefined, "high");
    const fields = async () =>
      (
        await readAs(
          api,
          member,
          `select app_public.tickets_first_response_business_minutes_left(t) as first_left,
                  app_public.tickets_resolution_business_minutes_left(t) as resolution_left,
                  app_public.tickets_first_response_at_risk(t) as first_at_risk
             from app_public.tickets as t where t.id = $1`,
          [id],
        )
      )[0]!;
    const before = await fields();
    // Minutes left of 30 and 240 (at most one minute has passed).
    expect(before.first_left).toBeGreaterThanOrEqual(29);
    expect(before.first_left).toBeLessThanOrEqual(30);
    expect(before.resolution_left).toBeGreaterThanOrEqual(239);
    expect(before.first_at_risk).toBe(false);
    await removeMember(database.current.owner, acme, member.id);
    try {
      // The row is hidden from them now, the ticket's targets are not.
      expect(await readAs(api, member, "select * from app_public.organization_sla_policies")).toEqual([]);
      const after = await fields();
      expect(after.first_left).toBeGreaterThanOrEqual(29);
      expect(after.resolution_left).toBeGreaterThanOrEqual(239);
    } finally {
      await addMember(database.current.owner, acme, member.id);
    }
  });
});

describe("who reads and writes an organization's targets", () => {
  it("customers read their organizations' rows only; staff read all", async () => {
    const api = database.current.authenticator;
    const seen = async (user: FixtureUser) =>
      (await readAs(api, user, "select organization_id from app_public.organization_sla_policies")).map(
        (r) => r.organization_id,
      );
    expect(await seen(member)).toEqual([acme]);
    expect(await seen(outsider)).toEqual([]);
    expect(await seen(loner)).toEqual([]);
    expect(await seen(agent)).toEqual([acme]);
    expect(await seen(admin)).toEqual([acme]);
  });

  it("only admins add, change or remove them", async () => {
    const api = database.current.authenticator;
    const insert = (user: FixtureUser) =>
      sqlState(() =>
        actAs(api, actorOf(user), (c) =>
          c.query(
            "insert into app_public.organization_sla_policies (organization_id, priority, first_response_minutes, resolution_minutes) values ($1, 'low', 60, 600)",
            [globex],
          ),
        ),
      );
    expect(await insert(member)).toBe("42501");
    expect(await insert(agent)).toBe("42501");
    expect(await insert(admin)).toBe("ok");
    for (const user of [member, agent]) {
      expect(
        await sqlState(() =>
          actAs(api, actorOf(user), (c) =>
            c.query("update app_public.organization_sla_policies set resolution_minutes = 999"),
          ),
        ),
      ).toBe("42501");
      expect(
        await sqlState(() =>
          actAs(api, actorOf(user), (c) => c.query("delete from app_public.organization_sla_policies")),
        ),
      ).toBe("42501");
    }
  });
});

describe("SLA events and the compliance report", () => {
  it("name the organization the ticket was filed for", async () => {
    const api = database.current.authenticator;
    const id = await fileTicketAs(api, member, "Reported", undefined, "high");
    await assignAs(api, admin, id, agent.id);
    await transitionAs(api, agent, id, "in_progress");
    await transitionAs(api, agent, id, "resolved");
    const owner = database.current.owner;
    const { rows: events } = await owner.query(
      "select clock, kind, organization_id from app_public.sla_events where ticket_id = $1 order by clock",
      [id],
    );
    expect(events).toEqual([
      { clock: "first_response", kind: "met", organization_id: acme },
      { clock: "resolution", kind: "met", organization_id: acme },
    ]);
    const { rows: report } = await owner.query(
      `select clock, sum(met)::int as met from app_reporting.sla_event_compliance
        where organization_id = $1 and organization_name = 'Acme (premium contract)' and priority = 'high'
        group by clock order by clock`,
      [acme],
    );
    expect(report).toEqual([
      { clock: "first_response", met: 1 },
      { clock: "resolution", met: 1 },
    ]);
  });
});

describe("in GraphQL", () => {
  const CREATE = `mutation ($organizationId: UUID!, $priority: TicketPriority!, $first: Int!, $resolution: Int!) {
    createOrganizationSlaPolicy(input: { organizationSlaPolicy: {
      organizationId: $organizationId, priority: $priority, firstResponseMinutes: $first, resolutionMinutes: $resolution
    } }) { organizationSlaPolicy { rowId priority firstResponseMinutes resolutionMinutes organization { name } } }
  }`;
  const as = (user: FixtureUser) => bearer(user.id, user.tokenRole);

  it("admins add targets; bad ones and duplicates get coded errors that name no constraint", async () => {
    const request = api.current.request;
    const created = await graphql(
      request,
      CREATE,
      { organizationId: globex, priority: "urgent", first: 10, resolution: 120 },
      as(admin),
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data.createOrganizationSlaPolicy.organizationSlaPolicy).toMatchObject({
      priority: "urgent",
      firstResponseMinutes: 10,
      resolutionMinutes: 120,
      organization: { name: "Globex" },
    });
    const refusals: [Record<string, unknown>, { code: string; message: string }][] = [
      [
        { priority: "normal", first: 60, resolution: 30 },
        { code: "INVALID_INPUT", message: "The resolution target must not be shorter than the first-response target" },
      ],
      [
        { priority: "normal", first: 0, resolution: 30 },
        { code: "INVALID_INPUT", message: "Targets must be positive numbers of minutes" },
      ],
      [
        { priority: "urgent", first: 10, resolution: 120 },
        { code: "CONFLICT", message: "The organization has targets for this priority already" },
      ],
    ];
    for (const [targets, expected] of refusals) {
      const refused = await graphql(request, CREATE, { organizationId: globex, ...targets }, as(admin));
      expect(firstError(refused.body)).toEqual(expected);
    }
    const { rows } = await database.current.owner.query(
      "select count(*)::int as n from app_public.organization_sla_policies where organization_id = $1",
      [globex],
    );
    expect(rows[0].n).toBe(1);
  });

  it("admins change and remove targets by organization and priority", async () => {
    const request = api.current.request;
    const UPDATE = `mutation ($organizationId: UUID!, $resolution: Int!) {
      updateOrganizationSlaPolicyByOrganizationIdAndPriority(input: {
        organizationId: $organizationId, priority: urgent, patch: { resolutionMinutes: $resolution }
      }) { organizationSlaPolicy { resolutionMinutes } }
    }`;
    const changed = await graphql(request, UPDATE, { organizationId: globex, resolution: 180 }, as(admin));
    expect(changed.body.data.updateOrganizationSlaPolicyByOrganizationIdAndPriority.organizationSlaPolicy).toEqual({
      resolutionMinutes: 180,
    });
    const shorter = await graphql(request, UPDATE, { organizationId: globex, resolution: 5 }, as(admin));
    expect(firstError(shorter.body)).toEqual({
      code: "INVALID_INPUT",
      message: "The resolution target must not be shorter than the first-response target",
    });
    // An agent finds no row to change (and no right to).
    const byAgent = await graphql(request, UPDATE, { organizationId: globex, resolution: 999 }, as(agent));
    expect(byAgent.body.errors).toBeDefined();
    const DELETE = `mutation ($organizationId: UUID!) {
      deleteOrganizationSlaPolicyByOrganizationIdAndPriority(input: { organizationId: $organizationId, priority: urgent }) {
        organizationSlaPolicy { resolutionMinutes }
      }
    }`;
    const removed = await graphql(request, DELETE, { organizationId: globex }, as(admin));
    expect(removed.body.data.deleteOrganizationSlaPolicyByOrganizationIdAndPriority.organizationSlaPolicy).toEqual({
      resolutionMinutes: 180,
    });
    // Put back for the next test's reads.
    const again = await graphql(
      request,
      CREATE,
      { organizationId: globex, priority: "urgent", first: 10, resolution: 120 },
      as(admin),
    );
    expect(again.body.errors).toBeUndefined();
  });

  it("count against the admin's edit quota: at the quota the next one is refused and nothing is written", async () => {
    const owner = database.current.owner;
    const busy = await activeUser(owner, "Busy Contract Admin", "admin");
    const { rows: quota } = await owner.query<{ max_count: number }>(
      "select max_count from app_public.write_quotas where role = 'admin' and kind = 'edit'",
    );
    // The quota's worth of edits in the last minute, as if this admin had made them.
    await owner.query(
      "insert into app_private.write_events (user_id, kind, occurred_at) select $1, 'edit', now() - interval '1 minute' from generate_series(1, $2)",
      [busy.id, quota[0]!.max_count],
    );
    const refused = await graphql(
      api.current.request,
      CREATE,
      { organizationId: globex, priority: "low", first: 10, resolution: 20 },
      as(busy),
    );
    expect(firstError(refused.body).code).toBe("RATE_LIMITED");
    const { rows } = await owner.query(
      "select count(*)::int as n from app_public.organization_sla_policies where organization_id = $1 and priority = 'low'",
      [globex],
    );
    expect(rows[0].n).toBe(0);
  });

  it("agents and customers cannot add targets, and customers see only their organizations'", async () => {
    const request = api.current.request;
    for (const user of [agent, outsider]) {
      const refused = await graphql(
        request,
        CREATE,
        { organizationId: globex, priority: "low", first: 10, resolution: 20 },
        as(user),
      );
      expect(firstError(refused.body)).toEqual({ code: "FORBIDDEN", message: "Permission denied" });
      expect(JSON.stringify(refused.body)).not.toMatch(/organization_sla_policies|constraint/i);
    }
    const list = `{ organizationSlaPolicies { nodes { organizationId priority } } }`;
    const ofMember = await graphql(request, list, {}, as(member));
    expect(ofMember.body.data.organizationSlaPolicies.nodes).toEqual([{ organizationId: acme, priority: "high" }]);
    const ofOutsider = await graphql(request, list, {}, as(outsider));
    expect(ofOutsider.body.data.organizationSlaPolicies.nodes).toEqual([
      { organizationId: globex, priority: "urgent" },
    ]);
  });
});
