import type { JobHelpers, Task } from "graphile-worker";
import type { MailConfig } from "./mail-config.ts";
import { renderMail } from "./mail-render.ts";
import { createMailSender, type MailSender, type OutgoingMail } from "./mail-transport.ts";

/**
 * The `send_mail` task: one attempt of one mail. What to send comes from SQL
 * (app_private.mail_to_send); what follows an attempt (retry with backoff,
 * give up, clear the parameters) is SQL's too (app_private.record_mail_attempt).
 * Ticket mails are threaded on the ticket: every one of them refers to the
 * ticket's root Message-ID, carries [#number] in its subject and the ticket's
 * reply address as Reply-To.
 */
interface MailRow {
  id: string;
  kind: string;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  params: Record<string, unknown>;
  ticket_id: string | null;
  ticket_number: string | null;
}

/** The Message-ID of a mail. */
export function mailMessageId(mailId: string, domain: string): string {
  return `<mail.${mailId}@${domain}>`;
}

/** The root Message-ID of a ticket's thread: every ticket mail answers it. */
export function ticketThreadId(ticketId: string, domain: string): string {
  return `<ticket.${ticketId}@${domain}>`;
}

/** The address a reply to a ticket's mail goes to. */
export function ticketReplyAddress(ticketNumber: string, domain: string): string {
  return `reply+${ticketNumber}@${domain}`;
}

export function outgoingMail(row: MailRow, config: MailConfig): OutgoingMail {
  const params = { ...row.params, appUrl: config.appUrl };
  const rendered = renderMail({ subject: row.subject, text: row.text_body, html: row.html_body }, params);
  const message: OutgoingMail = {
    from: config.from,
    // As an address object and an explicit envelope: never parsed as a list of addresses.
    to: { name: "", address: row.to_address },
    envelope: { from: config.envelopeFrom, to: [row.to_address] },
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    messageId: mailMessageId(row.id, config.replyDomain),
    headers: { "Auto-Submitted": "auto-generated", "X-Ticketing-Mail-Kind": row.kind },
  };
  if (row.ticket_id && row.ticket_number) {
    const thread = ticketThreadId(row.ticket_id, config.replyDomain);
    message.subject = `[#${row.ticket_number}] ${rendered.subject}`;
    message.inReplyTo = thread;
    message.references = [thread];
    message.replyTo = ticketReplyAddress(row.ticket_number, config.replyDomain);
  }
  return message;
}

export function sendMailTask(config: MailConfig, sender: MailSender = createMailSender(config.transport)): Task {
  return async (payload: unknown, helpers: JobHelpers) => {
    const mailId = (payload as { mailId?: unknown } | null)?.mailId;
    if (typeof mailId !== "string") return;
    const { rows } = await helpers.query<MailRow>(
      `select id, kind, to_address, subject, text_body, html_body, params, ticket_id, ticket_number::text as ticket_number
       from app_private.mail_to_send($1)`,
      [mailId],
    );
    const row = rows[0];
    if (!row) return;
    let outcome: "sent" | "discarded" | "failed";
    let error: string | null = null;
    try {
      outcome = await sender.send(outgoingMail(row, config));
    } catch (failure) {
      outcome = "failed";
      error = (failure as Error).message;
    }
    const { rows: recorded } = await helpers.query<{ status: string | null }>(
      "select app_private.record_mail_attempt($1, $2, $3) as status",
      [row.id, outcome, error],
    );
    helpers.logger.info(`mail ${row.id} (${row.kind}): ${recorded[0]?.status ?? "gone"}${error ? ` (${error})` : ""}`);
  };
}
