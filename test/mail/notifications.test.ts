import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { activeUser, assignAs, commentAs, fileTicketAs, transitionAs, type FixtureUser } from "../support/fixtures.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  mailsTo,
  startSmtpSink,
  testMailConfig,
  useFastMailPolicy,
  waitForOutboxSettled,
  type ReceivedMail,
  type SmtpSink,
} from "./mail-helpers.ts";

/**
 * Notification mails from real changes, queued in their transaction by the
 * event log, sent by the real worker to a real SMTP server on 127.0.0.1.
 */
const database = useTestDatabase();
const testApi = useTestApi(database);
let sink: SmtpSink;
let worker: JobWorker;
let customer: FixtureUser;
let agent: FixtureUser;
let admin: FixtureUser;
const address: Record<string, string> = {};

async function emailOf(user: FixtureUser): Promise<string> {
  const { rows } = await database.current.owner.query(
    "select email from app_private.user_accounts where user_id = $1",
    [user.id],
  );
  return rows[0].email as string;
}

const kindOf = (mail: ReceivedMail) => mail.parsed.headers.get("x-ticketing-mail-kind");

beforeAll(async () => {
  const owner = database.current.owner;
  await useFastMailPolicy(owner);
  customer = await activeUser(owner, "Mail Customer", "customer");
  agent = await activeUser(owner, "Mail Agent", "agent");
  admin = await activeUser(owner, "Mail Admin", "admin");
  address.customer = await emailOf(customer);
  address.agent = await emailOf(agent);
  sink = await startSmtpSink();
  worker = await startJobWorker(
    {
      ownerUrl: database.current.urls.owner,
      concurrency: 2,
      webhooks: { httpsOnly: false, allowedHosts: new Set(), timeoutMs: 1_000 },
      mail: testMailConfig(sink),
    },
    createLogger("silent"),
  );
});

afterAll(async () => {
  await worker?.stop();
  await sink?.close();
});

describe("notification mails", () => {
  let ticketId = "";
  let number = "";

  it("a new ticket gets its customer a receipt with the number, threaded on the ticket", async () => {
    const owner = database.current.owner;
    ticketId = await fileTicketAs(
      database.current.authenticator,
      customer,
      "Printer <script>alert(1)</script> on fire",
    );
    const { rows } = await owner.query("select number::text from app_public.tickets where id = $1", [ticketId]);
    number = rows[0].number;
    const [receipt] = await mailsTo(sink, address.customer!);
    expect(kindOf(receipt!)).toBe("ticket_created");
    expect(receipt!.parsed.subject).toBe(
      `[#${number}] We received your request: Printer <script>alert(1)</script> on fire`,
    );
    expect(receipt!.parsed.html).toContain("Printer &lt;script&gt;alert(1)&lt;/script&gt; on fire");
    expect(receipt!.parsed.html).not.toContain("<script>");
    expect(receipt!.parsed.inReplyTo).toBe(`<ticket.${ticketId}@support.example.test>`);
    expect(receipt!.parsed.references).toBe(`<ticket.${ticketId}@support.example.test>`);
    expect(receipt!.parsed.replyTo?.text).toBe(`reply+${number}@support.example.test`);
    expect(receipt!.parsed.headers.get("auto-submitted")).toBe("auto-generated");
  });

  it("an assignment tells the agent; the admin who made it is not told", async () => {
    await assignAs(database.current.authenticator, admin, ticketId, agent.id);
    const [assigned] = await mailsTo(sink, address.agent!);
    expect(kindOf(assigned!)).toBe("ticket_assigned");
    expect(assigned!.parsed.subject).toBe(`[#${number}] Assigned to you: Printer <script>alert(1)</script> on fire`);
  });

  it("an agent's reply produces exactly one mail to the customer, threaded, with no internal content", async () => {
    const owner = database.current.owner;
    await commentAs(database.current.authenticator, agent, ticketId, "INTERNAL: customer is on the watch list", true);
    await commentAs(database.current.authenticator, agent, ticketId, "Please switch it off and on again.");
    await waitForOutboxSettled(owner);
    const toCustomer = sink.received.filter((mail) => mail.envelopeTo.includes(address.customer!));
    const replies = toCustomer.filter((mail) => kindOf(mail) === "ticket_reply");
    expect(replies).toHaveLength(1);
    const reply = replies[0]!;
    expect(reply.parsed.subject).toBe(`[#${number}] Printer <script>alert(1)</script> on fire`);
    expect(reply.parsed.text).toContain("Please switch it off and on again.");
    expect(reply.parsed.text).toContain("Mail Agent wrote:");
    expect(reply.parsed.messageId).toMatch(/^<mail\.[0-9a-f-]+@support\.example\.test>$/);
    expect(reply.parsed.inReplyTo).toBe(`<ticket.${ticketId}@support.example.test>`);
    for (const mail of toCustomer) expect(mail.raw.toString()).not.toContain("watch list");
    // Nobody else was mailed about the internal note either.
    const { rows } = await owner.query(
      "select count(*)::integer as n from app_private.outbound_mails where ticket_id = $1 and kind in ('ticket_reply', 'customer_reply')",
      [ticketId],
    );
    expect(rows[0].n).toBe(1);
  });

  it("a customer's reply tells the assigned agent", async () => {
    await commentAs(database.current.authenticator, customer, ticketId, "Did that, still smoking.");
    const mails = await mailsTo(sink, address.agent!, 2);
    expect(kindOf(mails[1]!)).toBe("customer_reply");
    expect(mails[1]!.parsed.text).toContain("Did that, still smoking.");
  });

  it("a status change to waiting or resolved tells the customer; others do not", async () => {
    await transitionAs(database.current.authenticator, agent, ticketId, "in_progress");
    await waitForOutboxSettled(database.current.owner);
    const before = sink.received.filter((mail) => mail.envelopeTo.includes(address.customer!)).length;
    await transitionAs(database.current.authenticator, agent, ticketId, "waiting_on_customer");
    const mails = await mailsTo(sink, address.customer!, before + 1);
    expect(kindOf(mails.at(-1)!)).toBe("ticket_status");
    expect(mails.at(-1)!.parsed.text).toContain("waiting for your answer");
    await transitionAs(database.current.authenticator, agent, ticketId, "in_progress");
    await waitForOutboxSettled(database.current.owner);
    expect(sink.received.filter((mail) => mail.envelopeTo.includes(address.customer!))).toHaveLength(before + 1);
  });

  it("a kind turned off is not sent; the preference is the user's own", async () => {
    const set = await graphql(
      testApi.current.request,
      `mutation { setNotificationPreference(input: { kind: "ticket_reply", enabled: false }) { notificationPreference { kind enabled } } }`,
      {},
      bearer(customer.id, "ticketing_customer"),
    );
    expect(set.body.errors).toBeUndefined();
    expect(set.body.data.setNotificationPreference.notificationPreference).toEqual({
      kind: "ticket_reply",
      enabled: false,
    });
    const mine = await graphql(
      testApi.current.request,
      "{ myNotificationPreferences { nodes { kind enabled } } }",
      {},
      bearer(customer.id, "ticketing_customer"),
    );
    expect(mine.body.data.myNotificationPreferences.nodes).toContainEqual({ kind: "ticket_reply", enabled: false });
    expect(mine.body.data.myNotificationPreferences.nodes).toContainEqual({ kind: "ticket_status", enabled: true });
    const bad = await graphql(
      testApi.current.request,
      `mutation { setNotificationPreference(input: { kind: "everything", enabled: false }) { clientMutationId } }`,
      {},
      bearer(customer.id, "ticketing_customer"),
    );
    expect(bad.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/^The kind must be one of/),
      extensions: { code: "INVALID_INPUT" },
    });

    await commentAs(database.current.authenticator, agent, ticketId, "Any news?");
    await waitForOutboxSettled(database.current.owner);
    const replies = sink.received.filter(
      (mail) => mail.envelopeTo.includes(address.customer!) && kindOf(mail) === "ticket_reply",
    );
    expect(replies).toHaveLength(1);
  });

  it("a breached SLA clock tells the assigned agent once per breach; being at risk mails nobody", async () => {
    const owner = database.current.owner;
    const late = await fileTicketAs(database.current.authenticator, customer, "Payroll export fails");
    await owner.query("update app_public.tickets set agent_id = $2, status = 'in_progress' where id = $1", [
      late,
      agent.id,
    ]);
    // As the sla_clock job records them (docs/business-hours.md): once per clock, kind and due time.
    const record = (clock: string, kind: string) =>
      owner.query(
        `insert into app_public.sla_events (ticket_id, clock, kind, due_at, priority, agent_id, calendar_id)
         values ($1, $2, $3, '2026-01-01T10:00:00Z', 'high', $4, '00000000-0000-7000-8000-000000002407')
         on conflict on constraint sla_events_once do nothing`,
        [late, clock, kind, agent.id],
      );
    await record("first_response", "at_risk");
    await record("first_response", "breached");
    await record("resolution", "breached");
    await record("resolution", "breached");
    await waitForOutboxSettled(owner);
    const breaches = sink.received.filter(
      (mail) => mail.envelopeTo.includes(address.agent!) && kindOf(mail) === "sla_breach",
    );
    expect(breaches.map((mail) => mail.parsed.subject).sort()).toEqual([
      expect.stringMatching(/SLA missed \(first response\): Payroll export fails$/),
      expect.stringMatching(/SLA missed \(resolution\): Payroll export fails$/),
    ]);
  });
});
