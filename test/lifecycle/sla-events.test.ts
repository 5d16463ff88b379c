import { beforeAll, describe, expect, it } from "vitest";
import { recordSlaEvents } from "../../src/worker/job-worker.ts";
import {
  activeUser,
  actorOf,
  assignAs,
  commentAs,
  type FixtureUser,
  fileTicketAs,
  ROLE,
  transitionAs,
} from "../support/fixtures.ts";
import { actAs, sqlState, useTestDatabase } from "../support/test-database.ts";

/**
 * SLA events: met and breached when a reply or resolution happens, breached
 * and at risk from the sla_clock job when a clock passes its time with no
 * write; once each; in the event log (subscriptions, webhooks); staff only;
 * counted by week, priority, agent and calendar for analysts.
 */
const database = useTestDatabase();
let customer: FixtureUser;
let agent: FixtureUser;
let otherAgent: FixtureUser;
let admin: FixtureUser;

async function events(ticketId: string): Promise<string[]> {
  const { rows } = await database.current.owner.query(
    "select clock || ':' || kind as event from app_public.sla_events where ticket_id = $1 order by occurred_at, clock",
    [ticketId],
  );
  return rows.map((row) => row.event);
}

async function loggedKinds(ticketId: string): Promise<string[]> {
  const { rows } = await database.current.owner.query(
    "select kind from app_private.realtime_events where ticket_id = $1 and kind like 'sla_%' order by id",
    [ticketId],
  );
  return rows.map((row) => row.kind);
}

beforeAll(async () => {
  const owner = database.current.owner;
  customer = await activeUser(owner, "Events Customer", "customer");
  agent = await activeUser(owner, "Events Agent", "agent");
  otherAgent = await activeUser(owner, "Events Other Agent", "agent");
  admin = await activeUser(owner, "Events Admin", "admin");
});

describe("SLA events", () => {
  it("records met when the reply and the resolution come in time", async () => {
    const api = database.current.authenticator;
    const id = await fileTicketAs(api, customer, "Quick one", undefined, "low");
    await assignAs(api, admin, id, agent.id);
    await transitionAs(api, agent, id, "in_progress");
    await commentAs(api, agent, id, "On it");
    expect(await events(id)).toEqual(["first_response:met"]);
    await transitionAs(api, agent, id, "resolved");
    expect(await events(id)).toEqual(["first_response:met", "resolution:met"]);
    expect(await loggedKinds(id)).toEqual(["sla_met", "sla_met"]);
  });

  it("records a breach that happens with no write, once, from the job; staff read it, customers cannot", async () => {
    const api = database.current.authenticator;
    const owner = database.current.owner;
    const id = await fileTicketAs(api, customer, "Forgotten", undefined, "urgent");
    await assignAs(api, admin, id, agent.id);
    await transitionAs(api, agent, id, "in_progress");
    // Time passes: the first-response due time is behind us, resolution is close.
    await owner.query(
      `update app_public.tickets
          set created_at = now() - interval '1 hour', first_response_due_at = now() - interval '1 minute',
              resolution_due_at = now() + interval '10 minutes'
        where id = $1`,
      [id],
    );
    const client = await owner.connect();
    try {
      expect(await recordSlaEvents(client)).toBe(2);
      // Nothing new: each event once per clock, kind and due time.
      expect(await recordSlaEvents(client)).toBe(0);
    } finally {
      client.release();
    }
    expect((await events(id)).sort()).toEqual(["first_response:breached", "resolution:at_risk"]);
    expect((await loggedKinds(id)).sort()).toEqual(["sla_at_risk", "sla_breached"]);

    const read = (user: FixtureUser) =>
      actAs(api, actorOf(user), async (client) => {
        const { rows } = await client.query("select kind from app_public.sla_events where ticket_id = $1", [id]);
        return rows.length;
      });
    expect(await read(agent)).toBe(2);
    expect(await read(admin)).toBe(2);
    expect(await read(otherAgent)).toBe(0);
    expect(await sqlState(() => read(customer))).toBe("42501");
    // Append-only, for the owner too (it holds no UPDATE; the trigger stands behind).
    expect(
      await sqlState(() => owner.query("update app_public.sla_events set kind = 'met' where ticket_id = $1", [id])),
    ).toBe("42501");

    // A late reply is not met.
    await commentAs(api, agent, id, "Sorry for the wait");
    expect((await events(id)).sort()).toEqual(["first_response:breached", "resolution:at_risk"]);
  });

  it("is counted by week, clock, priority, agent and calendar for analysts", async () => {
    const rows = await actAs(database.current.root, { role: ROLE.analyst }, async (client) => {
      const result = await client.query(
        `select clock, priority, agent_id, calendar_name, met, breached, at_risk, compliance::text as compliance
           from app_reporting.sla_event_compliance order by clock, priority`,
      );
      return result.rows;
    });
    const row = (
      clock: string,
      priority: string,
      met: number,
      breached: number,
      atRisk: number,
      compliance: string | null,
    ) => ({
      clock,
      priority,
      agent_id: agent.id,
      calendar_name: "24x7",
      met,
      breached,
      at_risk: atRisk,
      compliance,
    });
    expect(rows).toEqual([
      row("first_response", "low", 1, 0, 0, "1.0000"),
      row("first_response", "urgent", 0, 1, 0, "0.0000"),
      row("resolution", "low", 1, 0, 0, "1.0000"),
      row("resolution", "urgent", 0, 0, 1, null),
    ]);
  });

  it("lets webhooks subscribe to the SLA event types", async () => {
    const state = await sqlState(() =>
      actAs(database.current.authenticator, actorOf(admin), (client) =>
        client.query(
          "select app_public.create_webhook_endpoint('https://hooks.example.com/sla', array['ticket.sla_breached'])",
        ),
      ),
    );
    expect(state).toBe("ok");
  });
  it("records at risk from the job when the at-risk instant passes, however far the due time", async () => {
    const api = database.current.authenticator;
    const owner = database.current.owner;
    // Forty days to resolve: at risk ten days before the due time (24x7).
    await owner.query("update app_public.sla_policies set resolution_minutes = 57600 where priority = 'high'");
    const id = await fileTicketAs(api, customer, "Long haul", undefined, "high");
    await assignAs(api, admin, id, agent.id);
    await transitionAs(api, agent, id, "in_progress");
    await commentAs(api, agent, id, "Looking into it");
    const stored = async () =>
      (
        await owner.query(
          `select extract(epoch from resolution_due_at - resolution_at_risk_at)::integer as before_due,
                  first_response_at_risk_at
             from app_public.tickets where id = $1`,
          [id],
        )
      ).rows[0];
    // The instant is stored with the due time; the reply ended the first-response clock.
    expect(await stored()).toEqual({ before_due: 10 * 86_400, first_response_at_risk_at: null });
    const client = await owner.connect();
    try {
      await recordSlaEvents(client);
      expect(await events(id)).toEqual(["first_response:met"]);
      // Thirty-four days pass: due in six days, at risk since four days ago.
      await owner.query("update app_public.tickets set resolution_due_at = now() + interval '6 days' where id = $1", [
        id,
      ]);
      expect((await stored()).before_due).toBe(10 * 86_400);
      await recordSlaEvents(client);
      expect(await events(id)).toEqual(["first_response:met", "resolution:at_risk"]);
      // A pause clears it; nothing more is recorded.
      await transitionAs(api, agent, id, "waiting_on_customer");
      expect(await stored()).toEqual({ before_due: null, first_response_at_risk_at: null });
      expect(await recordSlaEvents(client)).toBe(0);
    } finally {
      client.release();
    }
  });
});
