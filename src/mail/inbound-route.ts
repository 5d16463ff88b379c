import { createHash, timingSafeEqual } from "node:crypto";
import express, { type Request, type Response, type Router } from "express";
import { simpleParser } from "mailparser";
import type pg from "pg";
import { applySettings, inTransactionWithSettings } from "../database/request-transaction.ts";
import { pgSettingsFor, webRoleOf, type UserRole } from "../database/web-roles.ts";
import type { Logger } from "../observability/logger.ts";
import type { InboundSettings } from "./mail-config.ts";
import type { AttachmentStorage } from "../storage/attachment-storage.ts";
import { attachInboundFiles, inboundFiles, type InboundFile, type RefusedFile } from "./inbound-attachments.ts";
import { inboundFacts, ticketSubject, type InboundFacts } from "./inbound-message.ts";

/**
 * POST /inbound/email: a raw RFC 5322 message, as an MTA pipe or a hosted
 * inbound-parse service delivers it, authenticated with
 * `Authorization: Bearer <INBOUND_EMAIL_SECRET>` (checked before the body is
 * read; compared in constant time). The message is parsed with mailparser;
 * SQL decides what it is and logs the decision
 * (app_private.route_inbound_email); a reply or a new ticket is then written
 * as the sender, under the sender's own policies, in the same transaction.
 * The files of the message then become attachments of that comment or
 * ticket (inbound-attachments.ts), in the same transaction.
 * The answer is 200 with the decision for every message read (an MTA must
 * not retry a refused one), 401 without the secret, 413 beyond
 * INBOUND_EMAIL_MAX_BYTES.
 */
export interface InboundResult {
  decision: "comment" | "ticket" | "ignored" | "refused";
  reason: string;
  ticketId?: string | null;
  commentId?: string | null;
  /** Ids of the attachments made from the message's files. */
  attachmentIds?: string[];
  /** The message's files that did not become attachments, and why. */
  refusedAttachments?: RefusedFile[];
}

interface Route {
  inbound_id: string;
  action: InboundResult["decision"];
  user_id: string | null;
  user_role: UserRole | null;
  ticket_id: string | null;
  reason: string;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Writes the reply or the ticket as the sender, in a savepoint: a refusal by their rights undoes only this. */
async function actAsSender(
  client: pg.ClientBase,
  route: Route,
  facts: InboundFacts,
): Promise<{ ticketId: string | null; commentId: string | null } | { refusal: string }> {
  if (!route.user_id || !route.user_role) return { refusal: "no sender account" };
  await client.query("savepoint inbound_act");
  try {
    await applySettings(client, pgSettingsFor({ role: webRoleOf(route.user_role), userId: route.user_id }));
    let result: { ticketId: string | null; commentId: string | null };
    if (route.action === "comment") {
      const { rows } = await client.query<{ id: string }>("select (app_public.add_comment($1, $2, false)).id", [
        route.ticket_id,
        facts.body.slice(0, 20_000),
      ]);
      result = { ticketId: route.ticket_id, commentId: rows[0]?.id ?? null };
    } else {
      const { rows } = await client.query<{ id: string }>(
        "insert into app_public.tickets (subject, description) values ($1, $2) returning id",
        [ticketSubject(facts.subject), facts.body.slice(0, 20_000)],
      );
      result = { ticketId: rows[0]?.id ?? null, commentId: null };
    }
    await client.query("reset role");
    await client.query("release savepoint inbound_act");
    return result;
  } catch (error) {
    await client.query("rollback to savepoint inbound_act");
    await client.query("reset role");
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !/^(42501|TK...|23...|22...)$/.test(code)) throw error;
    return { refusal: `the sender may not do this (SQLSTATE ${code})` };
  }
}

export async function receiveInboundEmail(
  pool: pg.Pool,
  settings: InboundSettings,
  raw: Buffer,
  storage?: AttachmentStorage,
): Promise<InboundResult> {
  const mail = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true });
  const facts = inboundFacts(mail, settings.replyDomain);
  const files = inboundFiles(mail.attachments);
  let autoReason = facts.autoReason;
  if (!autoReason && facts.body.length === 0) autoReason = "no new text (only quoted history or a signature)";
  const message = { facts, autoReason, files };
  // Bytes stored for this message: if its transaction does not commit, they go too.
  const stored: string[] = [];
  try {
    return await inTransactionWithSettings(pool, {}, (client) => decide(client, settings, message, storage, stored));
  } catch (error) {
    if (storage) await Promise.all(stored.map((key) => storage.remove(key).catch(() => {})));
    throw error;
  }
}

/** Routes the message, acts as its sender and attaches its files, in the caller's transaction. */
async function decide(
  client: pg.ClientBase,
  settings: InboundSettings,
  { facts, autoReason, files }: { facts: InboundFacts; autoReason: string | undefined; files: readonly InboundFile[] },
  storage: AttachmentStorage | undefined,
  stored: string[],
): Promise<InboundResult> {
  const { rows } = await client.query<Route>(
    `select inbound_id, action, user_id, user_role, ticket_id, reason
     from app_private.route_inbound_email($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      facts.sender ?? null,
      facts.displayName ?? null,
      facts.messageId?.slice(0, 1000) ?? null,
      facts.subject.slice(0, 300),
      facts.mailIds,
      facts.ticketIds,
      facts.ticketNumbers,
      autoReason ?? null,
      settings.unknownSender,
    ],
  );
  const route = rows[0];
  if (!route) throw new Error("route_inbound_email returned no row");
  if (route.action !== "comment" && route.action !== "ticket") {
    return { decision: route.action, reason: route.reason, ticketId: route.ticket_id };
  }
  const acted = await actAsSender(client, route, facts);
  const outcome: InboundResult =
    "refusal" in acted
      ? { decision: "refused", reason: acted.refusal, ticketId: route.ticket_id }
      : { decision: route.action, reason: route.reason, ...acted };
  await client.query("select app_private.record_inbound_outcome($1, $2, $3, $4, $5)", [
    route.inbound_id,
    outcome.decision,
    outcome.reason,
    outcome.ticketId ?? null,
    outcome.commentId ?? null,
  ]);
  if ("refusal" in acted || files.length === 0 || !acted.ticketId || !route.user_id || !route.user_role) return outcome;
  // The files: attachments of the comment (or of the new ticket), as the sender.
  const target = {
    userId: route.user_id,
    userRole: route.user_role,
    ticketId: acted.ticketId,
    commentId: acted.commentId,
  };
  const attached = storage
    ? await attachInboundFiles(client, storage, target, files, stored)
    : { attached: [], refused: files.map((file) => refusedWithout(file, "No attachment storage is configured")) };
  // The first 100 refusals are listed (inbound_emails_refused_attachments_list); a mail of more files is an oddity.
  const refused = attached.refused.slice(0, 100);
  await client.query("select app_private.record_inbound_refused_attachments($1, $2::jsonb)", [
    route.inbound_id,
    JSON.stringify(refused),
  ]);
  return { ...outcome, attachmentIds: attached.attached, refusedAttachments: refused };
}

function refusedWithout(file: InboundFile, reason: string): RefusedFile {
  return { fileName: file.fileName, contentType: file.contentType, size: file.content.length, reason };
}

export function inboundEmailRoutes(options: {
  pool: pg.Pool;
  settings: InboundSettings | undefined;
  logger: Logger;
  /** Where the files of inbound mail are stored (the attachments' driver). */
  storage?: AttachmentStorage | undefined;
}): Router {
  const router = express.Router();
  const { settings } = options;
  if (!settings) return router;
  const expected = digest(settings.secret);
  router.post(
    "/inbound/email",
    (req: Request, res: Response, next) => {
      const header = req.headers.authorization;
      const match = typeof header === "string" ? /^Bearer (.+)$/.exec(header) : null;
      if (match === null || !timingSafeEqual(digest(match[1]!), expected)) {
        res.status(401).json({ errors: [{ message: "Unauthorized", extensions: { code: "UNAUTHENTICATED" } }] });
        return;
      }
      next();
    },
    express.raw({ type: () => true, limit: settings.maxBytes }),
    async (req: Request, res: Response) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const result = await receiveInboundEmail(options.pool, settings, raw, options.storage);
      // Counts of files, not their names: the log is not the place for what customers send.
      const { attachmentIds, refusedAttachments, ...decision } = result;
      options.logger.info(
        {
          scope: "inbound-email",
          requestId: req.id,
          bytes: raw.length,
          ...decision,
          ...(attachmentIds ? { attached: attachmentIds.length, refused: refusedAttachments?.length ?? 0 } : {}),
        },
        "inbound email",
      );
      res.status(200).json(result);
    },
  );
  return router;
}
