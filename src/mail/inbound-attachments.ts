import { createHash } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import type { Attachment } from "mailparser";
import type pg from "pg";
import { applySettings } from "../database/request-transaction.ts";
import { pgSettingsFor, type UserRole, webRoleOf } from "../database/web-roles.ts";
import { constraintMessage } from "../graphql/constraint-messages.ts";
import type { AttachmentStorage } from "../storage/attachment-storage.ts";
import { verifyUpload } from "../storage/verify-upload.ts";

/**
 * The files of an inbound mail become attachments of the comment (or the
 * ticket) the mail made, held to exactly the rules of an upload, none of
 * them restated here: each file is requested as the sender with
 * app_public.create_attachment_upload (the insert policy, the per-role size
 * limit and quota, the allowed types and the file-name rules), its bytes are
 * stored through the configured driver and checked by the upload's own
 * verifyUpload (size, SHA-256, type sniffed from the bytes), and the verdict
 * is recorded by app_private.finish_attachment_upload, all in the
 * transaction of the comment. A refused file is skipped with its reason; the
 * comment stays. See docs/email.md.
 */

/** At most this many files of one message are considered; the rest are refused (listed for staff). */
export const MAX_INBOUND_ATTACHMENTS = 10;

export interface InboundFile {
  fileName: string;
  /** As the sender's mail program labelled it. */
  contentType: string;
  content: Buffer;
}

export interface RefusedFile {
  fileName: string;
  contentType: string;
  size: number;
  reason: string;
}

export interface AttachOutcome {
  attached: string[];
  refused: RefusedFile[];
}

/** Every MIME part mailparser reads as a file (attachments and inline images alike), in message order. */
export function inboundFiles(attachments: readonly Attachment[]): InboundFile[] {
  return attachments.map((part, index) => ({
    fileName: part.filename ?? `attachment-${index + 1}`,
    contentType: part.contentType ?? "application/octet-stream",
    content: part.content,
  }));
}

/**
 * The type declared for a file: the mail's label, or, when the label says
 * nothing (application/octet-stream, RFC 2046's "unknown"), the format its
 * bytes show. The declaration is then verified like an upload's.
 */
async function declaredType(file: InboundFile): Promise<string> {
  const labelled = file.contentType.split(";")[0]!.trim().toLowerCase();
  if (labelled !== "" && labelled !== "application/octet-stream") return labelled;
  return (await fileTypeFromBuffer(file.content))?.mime ?? "application/octet-stream";
}

/** Why the database refused a file, in the words a client of the API would get. */
function refusalReason(error: unknown): string | undefined {
  const { code, message, constraint } = error as { code?: unknown; message?: unknown; constraint?: string };
  if (typeof code !== "string") return undefined;
  if (code === "TKVAL" && typeof message === "string") return message;
  if (code === "TKRAT") return "The sender's attachment quota is used up";
  if (code === "42501") return "The sender may not attach files here";
  if (/^23/.test(code)) return constraintMessage(constraint) ?? "The file breaks an attachment rule";
  if (/^22/.test(code)) return "The file's details are not valid";
  return undefined;
}

interface Target {
  userId: string;
  userRole: UserRole;
  ticketId: string;
  commentId: string | null;
}

/**
 * Attaches `files` to the target as the sender, inside the caller's open
 * transaction (run as the API's own role). Each file is a savepoint: a
 * refusal or a storage failure undoes only that file. Every storage key
 * written is added to `stored` at once, so the caller can remove the bytes
 * if the transaction does not commit.
 */
export async function attachInboundFiles(
  client: pg.ClientBase,
  storage: AttachmentStorage,
  target: Target,
  files: readonly InboundFile[],
  stored: string[],
): Promise<AttachOutcome> {
  const outcome: AttachOutcome = { attached: [], refused: [] };
  const sender = pgSettingsFor({ role: webRoleOf(target.userRole), userId: target.userId });
  for (const [index, file] of files.entries()) {
    const contentType = await declaredType(file);
    const refuse = (reason: string) =>
      outcome.refused.push({
        fileName: file.fileName.slice(0, 200),
        contentType: contentType.slice(0, 255),
        size: file.content.length,
        reason,
      });
    if (index >= MAX_INBOUND_ATTACHMENTS) {
      refuse(`At most ${MAX_INBOUND_ATTACHMENTS} files of one message are attached`);
      continue;
    }
    const sha256 = createHash("sha256").update(file.content).digest("hex");
    await client.query("savepoint inbound_file");
    let row: { id: string; storage_key: string; content_type: string } | undefined;
    try {
      await applySettings(client, sender);
      const { rows } = await client.query<{ id: string; storage_key: string; content_type: string }>(
        "select id, storage_key, content_type from app_public.create_attachment_upload($1, $2, $3, $4, $5, $6)",
        [target.ticketId, file.fileName, contentType, file.content.length, sha256, target.commentId],
      );
      row = rows[0];
      await client.query("reset role");
    } catch (error) {
      await client.query("rollback to savepoint inbound_file");
      await client.query("reset role");
      const reason = refusalReason(error);
      if (reason === undefined) throw error;
      refuse(reason);
      continue;
    }
    if (!row) throw new Error("create_attachment_upload returned no row");
    let verdict: string | null;
    try {
      stored.push(row.storage_key);
      await storage.put(row.storage_key, file.content, row.content_type);
      verdict = await verifyUpload(storage, {
        key: row.storage_key,
        size: file.content.length,
        sha256,
        contentType: row.content_type,
      });
      await client.query("select app_private.finish_attachment_upload($1, $2, $3)", [target.userId, row.id, verdict]);
    } catch {
      // The row goes with the savepoint, and the bytes with it: nothing half-stored.
      await client.query("rollback to savepoint inbound_file");
      await storage.remove(row.storage_key).catch(() => {});
      refuse("The file could not be stored; ask the sender to send it again");
      continue;
    }
    await client.query("release savepoint inbound_file");
    if (verdict === null) {
      outcome.attached.push(row.id);
    } else {
      // Kept as a rejected attachment (with its reason) like a failed upload; its bytes are not served.
      await storage.remove(row.storage_key).catch(() => {});
      refuse(verdict);
    }
  }
  return outcome;
}
