import { describe, expect, it } from "vitest";
import { attachmentBy, commentBy, makeTicket, makeUser } from "../support/fixtures.ts";
import { useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { type Recorder, sleep, useSockets } from "./realtime-helpers.ts";

/**
 * ATTACHMENT_ADDED: an attachment that becomes ready is announced to the
 * subscribers who may read it, live and on replay, under the attachment's own
 * visibility (a file of an internal note never reaches a customer).
 * "Nothing" is checked by waiting 1.5 s after the control events arrived.
 */
const database = useTestDatabase();
const api = useTestApi(database);
const QUIET_MS = 1_500;

const FIELDS = "kind ticketId cursor comment { rowId } attachment { rowId fileName contentType size commentId }";
const TICKET_CHANGED = `subscription ($id: UUID!, $after: Cursor) { ticketChanged(ticketId: $id, after: $after) { ${FIELDS} } }`;
const MY_TICKETS = `subscription ($after: Cursor) { myTicketsChanged(after: $after) { ${FIELDS} } }`;
const MY_QUEUE = `subscription ($after: Cursor) { myQueueChanged(after: $after) { ${FIELDS} } }`;

interface AttachmentEvent {
  kind: string;
  ticketId: string | null;
  cursor: string;
  comment: unknown;
  attachment: { rowId: string; fileName: string; contentType: string; size: string; commentId: string | null } | null;
}

const sockets = useSockets(api);

const events = (recorder: Recorder) => recorder.events as unknown as AttachmentEvent[];
const added = (recorder: Recorder) => events(recorder).filter((event) => event.kind === "ATTACHMENT_ADDED");

async function attach(
  uploader: string,
  role: "customer" | "agent",
  ticketId: string,
  fileName: string,
  commentId: string | null,
  verdict: "ready" | "rejected" | "pending" = "ready",
): Promise<string> {
  return attachmentBy(database.current.authenticator, { id: uploader, role }, ticketId, fileName, commentId, verdict);
}

describe("ATTACHMENT_ADDED", () => {
  it("reaches the agent and the requester for a public file, only the agent for an internal note's, nobody else", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Filing Customer", "customer");
    const stranger = await makeUser(db.owner, "Stranger Customer", "customer");
    const agent = await makeUser(db.owner, "Filing Agent", "agent");
    const ticketId = (await makeTicket(db.owner, customer, "in_progress", agent)).id as string;
    const publicComment = await commentBy(db.owner, ticketId, customer, "Screenshot attached");
    const internalNote = await commentBy(db.owner, ticketId, agent, "Server logs", true);

    const agentTicket = sockets.subscribe(agent, "agent", TICKET_CHANGED, { id: ticketId });
    const agentQueue = sockets.subscribe(agent, "agent", MY_QUEUE);
    const customerTicket = sockets.subscribe(customer, "customer", TICKET_CHANGED, { id: ticketId });
    const customerTickets = sockets.subscribe(customer, "customer", MY_TICKETS);
    const strangerTicket = sockets.subscribe(stranger, "customer", TICKET_CHANGED, { id: ticketId });
    const strangerTickets = sockets.subscribe(stranger, "customer", MY_TICKETS);
    const all = [agentTicket, agentQueue, customerTicket, customerTickets, strangerTicket, strangerTickets];
    await Promise.all(all.map((recorder) => recorder.live()));
    const before = { customer: customerTickets.events[0]!.cursor, agent: agentQueue.events[0]!.cursor };

    const publicFile = await attach(customer, "customer", ticketId, "screen.png", publicComment);
    const internalFile = await attach(agent, "agent", ticketId, "server-log.png", internalNote);
    // Neither a pending nor a rejected upload is announced.
    await attach(customer, "customer", ticketId, "never-sent.png", null, "pending");
    await attach(customer, "customer", ticketId, "corrupt.png", null, "rejected");
    const ticketFile = await attach(agent, "agent", ticketId, "invoice.png", null);

    await Promise.all([
      agentTicket.untilCount(4),
      agentQueue.untilCount(4),
      customerTicket.untilCount(3),
      customerTickets.untilCount(3),
    ]);
    await sleep(QUIET_MS);

    for (const recorder of [agentTicket, agentQueue]) {
      expect(recorder.kinds()).toEqual(["SUBSCRIBED", "ATTACHMENT_ADDED", "ATTACHMENT_ADDED", "ATTACHMENT_ADDED"]);
      expect(added(recorder).map((event) => event.attachment?.rowId)).toEqual([publicFile, internalFile, ticketFile]);
    }
    expect(added(agentTicket)[1]).toMatchObject({
      ticketId,
      comment: null,
      attachment: { fileName: "server-log.png", contentType: "image/png", commentId: internalNote },
    });
    for (const recorder of [customerTicket, customerTickets]) {
      expect(recorder.kinds()).toEqual(["SUBSCRIBED", "ATTACHMENT_ADDED", "ATTACHMENT_ADDED"]);
      expect(added(recorder).map((event) => event.attachment?.rowId)).toEqual([publicFile, ticketFile]);
      expect(JSON.stringify(recorder.events)).not.toContain("server-log");
      expect(recorder.errors).toEqual([]);
    }
    expect(strangerTicket.kinds()).toEqual(["SUBSCRIBED"]);
    expect(strangerTickets.kinds()).toEqual(["SUBSCRIBED"]);
    // Events carry no URL: the download URL is asked for, not pushed.
    expect(JSON.stringify(all.map((recorder) => recorder.events))).not.toMatch(/\/files\/|sig=|X-Amz/);

    // Replay from the cursors taken before the uploads: the same, under the same rules.
    await sockets.disposeAll();
    const customerAgain = sockets.subscribe(customer, "customer", MY_TICKETS, { after: before.customer });
    const agentAgain = sockets.subscribe(agent, "agent", MY_QUEUE, { after: before.agent });
    const strangerAgain = sockets.subscribe(stranger, "customer", TICKET_CHANGED, {
      id: ticketId,
      after: before.customer,
    });
    await Promise.all([customerAgain.live(), agentAgain.live(), strangerAgain.live()]);
    expect(customerAgain.kinds()).toEqual(["ATTACHMENT_ADDED", "ATTACHMENT_ADDED", "SUBSCRIBED"]);
    expect(added(customerAgain).map((event) => event.attachment?.rowId)).toEqual([publicFile, ticketFile]);
    expect(agentAgain.kinds()).toEqual(["ATTACHMENT_ADDED", "ATTACHMENT_ADDED", "ATTACHMENT_ADDED", "SUBSCRIBED"]);
    expect(added(agentAgain).map((event) => event.attachment?.rowId)).toEqual([publicFile, internalFile, ticketFile]);
    expect(strangerAgain.kinds()).toEqual(["SUBSCRIBED"]);
  });

  it("is written once, when the verdict makes the attachment ready, in that transaction", async () => {
    const db = database.current;
    const customer = await makeUser(db.owner, "Counting Customer", "customer");
    const ticketId = (await makeTicket(db.owner, customer, "open")).id as string;
    const id = await attach(customer, "customer", ticketId, "once.png", null);
    const { rows } = await db.owner.query<{ kind: string; ticket_id: string; comment_id: string | null }>(
      "select kind, ticket_id, comment_id from app_private.realtime_events where attachment_id = $1",
      [id],
    );
    expect(rows).toEqual([{ kind: "attachment_added", ticket_id: ticketId, comment_id: null }]);
    // A rolled-back verdict writes nothing.
    const pending = await attach(customer, "customer", ticketId, "rolled-back.png", null, "pending");
    const client = await db.authenticator.connect();
    try {
      await client.query("begin");
      await client.query("select app_private.finish_attachment_upload($1, $2, null)", [customer, pending]);
      await client.query("rollback");
    } finally {
      client.release();
    }
    const after = await db.owner.query("select 1 from app_private.realtime_events where attachment_id = $1", [pending]);
    expect(after.rowCount).toBe(0);
  });
});
