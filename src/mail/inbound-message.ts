import type { AddressObject, ParsedMail } from "mailparser";

/**
 * What the API reads from an inbound message before SQL decides
 * (app_private.route_inbound_email): the sender, the ticket references it
 * carries, whether it is automatic (never answered, never a ticket), and the
 * new text with quoted history and signature trimmed.
 */
export interface InboundFacts {
  sender: string | undefined;
  displayName: string | undefined;
  messageId: string | undefined;
  subject: string;
  /** Ids of our own mails it answers (`<mail.<id>@domain>` in In-Reply-To/References). */
  mailIds: string[];
  /** Ticket thread ids it answers (`<ticket.<id>@domain>`). */
  ticketIds: string[];
  /** Ticket numbers: the reply address's first, then `[#number]` in the subject. */
  ticketNumbers: string[];
  /** Why it is an automatic message (auto-reply, bounce, list, our own), or undefined. */
  autoReason: string | undefined;
  /** The new text of the message. */
  body: string;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function addresses(value: AddressObject | AddressObject[] | undefined): { address: string; name: string }[] {
  const objects = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return objects.flatMap((object) =>
    object.value.flatMap((entry) => [
      ...(entry.address ? [{ address: entry.address.toLowerCase(), name: entry.name ?? "" }] : []),
      ...(entry.group ?? []).flatMap((member) =>
        member.address ? [{ address: member.address.toLowerCase(), name: member.name ?? "" }] : [],
      ),
    ]),
  );
}

function header(mail: ParsedMail, name: string): string {
  const value = mail.headers.get(name);
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.join(" ");
  if (typeof value === "object" && "value" in value) return String((value as { value: unknown }).value);
  return String(value);
}

/** Why a message is automatic and must never be answered or open a ticket (RFC 3834, RFC 3464), or undefined. */
export function automaticReason(mail: ParsedMail, sender: string | undefined, replyDomain: string): string | undefined {
  const autoSubmitted = header(mail, "auto-submitted").trim().toLowerCase();
  if (autoSubmitted && autoSubmitted !== "no") return `Auto-Submitted: ${autoSubmitted}`;
  const precedence = header(mail, "precedence").trim().toLowerCase();
  if (["bulk", "junk", "list", "auto_reply"].includes(precedence)) return `Precedence: ${precedence}`;
  if (mail.headers.has("x-autoreply") || mail.headers.has("x-autorespond")) return "X-Autoreply";
  if (mail.headers.has("list-id") || mail.headers.has("list-unsubscribe")) return "mailing list";
  const contentType = header(mail, "content-type").toLowerCase();
  if (contentType.includes("multipart/report") || contentType.includes("message/delivery-status"))
    return "delivery status notification";
  if (!sender) return "no sender address";
  const local = sender.split("@")[0] ?? "";
  if (/^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)$/i.test(local)) return `sent by ${local}`;
  if (sender.endsWith(`@${replyDomain.toLowerCase()}`)) return "sent from the helpdesk's own domain";
  return undefined;
}

/**
 * The new text of a reply: everything from the first quote header ("On …
 * wrote:", "-----Original Message-----", an Outlook "From:" block) or the
 * signature separator ("-- ") on is dropped, and so are quoted (">") lines.
 */
export function newText(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const kept: string[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    const next = lines[index + 1] ?? "";
    if (line === "-- " || line === "--") break;
    if (/^\s*-{2,}\s*(Original Message|Forwarded message)\s*-{2,}\s*$/i.test(line)) break;
    if (/^On .+wrote:\s*$/.test(line) || (/^On .+/.test(line) && /wrote:\s*$/.test(next))) break;
    if (/^_{8,}\s*$/.test(line)) break;
    if (/^From: .+/.test(line) && /^(Sent|Date|To): /.test(next)) break;
    if (/^\s*>/.test(line)) continue;
    kept.push(line);
  }
  return kept.join("\n").trim();
}

export function inboundFacts(mail: ParsedMail, replyDomain: string): InboundFacts {
  const from = addresses(mail.from)[0];
  const sender = from?.address;
  const domain = escapeRegExp(replyDomain.toLowerCase());
  const threadText = [
    header(mail, "in-reply-to"),
    Array.isArray(mail.references) ? mail.references.join(" ") : (mail.references ?? ""),
  ]
    .join(" ")
    .toLowerCase();
  const mailIds = [...threadText.matchAll(new RegExp(`<mail\\.(${UUID})@${domain}>`, "g"))].map((match) => match[1]!);
  const ticketIds = [...threadText.matchAll(new RegExp(`<ticket\\.(${UUID})@${domain}>`, "g"))].map(
    (match) => match[1]!,
  );
  const recipients = [...addresses(mail.to), ...addresses(mail.cc)].map((entry) => entry.address);
  for (const delivered of [header(mail, "delivered-to"), header(mail, "x-original-to")]) {
    if (delivered) recipients.push(delivered.trim().toLowerCase());
  }
  const replyAddress = new RegExp(`^reply\\+(\\d{1,18})@${domain}$`);
  const numbers = recipients.flatMap((address) => replyAddress.exec(address)?.[1] ?? []);
  const subject = (mail.subject ?? "").trim();
  for (const match of subject.matchAll(/\[#(\d{1,18})\]/g)) numbers.push(match[1]!);
  return {
    sender,
    displayName: from?.name || undefined,
    messageId: mail.messageId,
    subject,
    mailIds: [...new Set(mailIds)],
    ticketIds: [...new Set(ticketIds)],
    ticketNumbers: [...new Set(numbers)],
    autoReason: automaticReason(mail, sender, replyDomain),
    body: newText(mail.text ?? ""),
  };
}

/** A subject fit for a new ticket: without reply prefixes and ticket tags, within the 200-character rule. */
export function ticketSubject(subject: string): string {
  const cleaned = subject
    .replace(/^\s*((re|fwd?|aw|wg|sv)\s*:\s*)+/i, "")
    .replace(/\[#\d+\]\s*/g, "")
    .trim();
  return (cleaned || "(no subject)").slice(0, 200);
}
