import { beforeAll, describe, expect, it } from "vitest";
import { actAs, useTestDatabase } from "../support/test-database.ts";
import {
  activeUser,
  actorOf,
  addMember,
  addParticipant,
  codeOf,
  commentAs,
  expectHistoryInvariant,
  type FixtureUser,
  fileTicketAs,
  makeOrganization,
  readAs,
  rowsOf,
  runAs,
  ticketIn,
  transitionAs,
} from "../support/fixtures.ts";

/**
 * Organizations and participants through the real functions, as the API's
 * roles: which organization a ticket is filed for, what a manager, a member
 * with or without shared sight, a cc'd customer and a stranger may do, that
 * losing a membership (or the organization) takes the sight away at once,
 * the admin and participant functions' refusals, their quota and audit, and
 * domain auto-join.
 */
const database = useTestDatabase();
const people = {} as Record<
  | "admin"
  | "agent"
  | "otherAgent"
  | "requester"
  | "manager"
  | "sighted"
  | "blind"
  | "colleague"
  | "stranger"
  | "outsider",
  FixtureUser
>;
const ids = {} as Record<string, string>;

const api = () => database.current.authenticator;
const owner = () => database.current.owner;

async function sees(user: FixtureUser, ticketId: string): Promise<boolean> {
  const rows = await readAs(api(), user, "select id from app_public.tickets where id = $1", [ticketId]);
  return rows.length === 1;
}

async function call(user: FixtureUser, sql: string, params: unknown[] = []): Promise<ReturnType<typeof runAs>> {
  return runAs(api(), user.tokenRole, user.id, sql, params);
}

beforeAll(async () => {
  const pool = owner();
  people.admin = await activeUser(pool, "Org Admin", "admin");
  people.agent = await activeUser(pool, "Org Agent", "agent");
  people.otherAgent = await activeUser(pool, "Org Other Agent", "agent");
  for (const key of ["requester", "manager", "sighted", "blind", "colleague", "stranger", "outsider"] as const) {
    people[key] = await activeUser(pool, `Org ${key}`, "customer");
  }
  ids.acme = await makeOrganization(pool, "Acme");
  ids.acmeLabs = await makeOrganization(pool, "Acme Labs");
  ids.globex = await makeOrganization(pool, "Globex");
  await addMember(pool, ids.acme, people.requester.id);
  await addMember(pool, ids.acmeLabs, people.requester.id);
  await addMember(pool, ids.acme, people.manager.id, "manager");
  await addMember(pool, ids.acme, people.sighted.id, "member", true);
  await addMember(pool, ids.acme, people.blind.id);
  await addMember(pool, ids.acme, people.colleague.id);
  await addMember(pool, ids.globex, people.outsider.id, "manager");
  ids.ticket = await ticketIn(pool, people.requester.id, "in_progress", people.agent.id, {
    subject: "Acme printer on fire",
  });
});

describe("the organization a ticket is filed for", () => {
  it("defaults to the customer's first active organization, or the one they choose among theirs", async () => {
    const first = await fileTicketAs(api(), people.requester, "Default organization");
    const chosen = await call(
      people.requester,
      "insert into app_public.tickets (subject, organization_id) values ('Chosen', $1) returning organization_id",
      [ids.acmeLabs],
    );
    const { rows } = await owner().query("select organization_id from app_public.tickets where id = $1", [first]);
    expect(rows[0].organization_id).toBe(ids.acme);
    expect(rowsOf(chosen)[0]!.organization_id).toBe(ids.acmeLabs);
    expect(await fileTicketAs(api(), people.stranger, "No organization")).toBeTruthy();
  });

  it("refuses an organization the customer does not belong to, whoever files it", async () => {
    const customer = await call(
      people.requester,
      "insert into app_public.tickets (subject, organization_id) values ('Not mine', $1)",
      [ids.globex],
    );
    const staff = await call(
      people.agent,
      "insert into app_public.tickets (subject, customer_id, organization_id) values ('Not theirs', $1, $2)",
      [people.stranger.id, ids.acme],
    );
    expect([codeOf(customer), codeOf(staff)]).toEqual(["TKVAL", "TKVAL"]);
  });

  it("lets the assigned agent move it to another of the customer's organizations, not customers", async () => {
    const ticket = await ticketIn(owner(), people.requester.id, "in_progress", people.agent.id);
    const moved = await call(
      people.agent,
      "update app_public.tickets set organization_id = $2 where id = $1 returning organization_id",
      [ticket, ids.acmeLabs],
    );
    expect(rowsOf(moved)[0]!.organization_id).toBe(ids.acmeLabs);
    const byCustomer = await call(
      people.requester,
      "update app_public.tickets set organization_id = $2 where id = $1",
      [ticket, ids.acme],
    );
    expect(codeOf(byCustomer)).toBe("42501");
  });
});

describe("who sees and acts on an organization's ticket", () => {
  it("shows it to the requester, the manager, members who share sight and nobody else among customers", async () => {
    const seen: Record<string, boolean> = {};
    for (const key of ["requester", "manager", "sighted", "blind", "colleague", "stranger", "outsider"] as const) {
      seen[key] = await sees(people[key], ids.ticket!);
    }
    expect(seen).toEqual({
      requester: true,
      manager: true,
      sighted: true,
      blind: false,
      colleague: false,
      stranger: false,
      outsider: false,
    });
  });

  it("lets the manager comment publicly, close and reopen, as the requester can; not a member who only shares sight", async () => {
    const ticket = await ticketIn(owner(), people.requester.id, "in_progress", people.agent.id);
    expect(await commentAs(api(), people.manager, ticket, "Manager here")).toBeTruthy();
    const internal = await call(people.manager, "select app_public.add_comment($1, 'secret', true)", [ticket]);
    const sightedComment = await call(people.sighted, "select app_public.add_comment($1, 'me too')", [ticket]);
    const sightedResolve = await call(people.sighted, "select app_public.transition_ticket($1, 'closed')", [ticket]);
    expect([codeOf(internal), codeOf(sightedComment), codeOf(sightedResolve)]).toEqual(["TKFBD", "TKFBD", "TKNTF"]);
    await transitionAs(api(), people.manager, ticket, "closed", "Sorted out on our side");
    const resolved = await ticketIn(owner(), people.requester.id, "resolved", people.agent.id);
    await transitionAs(api(), people.manager, resolved, "open", "Not fixed after all");
    await expectHistoryInvariant(owner());
  });

  it("moves a ticket waiting on the customer back to work when the manager or a cc replies, as for the requester", async () => {
    for (const who of ["manager", "colleague"] as const) {
      const ticket = await ticketIn(owner(), people.requester.id, "waiting_on_customer", people.agent.id);
      if (who === "colleague") await addParticipant(owner(), ticket, people.colleague.id);
      await commentAs(api(), people[who], ticket, "Here is the information you asked for");
      const { rows } = await owner().query("select status from app_public.tickets where id = $1", [ticket]);
      expect(rows[0].status, who).toBe("in_progress");
    }
    await expectHistoryInvariant(owner());
  });

  it("never shows internal notes to the manager", async () => {
    await commentAs(api(), people.agent, ids.ticket!, "Internal only", true);
    const notes = await readAs(
      api(),
      people.manager,
      "select id from app_public.ticket_comments where ticket_id = $1 and is_internal",
      [ids.ticket],
    );
    expect(notes).toEqual([]);
  });

  it("finds the organization's tickets in search for the manager only", async () => {
    const found = async (user: FixtureUser) =>
      (await readAs(api(), user, "select id from app_public.search_tickets('printer fire')")).map((row) => row.id);
    expect(await found(people.manager)).toContain(ids.ticket);
    expect(await found(people.blind)).not.toContain(ids.ticket);
    expect(await found(people.outsider)).not.toContain(ids.ticket);
  });

  it("takes the sight away at once when the membership is removed or the organization deactivated", async () => {
    const manager = await activeUser(owner(), "Short-lived manager", "customer");
    const sighted = await activeUser(owner(), "Short-lived member", "customer");
    await addMember(owner(), ids.globex!, manager.id, "manager");
    await addMember(owner(), ids.globex!, sighted.id, "member", true);
    const ticket = await ticketIn(owner(), people.outsider.id, "open");
    expect([await sees(manager, ticket), await sees(sighted, ticket)]).toEqual([true, true]);

    rowsOf(await call(people.admin, "select app_public.remove_organization_member($1, $2)", [ids.globex, manager.id]));
    expect(await sees(manager, ticket)).toBe(false);
    expect(codeOf(await call(manager, "select app_public.add_comment($1, 'still here?')", [ticket]))).toBe("TKNTF");

    rowsOf(await call(people.admin, "select app_public.update_organization($1, is_active => false)", [ids.globex]));
    expect(await sees(sighted, ticket)).toBe(false);
    // The requester keeps their own ticket.
    expect(await sees(people.outsider, ticket)).toBe(true);
    rowsOf(await call(people.admin, "select app_public.update_organization($1, is_active => true)", [ids.globex]));
    expect(await sees(sighted, ticket)).toBe(true);
  });
});

describe("participants", () => {
  it("lets the requester copy in a colleague, who then reads the ticket and may reply but not resolve", async () => {
    const ticket = await ticketIn(owner(), people.requester.id, "in_progress", people.agent.id);
    rowsOf(
      await call(people.requester, "select app_public.add_ticket_participant($1, $2, 'cc')", [
        ticket,
        people.colleague.id,
      ]),
    );
    expect(await sees(people.colleague, ticket)).toBe(true);
    expect(await commentAs(api(), people.colleague, ticket, "Copied in, replying")).toBeTruthy();
    expect(codeOf(await call(people.colleague, "select app_public.transition_ticket($1, 'closed')", [ticket]))).toBe(
      "TKNTF",
    );

    rowsOf(
      await call(people.requester, "select app_public.remove_ticket_participant($1, $2)", [
        ticket,
        people.colleague.id,
      ]),
    );
    expect(await sees(people.colleague, ticket)).toBe(false);

    const audit = await owner().query(
      `select operation, new_data ->> 'removed_at' is not null as removed from app_private.audit_log
        where table_name = 'app_public.ticket_participants' and new_data ->> 'ticket_id' = $1 order by occurred_at`,
      [ticket],
    );
    expect(audit.rows).toEqual([
      { operation: "INSERT", removed: false },
      { operation: "UPDATE", removed: true },
    ]);
  });

  it("refuses customers who copy in strangers, ask for followers, or only share sight", async () => {
    const ticket = await ticketIn(owner(), people.requester.id, "in_progress", people.agent.id);
    const outcomes = {
      stranger: codeOf(
        await call(people.requester, "select app_public.add_ticket_participant($1, $2)", [ticket, people.stranger.id]),
      ),
      otherOrganization: codeOf(
        await call(people.requester, "select app_public.add_ticket_participant($1, $2)", [ticket, people.outsider.id]),
      ),
      follower: codeOf(
        await call(people.requester, "select app_public.add_ticket_participant($1, $2, 'follower')", [
          ticket,
          people.agent.id,
        ]),
      ),
      bySighted: codeOf(
        await call(people.sighted, "select app_public.add_ticket_participant($1, $2)", [ticket, people.colleague.id]),
      ),
      byStranger: codeOf(
        await call(people.stranger, "select app_public.add_ticket_participant($1, $2)", [ticket, people.colleague.id]),
      ),
      byManager: codeOf(
        await call(people.manager, "select app_public.add_ticket_participant($1, $2)", [ticket, people.blind.id]),
      ),
    };
    expect(outcomes).toEqual({
      stranger: "TKFBD",
      otherOrganization: "TKFBD",
      follower: "TKFBD",
      bySighted: "TKNTF",
      byStranger: "TKNTF",
      byManager: "ok",
    });
  });

  it("lets staff add followers (staff) and cc (customers), on tickets they act on", async () => {
    const ticket = await ticketIn(owner(), people.requester.id, "in_progress", people.agent.id);
    const outcomes = {
      follower: codeOf(
        await call(people.agent, "select app_public.add_ticket_participant($1, $2, 'follower')", [
          ticket,
          people.otherAgent.id,
        ]),
      ),
      customerFollower: codeOf(
        await call(people.agent, "select app_public.add_ticket_participant($1, $2, 'follower')", [
          ticket,
          people.stranger.id,
        ]),
      ),
      staffCc: codeOf(
        await call(people.agent, "select app_public.add_ticket_participant($1, $2, 'cc')", [ticket, people.admin.id]),
      ),
      notAssigned: codeOf(
        await call(people.otherAgent, "select app_public.add_ticket_participant($1, $2, 'cc')", [
          ticket,
          people.stranger.id,
        ]),
      ),
      admin: codeOf(
        await call(people.admin, "select app_public.add_ticket_participant($1, $2, 'cc')", [
          ticket,
          people.stranger.id,
        ]),
      ),
    };
    expect(outcomes).toEqual({
      follower: "ok",
      customerFollower: "TKVAL",
      staffCc: "TKVAL",
      notAssigned: "TKNTF",
      admin: "ok",
    });
    // The requester may take off a cc, not the staff follower.
    const removeFollower = await call(people.requester, "select app_public.remove_ticket_participant($1, $2)", [
      ticket,
      people.otherAgent.id,
    ]);
    const removeCc = await call(people.requester, "select app_public.remove_ticket_participant($1, $2)", [
      ticket,
      people.stranger.id,
    ]);
    expect([codeOf(removeFollower), codeOf(removeCc)]).toEqual(["TKFBD", "ok"]);
  });

  it("lets a cc remove themselves (audited, even once closed) but not another cc; a follower leaves too", async () => {
    const ticket = await ticketIn(owner(), people.requester.id, "in_progress", people.agent.id);
    rowsOf(
      await call(people.requester, "select app_public.add_ticket_participant($1, $2, 'cc')", [
        ticket,
        people.colleague.id,
      ]),
    );
    rowsOf(
      await call(people.requester, "select app_public.add_ticket_participant($1, $2, 'cc')", [ticket, people.blind.id]),
    );
    rowsOf(
      await call(people.agent, "select app_public.add_ticket_participant($1, $2, 'follower')", [
        ticket,
        people.otherAgent.id,
      ]),
    );

    // A cc who neither requested nor manages the ticket: not another cc, not a follower, not someone absent.
    const outcomes = {
      otherCc: codeOf(
        await call(people.colleague, "select app_public.remove_ticket_participant($1, $2)", [ticket, people.blind.id]),
      ),
      follower: codeOf(
        await call(people.colleague, "select app_public.remove_ticket_participant($1, $2)", [
          ticket,
          people.otherAgent.id,
        ]),
      ),
      stranger: codeOf(
        await call(people.stranger, "select app_public.remove_ticket_participant($1, $2)", [
          ticket,
          people.stranger.id,
        ]),
      ),
      themselves: codeOf(
        await call(people.colleague, "select app_public.remove_ticket_participant($1, $2)", [
          ticket,
          people.colleague.id,
        ]),
      ),
      again: codeOf(
        await call(people.colleague, "select app_public.remove_ticket_participant($1, $2)", [
          ticket,
          people.colleague.id,
        ]),
      ),
    };
    expect(outcomes).toEqual({
      otherCc: "TKNTF",
      follower: "TKNTF",
      stranger: "TKNTF",
      themselves: "ok",
      again: "TKNTF",
    });
    expect(await sees(people.colleague, ticket)).toBe(false);
    expect(await sees(people.blind, ticket)).toBe(true);

    // Once the ticket is closed, nobody but admins changes its participants, yet a cc or a follower still leaves.
    await owner().query("update app_public.tickets set status = 'closed' where id = $1", [ticket]);
    expect(
      codeOf(
        await call(people.requester, "select app_public.remove_ticket_participant($1, $2)", [ticket, people.blind.id]),
      ),
    ).toBe("TKFBD");
    expect(
      codeOf(
        await call(people.blind, "select app_public.remove_ticket_participant($1, $2)", [ticket, people.blind.id]),
      ),
    ).toBe("ok");
    expect(
      codeOf(
        await call(people.otherAgent, "select app_public.remove_ticket_participant($1, $2)", [
          ticket,
          people.otherAgent.id,
        ]),
      ),
    ).toBe("ok");

    const { rows } = await owner().query(
      `select new_data ->> 'user_id' as user_id, new_data ->> 'removed_by' as removed_by, actor_id
         from app_private.audit_log
        where table_name = 'app_public.ticket_participants' and new_data ->> 'ticket_id' = $1 and operation = 'UPDATE'
        order by occurred_at, id`,
      [ticket],
    );
    expect(rows).toEqual(
      [people.colleague, people.blind, people.otherAgent].map((who) => ({
        user_id: who.id,
        removed_by: who.id,
        actor_id: who.id,
      })),
    );
  });

  it("counts participant changes against the edit quota", async () => {
    const ticket = await ticketIn(owner(), people.manager.id, "in_progress", people.agent.id);
    const tight = await activeUser(owner(), "Quota manager", "customer");
    await addMember(owner(), ids.acme!, tight.id, "manager");
    await owner().query("update app_public.write_quotas set max_count = 1 where role = 'customer' and kind = 'edit'");
    try {
      const first = await call(tight, "select app_public.add_ticket_participant($1, $2)", [ticket, people.blind.id]);
      const second = await call(tight, "select app_public.add_ticket_participant($1, $2)", [
        ticket,
        people.colleague.id,
      ]);
      expect([codeOf(first), codeOf(second)]).toEqual(["ok", "TKRAT"]);
    } finally {
      await owner().query(
        "update app_public.write_quotas set max_count = 60 where role = 'customer' and kind = 'edit'",
      );
    }
  });
});

describe("organization administration", () => {
  it("is for admins only", async () => {
    const outcomes = await Promise.all(
      [people.agent, people.manager].map(async (user) =>
        codeOf(await call(user, "select app_public.create_organization('Sneaky Ltd')")),
      ),
    );
    expect(outcomes).toEqual(["42501", "42501"]);
    const add = await call(people.manager, "select app_public.add_organization_member($1, $2, 'manager', true)", [
      ids.acme,
      people.stranger.id,
    ]);
    expect(codeOf(add)).toBe("42501");
  });

  it("creates an organization with normalised domains and refuses bad names and domains", async () => {
    const created = rowsOf(
      await call(
        people.admin,
        "select * from app_public.create_organization('Initech', array[' Initech.example ', 'initech.example'])",
      ),
    );
    expect(created[0]).toMatchObject({
      name: "Initech",
      domains: ["initech.example"],
      auto_join: false,
      is_active: true,
    });
    const duplicate = await call(people.admin, "select app_public.create_organization('Initech')");
    const badDomain = await call(people.admin, "select app_public.create_organization('Bad', array['not a domain'])");
    const blank = await call(people.admin, "select app_public.create_organization('   ')");
    expect([codeOf(duplicate), codeOf(badDomain), codeOf(blank)]).toEqual(["23505", "23514", "23514"]);
  });

  it("adds only active customers, brings a removed member back, and audits every change", async () => {
    const member = await activeUser(owner(), "Returning member", "customer");
    const staff = await call(people.admin, "select app_public.add_organization_member($1, $2)", [
      ids.acme,
      people.agent.id,
    ]);
    const unknown = await call(people.admin, "select app_public.add_organization_member($1, $2)", [
      people.agent.id,
      member.id,
    ]);
    expect([codeOf(staff), codeOf(unknown)]).toEqual(["TKVAL", "TKNTF"]);

    rowsOf(
      await call(people.admin, "select app_public.add_organization_member($1, $2, 'member', true)", [
        ids.acme,
        member.id,
      ]),
    );
    rowsOf(await call(people.admin, "select app_public.remove_organization_member($1, $2)", [ids.acme, member.id]));
    expect(
      codeOf(await call(people.admin, "select app_public.remove_organization_member($1, $2)", [ids.acme, member.id])),
    ).toBe("TKNTF");
    rowsOf(
      await call(people.admin, "select app_public.add_organization_member($1, $2, 'manager')", [ids.acme, member.id]),
    );
    const { rows } = await owner().query(
      `select operation, new_data ->> 'role' as role, new_data ->> 'removed_at' is not null as removed
         from app_private.audit_log
        where table_name = 'app_public.organization_memberships' and new_data ->> 'user_id' = $1 order by occurred_at`,
      [member.id],
    );
    expect(rows).toEqual([
      { operation: "INSERT", role: "member", removed: false },
      { operation: "UPDATE", role: "member", removed: true },
      { operation: "UPDATE", role: "manager", removed: false },
    ]);
  });

  it("lets customers read their organizations and managers their members, nobody else's", async () => {
    const names = async (user: FixtureUser) =>
      (await readAs(api(), user, "select name from app_public.organizations order by name")).map((row) => row.name);
    expect(await names(people.requester)).toEqual(["Acme", "Acme Labs"]);
    expect(await names(people.stranger)).toEqual([]);
    const members = async (user: FixtureUser) =>
      (
        await readAs(
          api(),
          user,
          "select user_id from app_public.organization_memberships where organization_id = $1",
          [ids.acme],
        )
      ).length;
    expect(await members(people.manager)).toBeGreaterThan(4);
    expect(await members(people.blind)).toBe(1);
    expect(await members(people.outsider)).toBe(0);
  });
});

describe("domain auto-join", () => {
  it("joins a new customer account to the opted-in organizations of its domain only", async () => {
    const optedIn = await makeOrganization(owner(), "Umbrella", { domains: ["umbrella.example"], autoJoin: true });
    const optedOut = await makeOrganization(owner(), "Umbrella Twin", { domains: ["umbrella.example"] });
    const { rows } = await owner().query<{ id: string }>(
      "select (app_private.create_user_account('new.person@Umbrella.example', 'New Person', 'customer', 'unusable')).id",
    );
    const joined = await owner().query(
      "select organization_id, role, sees_organization_tickets from app_public.organization_memberships where user_id = $1",
      [rows[0]!.id],
    );
    expect(joined.rows).toEqual([{ organization_id: optedIn, role: "member", sees_organization_tickets: false }]);
    expect(optedOut).toBeTruthy();
    const staff = await owner().query<{ id: string }>(
      "select (app_private.create_user_account('agent@umbrella.example', 'Umbrella Agent', 'agent', 'unusable')).id",
    );
    const staffJoined = await owner().query("select 1 from app_public.organization_memberships where user_id = $1", [
      staff.rows[0]!.id,
    ]);
    expect(staffJoined.rowCount).toBe(0);
  });
});

describe("in one statement", () => {
  it("reads the caller's organizations once per statement, not per row", async () => {
    const plan = await actAs(api(), actorOf(people.manager), async (client) => {
      const { rows } = await client.query(
        "explain (format json) select id from app_public.tickets order by created_at desc limit 20",
      );
      return JSON.stringify(rows[0]["QUERY PLAN"]);
    });
    expect(plan).toContain("InitPlan");
    expect(plan).not.toContain('"Subplan Name":"SubPlan');
  });
});
