import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { type Cast, codeOf, makeTicket, makeUser, ROLE, rowsOf, runAs, standardCast } from "../support/fixtures.ts";

/** Conversation side effects, SLA due times and flags, and full-text search. */
const database = useTestDatabase();
const as = (role: string, userId: string, sql: string, params: unknown[] = []) =>
  runAs(database.current.authenticator, role, userId, sql, params);
const people = {} as Cast & Record<"deactivated" | "demoted", string>;

beforeAll(async () => {
  const owner = database.current.owner;
  Object.assign(people, await standardCast(owner));
  people.deactivated = await makeUser(owner, "Deactivated Customer", "customer", false);
  people.demoted = await makeUser(owner, "Demoted Agent", "agent");
  await owner.query("update app_public.users set role = 'customer' where id = $1", [people.demoted]);
});

async function ticketRow(id: string) {
  return (await database.current.owner.query("select * from app_public.tickets where id = $1", [id])).rows[0];
}

describe("conversation", () => {
  // [who, as role, which ticket, internal, expected]
  const WHO_MAY_COMMENT = [
    ["customer", "customer", "own", false, "ok"],
    ["customer", "customer", "own", true, "TKFBD"],
    ["customer", "customer", "ownOpen", false, "ok"],
    ["otherCustomer", "customer", "own", false, "TKNTF"],
    ["agent", "agent", "own", false, "ok"],
    ["agent", "agent", "own", true, "ok"],
    ["otherAgent", "agent", "ownOpen", true, "ok"],
    ["otherAgent", "agent", "own", false, "TKNTF"],
    ["otherAgent", "agent", "resolvedUnassigned", true, "TKNTF"],
    ["admin", "admin", "own", true, "ok"],
    ["admin", "admin", "resolvedUnassigned", false, "ok"],
    ["deactivated", "customer", "deactivatedOwn", false, "TKFBD"],
    ["demoted", "agent", "ownOpen", true, "TKNTF"],
    ["demoted", "customer", "ownOpen", false, "TKNTF"],
  ] as const;

  it.each(WHO_MAY_COMMENT)(
    "%s (as %s) on the %s ticket, internal %s: %s",
    async (who, role, which, internal, expected) => {
      const owner = database.current.owner;
      const tickets = {
        own: () => makeTicket(owner, people.customer, "in_progress", people.agent),
        ownOpen: () => makeTicket(owner, people.customer, "open"),
        resolvedUnassigned: () => makeTicket(owner, people.customer, "resolved"),
        deactivatedOwn: async () => {
          await owner.query("update app_public.users set is_active = true where id = $1", [people.deactivated]);
          const ticket = await makeTicket(owner, people.deactivated, "open");
          await owner.query("update app_public.users set is_active = false where id = $1", [people.deactivated]);
          return ticket;
        },
      };
      const ticket = await tickets[which]();
      const count = async () =>
        (
          await owner.query("select count(*)::int as n from app_public.ticket_comments where ticket_id = $1", [
            ticket.id,
          ])
        ).rows[0].n;
      const outcome = await as(ROLE[role], people[who], "select * from app_public.add_comment($1, 'Hello', $2)", [
        ticket.id,
        internal,
      ]);
      expect(codeOf(outcome)).toBe(expected);
      if (expected === "ok") {
        expect(rowsOf(outcome)[0]).toMatchObject({ author_id: people[who], is_internal: internal, body: "Hello" });
        expect(await count()).toBe(1);
      } else {
        expect(await count()).toBe(0);
      }
    },
  );

  it("refuses empty, blank and oversized comments", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    // The body's rule is stated once, by its column: not null, and ticket_comments_body_length.
    expect(codeOf(await as(ROLE.agent, people.agent, "select app_public.add_comment($1, $2)", [ticket.id, null]))).toBe(
      "23502",
    );
    for (const body of ["", "   ", "x".repeat(20_001)]) {
      const outcome = await as(ROLE.agent, people.agent, "select app_public.add_comment($1, $2)", [ticket.id, body]);
      expect(codeOf(outcome)).toBe("23514");
    }
    expect(
      codeOf(
        await as(ROLE.agent, people.agent, "select app_public.add_comment($1, $2)", [ticket.id, "x".repeat(20_000)]),
      ),
    ).toBe("ok");
  });

  it("refuses a comment made only of line breaks and tabs", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    const outcome = await as(ROLE.agent, people.agent, "select app_public.add_comment($1, $2)", [
      ticket.id,
      "\n\t\r\n",
    ]);
    expect(codeOf(outcome)).toBe("23514");
    const subject = "insert into app_public.tickets (subject) values ($1)";
    expect(codeOf(await as(ROLE.customer, people.customer, subject, ["\n\t\r\n"]))).toBe("23514");
  });

  it("sets first_responded_at on the first public staff reply only", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "in_progress", people.agent);
    const comment = (role: string, actor: string, body: string, internal = false) =>
      as(role, actor, "select app_public.add_comment($1, $2, $3)", [ticket.id, body, internal]);
    rowsOf(await comment(ROLE.customer, people.customer, "Any news?"));
    rowsOf(await comment(ROLE.agent, people.agent, "Internal: checking logs", true));
    expect((await ticketRow(ticket.id)).first_responded_at).toBeNull();
    rowsOf(await comment(ROLE.agent, people.agent, "We are on it"));
    const first = (await ticketRow(ticket.id)).first_responded_at;
    expect(first).not.toBeNull();
    rowsOf(await comment(ROLE.admin, people.admin, "Admin here too"));
    expect((await ticketRow(ticket.id)).first_responded_at).toEqual(first);
  });

  it("moves a waiting ticket back to in_progress when its customer replies", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "waiting_on_customer", people.agent);
    rowsOf(await as(ROLE.agent, people.agent, "select app_public.add_comment($1, 'ping', true)", [ticket.id]));
    expect((await ticketRow(ticket.id)).status).toBe("waiting_on_customer");
    rowsOf(
      await as(ROLE.customer, people.customer, "select app_public.add_comment($1, 'Here is the log')", [ticket.id]),
    );
    expect((await ticketRow(ticket.id)).status).toBe("in_progress");
    const { rows } = await database.current.owner.query(
      "select from_status, to_status, changed_by, note from app_public.ticket_status_history where ticket_id = $1 order by changed_at desc, id desc limit 1",
      [ticket.id],
    );
    expect(rows[0]).toEqual({
      from_status: "waiting_on_customer",
      to_status: "in_progress",
      changed_by: people.customer,
      note: "Customer replied",
    });
  });

  it("accepts comments on closed tickets from admins only", async () => {
    const ticket = await makeTicket(database.current.owner, people.customer, "closed", people.agent);
    const add = (role: string, actor: string) =>
      as(role, actor, "select app_public.add_comment($1, 'late')", [ticket.id]);
    expect(codeOf(await add(ROLE.customer, people.customer))).toBe("TKFBD");
    expect(codeOf(await add(ROLE.agent, people.agent))).toBe("TKFBD");
    expect(codeOf(await add(ROLE.admin, people.admin))).toBe("ok");
  });
});

describe("SLA", () => {
  it("sets due times from the policy at creation and on priority change", async () => {
    const [ticket] = rowsOf(
      await as(
        ROLE.customer,
        people.customer,
        "insert into app_public.tickets (subject, priority) values ('Down', 'normal') returning *",
      ),
    );
    const minutes = (due: Date) => (new Date(due).getTime() - new Date(ticket!.created_at).getTime()) / 60_000;
    expect(minutes(ticket!.first_response_due_at)).toBe(480);
    expect(minutes(ticket!.resolution_due_at)).toBe(4320);
    await database.current.owner.query(
      "update app_public.tickets set agent_id = $1, status = 'in_progress' where id = $2",
      [people.agent, ticket!.id],
    );
    const [urgent] = rowsOf(
      await as(
        ROLE.agent,
        people.agent,
        "update app_public.tickets set priority = 'urgent' where id = $1 returning *",
        [ticket!.id],
      ),
    );
    expect(minutes(urgent!.first_response_due_at)).toBe(30);
    expect(minutes(urgent!.resolution_due_at)).toBe(240);
  });

  it("flags tickets at risk and breached", async () => {
    const owner = database.current.owner;
    const arrange = async (createdMinutesAgo: number, firstDueIn: number, resolutionDueIn: number) => {
      const ticket = await makeTicket(owner, people.customer, "in_progress", people.agent, { priority: "urgent" });
      await owner.query(
        `update app_public.tickets
            set created_at = now() - make_interval(mins => $2),
                first_response_due_at = now() + make_interval(mins => $3),
                resolution_due_at = now() + make_interval(mins => $4)
          where id = $1`,
        [ticket.id, createdMinutesAgo, firstDueIn, resolutionDueIn],
      );
      const { rows } = await runAs(
        database.current.authenticator,
        ROLE.agent,
        people.agent,
        `
        select app_public.tickets_first_response_at_risk(t) as first_at_risk,
               app_public.tickets_first_response_breached(t) as first_breached,
               app_public.tickets_resolution_at_risk(t) as resolution_at_risk,
               app_public.tickets_resolution_breached(t) as resolution_breached
          from app_public.tickets as t where id = $1`,
        [ticket.id],
      ).then((outcome) => ({ rows: rowsOf(outcome) }));
      return rows[0];
    };
    expect(await arrange(10, 20, 230)).toEqual({
      first_at_risk: false,
      first_breached: false,
      resolution_at_risk: false,
      resolution_breached: false,
    });
    expect(await arrange(25, 5, 215)).toEqual({
      first_at_risk: true,
      first_breached: false,
      resolution_at_risk: false,
      resolution_breached: false,
    });
    expect(await arrange(40, -10, 200)).toEqual({
      first_at_risk: false,
      first_breached: true,
      resolution_at_risk: false,
      resolution_breached: false,
    });
    expect(await arrange(220, -190, 20)).toEqual({
      first_at_risk: false,
      first_breached: true,
      resolution_at_risk: true,
      resolution_breached: false,
    });
    expect(await arrange(300, -270, -60)).toEqual({
      first_at_risk: false,
      first_breached: true,
      resolution_at_risk: false,
      resolution_breached: true,
    });
  });
});

describe("search", () => {
  let printer: string;
  let vpn: string;

  beforeAll(async () => {
    const owner = database.current.owner;
    printer = (
      await makeTicket(owner, people.customer, "in_progress", people.agent, {
        subject: "Laserwriter jams on tray two",
        description: "Paper crumples every morning",
      })
    ).id;
    vpn = (
      await makeTicket(owner, people.otherCustomer, "in_progress", people.agent, {
        subject: "VPN drops",
        description: "Kerberos ticket expires",
      })
    ).id;
    rowsOf(
      await as(ROLE.agent, people.agent, "select app_public.add_comment($1, 'Replaced the toner cartridge')", [
        printer,
      ]),
    );
    rowsOf(
      await as(
        ROLE.agent,
        people.agent,
        "select app_public.add_comment($1, 'Escalate to hardware vendor zebracorp', true)",
        [printer],
      ),
    );
  });

  const search = async (role: string, actor: string, query: string) =>
    rowsOf(await as(role, actor, "select id from app_public.search_tickets($1)", [query])).map((row) => row.id);

  it("finds subject, description and public comments, ranked", async () => {
    expect(await search(ROLE.customer, people.customer, "laserwriter")).toEqual([printer]);
    expect(await search(ROLE.customer, people.customer, "paper crumples")).toEqual([printer]);
    expect(await search(ROLE.customer, people.customer, "toner")).toEqual([printer]);
    expect(await search(ROLE.agent, people.agent, "laserwriter or vpn")).toHaveLength(2);
    // The ticket matching in its subject ranks above one matching only in a comment.
    rowsOf(await as(ROLE.agent, people.agent, "select app_public.add_comment($1, 'Not a laserwriter issue')", [vpn]));
    expect(await search(ROLE.agent, people.agent, "laserwriter")).toEqual([printer, vpn]);
  });

  it("matches internal notes for staff only", async () => {
    expect(await search(ROLE.agent, people.agent, "zebracorp")).toEqual([printer]);
    expect(await search(ROLE.customer, people.customer, "zebracorp")).toEqual([]);
  });

  it("never returns a ticket the caller may not read", async () => {
    expect(await search(ROLE.customer, people.customer, "kerberos")).toEqual([]);
    expect(await search(ROLE.customer, people.otherCustomer, "kerberos")).toEqual([vpn]);
    expect(await search(ROLE.customer, people.otherCustomer, "toner")).toEqual([]);
    // Another agent's work in progress is out of reach, by its text or its conversation.
    expect(await search(ROLE.agent, people.otherAgent, "kerberos")).toEqual([]);
    expect(await search(ROLE.agent, people.otherAgent, "toner")).toEqual([]);
    expect(await search(ROLE.agent, people.otherAgent, "zebracorp")).toEqual([]);
    expect(await search(ROLE.admin, people.admin, "zebracorp")).toEqual([printer]);
    // Stale or disabled accounts see nothing.
    expect(await search(ROLE.agent, people.demoted, "kerberos or laserwriter")).toEqual([]);
    expect(await search(ROLE.customer, people.deactivated, "kerberos or laserwriter")).toEqual([]);
  });

  it("finds an open ticket for every agent, and loses it once another agent claims it", async () => {
    const open = (
      await makeTicket(database.current.owner, people.customer, "open", null, {
        subject: "Quokka badge reader offline",
      })
    ).id;
    expect(await search(ROLE.agent, people.otherAgent, "quokka")).toEqual([open]);
    rowsOf(await as(ROLE.agent, people.agent, "select app_public.assign_ticket($1, $2)", [open, people.agent]));
    rowsOf(await as(ROLE.agent, people.agent, "select app_public.transition_ticket($1, 'in_progress')", [open]));
    expect(await search(ROLE.agent, people.otherAgent, "quokka")).toEqual([]);
    expect(await search(ROLE.agent, people.agent, "quokka")).toEqual([open]);
  });

  it("searches text that looks like SQL, operators or other scripts as plain words", async () => {
    const owner = database.current.owner;
    const sqlish = (
      await makeTicket(owner, people.customer, "open", null, { subject: "Report says drop table failed" })
    ).id;
    const accented = (
      await makeTicket(owner, people.customer, "open", null, { subject: "Café machine shows 故障 and ☕" })
    ).id;
    expect(await search(ROLE.customer, people.customer, "'); drop table")).toEqual([sqlish]);
    expect(await search(ROLE.customer, people.customer, "café")).toEqual([accented]);
    expect(await search(ROLE.customer, people.customer, "故障")).toEqual([accented]);
    expect(await search(ROLE.customer, people.customer, "&|!:* café")).toEqual([accented]);
    const { rows } = await owner.query("select count(*)::int as n from app_public.tickets");
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it.each([
    `'); drop table app_public.tickets; --`,
    `"unterminated`,
    "a & | ! <-> :*",
    "",
    "the",
    "-",
    "OR OR",
    "ünïcødé 🎫 票",
    "x".repeat(500),
  ])("treats hostile input %j as text", async (query) => {
    expect(
      codeOf(await as(ROLE.customer, people.customer, "select * from app_public.search_tickets($1)", [query])),
    ).toBe("ok");
  });

  it.each([
    ["500 words", "a ".repeat(300)],
    ["10 kB of SQL and operators", "'); drop table app_public.tickets; -- & | ! :* ".repeat(220)],
  ])("refuses queries over 500 characters (%s) with a clean error", async (_what, query) => {
    const outcome = await as(ROLE.customer, people.customer, "select * from app_public.search_tickets($1)", [query]);
    expect(codeOf(outcome)).toBe("TKVAL");
    expect(outcome.ok ? "" : outcome.message).toBe("The search text is too long (at most 500 characters)");
  });
});
