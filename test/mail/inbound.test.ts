import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { startJobWorker, type JobWorker } from "../../src/worker/job-worker.ts";
import { activeUser, commentAs, fileTicketAs, type FixtureUser } from "../support/fixtures.ts";
import { useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import {
  mailsTo,
  startSmtpSink,
  testMailConfig,
  useFastMailPolicy,
  waitForOutboxSettled,
  type SmtpSink,
} from "./mail-helpers.ts";

/**
 * Replies by mail, end to end: an agent's reply is mailed by the real worker
 * to a real SMTP server on 127.0.0.1; the customer's answer, posted to
 * /inbound/email as the raw message an MTA would deliver, lands on the
 * ticket as their public comment. Automatic mail never does.
 */
const SECRET = "inbound-secret-of-the-test-relay-0123456789";
const database = useTestDatabase();
const testApi = useTestApi(database, {
  inbound: { secret: SECRET, maxBytes: 200_000, unknownSender: "reject", replyDomain: "support.example.test" },
});
let sink: SmtpSink;
let worker: JobWorker;
let customer: FixtureUser;
let agent: FixtureUser;
let customerEmail = "";
let ticketId = "";
let number = "";

function rawMessage(headers: Record<string, string>, body: string): string {
  const lines = Object.entries({
    Date: "Mon, 30 Nov 2026 12:00:00 +0000",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=utf-8",
    ...headers,
  }).map(([name, value]) => `${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n${body.replace(/\n/g, "\r\n")}`;
}

function post(raw: string | Buffer, secret = SECRET) {
  return testApi.current.request
    .post("/inbound/email")
    .set("Content-Type", "message/rfc822")
    .set("Authorization", `Bearer ${secret}`)
    .send(raw);
}

async function commentsOf(id: string) {
  const { rows } = await database.current.owner.query(
    "select author_id, body, is_internal from app_public.ticket_comments where ticket_id = $1 order by created_at",
    [id],
  );
  return rows;
}

beforeAll(async () => {
  const owner = database.current.owner;
  await useFastMailPolicy(owner);
  customer = await activeUser(owner, "Inbound Customer", "customer");
  agent = await activeUser(owner, "Inbound Agent", "agent");
  const { rows } = await owner.query("select email from app_private.user_accounts where user_id = $1", [customer.id]);
  customerEmail = rows[0].email;
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
  ticketId = await fileTicketAs(database.current.authenticator, customer, "VPN drops every hour");
  const ticket = await owner.query("select number::text from app_public.tickets where id = $1", [ticketId]);
  number = ticket.rows[0].number;
  await owner.query("update app_public.tickets set agent_id = $1, status = 'in_progress' where id = $2", [
    agent.id,
    ticketId,
  ]);
});

afterAll(async () => {
  await worker?.stop();
  await sink?.close();
});

describe("POST /inbound/email", () => {
  it("refuses a request without the shared secret, before reading the message", async () => {
    const response = await post(rawMessage({ From: customerEmail, Subject: "hi" }, "hello"), "wrong-secret");
    expect(response.status).toBe(401);
    const none = await testApi.current.request.post("/inbound/email").send("x");
    expect(none.status).toBe(401);
  });

  it("refuses a message over the size limit with 413", async () => {
    const response = await post(rawMessage({ From: customerEmail, Subject: "big" }, "x".repeat(250_000)));
    expect(response.status).toBe(413);
  });

  it("the customer's reply to the agent's mail lands as their public comment, quoted history trimmed", async () => {
    await commentAs(database.current.authenticator, agent, ticketId, "Please update the VPN client to 5.2.");
    const mails = await mailsTo(sink, customerEmail, 2);
    const reply = mails.find((mail) => mail.parsed.headers.get("x-ticketing-mail-kind") === "ticket_reply")!;
    expect(reply.parsed.replyTo?.text).toBe(`reply+${number}@support.example.test`);
    const raw = rawMessage(
      {
        From: `Inbound Customer <${customerEmail}>`,
        To: `reply+${number}@support.example.test`,
        Subject: `Re: ${reply.parsed.subject}`,
        "Message-ID": "<answer-1@customer.example.com>",
        "In-Reply-To": reply.parsed.messageId!,
        References: `${reply.parsed.references} ${reply.parsed.messageId}`,
      },
      "Updated, and it has held for two hours now.\n\nThanks!\n\nOn Mon, 30 Nov 2026 at 12:00, Helpdesk wrote:\n> Please update the VPN client to 5.2.\n\n-- \nInbound Customer, ACME\n",
    );
    const response = await post(raw);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ decision: "comment", ticketId });
    const comments = await commentsOf(ticketId);
    expect(comments.at(-1)).toEqual({
      author_id: customer.id,
      body: "Updated, and it has held for two hours now.\n\nThanks!",
      is_internal: false,
    });
    // The agent is told of the customer's reply.
    const agentEmail = (
      await database.current.owner.query("select email from app_private.user_accounts where user_id = $1", [agent.id])
    ).rows[0].email;
    await waitForOutboxSettled(database.current.owner);
    const toAgent = sink.received.filter((mail) => mail.envelopeTo.includes(agentEmail));
    expect(toAgent.filter((mail) => mail.parsed.text?.includes("held for two hours"))).toHaveLength(1);
  });

  it("the same message delivered twice is added once", async () => {
    const before = (await commentsOf(ticketId)).length;
    const raw = rawMessage(
      {
        From: customerEmail,
        To: `reply+${number}@support.example.test`,
        Subject: `Re: [#${number}] VPN`,
        "Message-ID": "<answer-1@customer.example.com>",
      },
      "Updated, and it has held for two hours now.",
    );
    const response = await post(raw);
    expect(response.body).toEqual({ decision: "ignored", reason: "duplicate Message-ID", ticketId: null });
    expect(await commentsOf(ticketId)).toHaveLength(before);
  });

  it("an auto-reply to our mail is refused: no comment, no ticket, no mail back", async () => {
    await waitForOutboxSettled(database.current.owner);
    const mailsBefore = sink.received.length;
    const commentsBefore = (await commentsOf(ticketId)).length;
    const { rows: ticketsBefore } = await database.current.owner.query(
      "select count(*)::integer as n from app_public.tickets",
    );
    const automatic: Record<string, string>[] = [
      { "Auto-Submitted": "auto-replied", Subject: `Out of office: [#${number}] VPN` },
      { Precedence: "auto_reply", Subject: "Automatic reply" },
      { From: "MAILER-DAEMON@mx.customer.example.com", Subject: "Undelivered Mail Returned to Sender" },
      {
        "Content-Type": 'multipart/report; report-type=delivery-status; boundary="b"',
        Subject: "Delivery Status Notification",
      },
      { From: "help@support.example.test", Subject: "We received your request" },
    ];
    for (const headers of automatic) {
      const response = await post(
        rawMessage(
          { From: customerEmail, To: `reply+${number}@support.example.test`, ...headers },
          "I am away until Monday.",
        ),
      );
      expect(response.status).toBe(200);
      expect(response.body.decision, JSON.stringify(headers)).toBe("ignored");
    }
    await waitForOutboxSettled(database.current.owner);
    expect(await commentsOf(ticketId)).toHaveLength(commentsBefore);
    const { rows: ticketsAfter } = await database.current.owner.query(
      "select count(*)::integer as n from app_public.tickets",
    );
    expect(ticketsAfter[0].n).toBe(ticketsBefore[0].n);
    expect(sink.received.length).toBe(mailsBefore);
    const { rows: logged } = await database.current.owner.query(
      "select count(*)::integer as n from app_private.inbound_emails where decision = 'ignored'",
    );
    expect(logged[0].n).toBeGreaterThanOrEqual(6);
  });

  it("a new message from a known customer opens a ticket with a receipt; an unknown sender is refused", async () => {
    const response = await post(
      rawMessage(
        {
          From: customerEmail,
          To: "support@support.example.test",
          Subject: "Printer jams",
          "Message-ID": "<new-1@customer.example.com>",
        },
        "Paper jams on tray 2.",
      ),
    );
    expect(response.body).toMatchObject({ decision: "ticket" });
    const { rows } = await database.current.owner.query(
      "select subject, description, customer_id, number::text from app_public.tickets where id = $1",
      [response.body.ticketId],
    );
    expect(rows[0]).toMatchObject({
      subject: "Printer jams",
      description: "Paper jams on tray 2.",
      customer_id: customer.id,
    });
    const mails = await mailsTo(sink, customerEmail, 3);
    expect(
      mails.some((mail) => mail.parsed.subject === `[#${rows[0].number}] We received your request: Printer jams`),
    ).toBe(true);

    const stranger = await post(
      rawMessage({ From: "stranger@elsewhere.example.com", Subject: "Hello" }, "Who are you?"),
    );
    expect(stranger.body).toMatchObject({ decision: "refused" });
  });

  it("a reply from someone who may not comment on that ticket is refused and logged", async () => {
    const other = await activeUser(database.current.owner, "Other Customer", "customer");
    const { rows } = await database.current.owner.query(
      "select email from app_private.user_accounts where user_id = $1",
      [other.id],
    );
    const before = (await commentsOf(ticketId)).length;
    const response = await post(
      rawMessage(
        { From: rows[0].email, To: `reply+${number}@support.example.test`, Subject: `Re: [#${number}] VPN` },
        "Let me in.",
      ),
    );
    expect(response.body).toMatchObject({ decision: "refused" });
    expect(await commentsOf(ticketId)).toHaveLength(before);
    const { rows: logged } = await database.current.owner.query(
      "select decision, reason from app_private.inbound_emails where user_id = $1",
      [other.id],
    );
    expect(logged).toEqual([{ decision: "refused", reason: expect.stringMatching(/may not/) }]);
  });

  it("with INBOUND_UNKNOWN_SENDER=create, an unknown sender becomes an unverified customer without a password", async () => {
    const { rows } = await database.current.authenticator.query(
      `select action, user_role, reason from app_private.route_inbound_email(
         'new.person@elsewhere.example.com', 'New Person', '<n-1@elsewhere>', 'Hello', '{}', '{}', '{}', null, 'create')`,
    );
    expect(rows).toEqual([
      { action: "ticket", user_role: "customer", reason: expect.stringMatching(/unverified customer created/) },
    ]);
    const { rows: account } = await database.current.owner.query(
      `select u.display_name, a.password_hash, a.email_verified_at from app_private.user_accounts as a
       join app_public.users as u on u.id = a.user_id where a.email = 'new.person@elsewhere.example.com'`,
    );
    expect(account).toEqual([{ display_name: "New Person", password_hash: null, email_verified_at: null }]);
  });
});
