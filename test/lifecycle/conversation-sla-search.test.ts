import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/test-database.ts";
import { codeOf, makeTicket, makeUser, ROLE, rowsOf, runAs } from "../support/scenario.ts";

/** Conversation side effects, SLA due times and flags, and full-text search. */
const database = useTestDatabase();
const as = (role: string, userId: string, sql: string, params: unknown[] = []) =>
  runAs(database.current.authenticator, role, userId, sql, params);
const people = {} as Record<"customer" | "otherCustomer" | "agent" | "admin", string>;

beforeAll(async () => {
  const owner = database.current.owner;
  people.customer = await makeUser(owner, "Customer", "customer");
  people.otherCustomer = await makeUser(owner, "Other Customer", "customer");
  people.agent = await makeUser(owner, "Agent", "agent");
  people.admin = await makeUser(owner, "Admin", "admin");
});

async function ticketRow(id: string) {
  return (await database.current.owner.query("select * from app_public.tickets where id = $1", [id])).rows[0];
}

describe("conversation", () => {
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
    rowsOf(await as(ROLE.customer, people.customer, "select app_public.add_comment($1, 'Here is the log')", [ticket.id]));
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
    const add = (role: string, actor: string) => as(role, actor, "select app_public.add_comment($1, 'late')", [ticket.id]);
    expect(codeOf(await add(ROLE.customer, people.customer))).toBe("TKFBD");
    expect(codeOf(await add(ROLE.agent, people.agent))).toBe("TKFBD");
    expect(codeOf(await add(ROLE.admin, people.admin))).toBe("ok");
  });
});

describe("SLA", () => {
  it("sets due times from the policy at creation and on priority change", async () => {
    const [ticket] = rowsOf(
      await as(ROLE.customer, people.customer, "insert into app_public.tickets (subject, priority) values ('Down', 'normal') returning *"),
    );
    const minutes = (due: Date) => (new Date(due).getTime() - new Date(ticket!.created_at).getTime()) / 60_000;
    expect(minutes(ticket!.first_response_due_at)).toBe(480);
    expect(minutes(ticket!.resolution_due_at)).toBe(4320);
    await database.current.owner.query("update app_public.tickets set agent_id = $1, status = 'in_progress' where id = $2", [
      people.agent,
      ticket!.id,
    ]);
    const [urgent] = rowsOf(
      await as(ROLE.agent, people.agent, "update app_public.tickets set priority = 'urgent' where id = $1 returning *", [ticket!.id]),
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
      const { rows } = await runAs(database.current.authenticator, ROLE.agent, people.agent, `
        select app_public.tickets_first_response_at_risk(t) as first_at_risk,
               app_public.tickets_first_response_breached(t) as first_breached,
               app_public.tickets_resolution_at_risk(t) as resolution_at_risk,
               app_public.tickets_resolution_breached(t) as resolution_breached
          from app_public.tickets as t where id = $1`, [ticket.id]).then((outcome) => ({ rows: rowsOf(outcome) }));
      return rows[0];
    };
    expect(await arrange(10, 20, 230)).toEqual({ first_at_risk: false, first_breached: false, resolution_at_risk: false, resolution_breached: false });
    expect(await arrange(25, 5, 215)).toEqual({ first_at_risk: true, first_breached: false, resolution_at_risk: false, resolution_breached: false });
    expect(await arrange(40, -10, 200)).toEqual({ first_at_risk: false, first_breached: true, resolution_at_risk: false, resolution_breached: false });
    expect(await arrange(220, -190, 20)).toEqual({ first_at_risk: false, first_breached: true, resolution_at_risk: true, resolution_breached: false });
    expect(await arrange(300, -270, -60)).toEqual({ first_at_risk: false, first_breached: true, resolution_at_risk: false, resolution_breached: true });
  });
});

describe("search", () => {
  let printer: string;
  let vpn: string;

  beforeAll(async () => {
    const owner = database.current.owner;
    printer = (await makeTicket(owner, people.customer, "in_progress", people.agent, { subject: "Laserwriter jams on tray two", description: "Paper crumples every morning" })).id;
    vpn = (await makeTicket(owner, people.otherCustomer, "in_progress", people.agent, { subject: "VPN drops", description: "Kerberos ticket expires" })).id;
    rowsOf(await as(ROLE.agent, people.agent, "select app_public.add_comment($1, 'Replaced the toner cartridge')", [printer]));
    rowsOf(await as(ROLE.agent, people.agent, "select app_public.add_comment($1, 'Escalate to hardware vendor zebracorp', true)", [printer]));
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
  });

  it.each([`'); drop table app_public.tickets; --`, `"unterminated`, "a & | ! <-> :*", "", "the", "-", "OR OR", "ünïcødé 🎫 票", "x".repeat(500)])(
    "treats hostile input %j as text",
    async (query) => {
      expect(codeOf(await as(ROLE.customer, people.customer, "select * from app_public.search_tickets($1)", [query]))).toBe("ok");
    },
  );

  it("refuses queries over 500 characters with a clean error", async () => {
    const outcome = await as(ROLE.customer, people.customer, "select * from app_public.search_tickets($1)", ["a ".repeat(300)]);
    expect(codeOf(outcome)).toBe("TKVAL");
  });
});
