import type pg from "pg";
import type { PgSelectSingleStep } from "postgraphile/@dataplan/pg";
import { access, context, lambda, list, object, type ObjectStep, sideEffect, type Step } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";
import type { AccessClaims } from "../auth/access-tokens.ts";
import { authError } from "../auth/auth-errors.ts";
import type { AttachmentStorage, UploadTarget } from "../storage/attachment-storage.ts";
import { verifyUpload } from "../storage/verify-upload.ts";

/**
 * The TypeScript side of attachments (docs/attachments.md): what SQL cannot
 * do, i.e. signing storage URLs and reading the uploaded bytes back. Who may
 * do what is decided in SQL: createAttachmentUpload is the SQL function
 * app_public.create_attachment_upload (policies and the quota trigger), to
 * whose payload this adds the signed upload URL; an Attachment row reaches a
 * client only through its row-level security (the ticket's and the
 * comment's rules), and downloadUrl signs a URL for such a row only when it
 * is ready; completeAttachmentUpload asks app_private which pending upload
 * of the caller it is, verifies the bytes, records the verdict there, and
 * reads the row back under the caller's policies.
 */
export interface AttachmentDependencies {
  /** The API's own connection (ticketing_authenticator), which alone may run the verdict functions. */
  pool: pg.Pool;
  storage: AttachmentStorage;
}

const typeDefs = gql`
  extend type CreateAttachmentUploadPayload {
    "Where to PUT the file's bytes (relative to the API's origin with the local driver), within uploadExpiresAt."
    uploadUrl: String
    "Headers the PUT must send as they are (they are part of the URL's signature)."
    uploadHeaders: JSON
    "When uploadUrl stops working."
    uploadExpiresAt: Datetime
  }

  extend type Attachment {
    """
    A short-lived URL (minutes) that downloads the file as an attachment with
    its stored content type; null unless the attachment is ready. Ask again
    for a fresh one rather than storing it.
    """
    downloadUrl: String
  }

  input CompleteAttachmentUploadInput {
    attachmentId: UUID!
  }

  type CompleteAttachmentUploadPayload {
    "The attachment, now ready or rejected (rejectionReason says why)."
    attachment: Attachment
  }

  extend type Mutation {
    """
    Finishes an upload started with createAttachmentUpload, after the PUT of
    the bytes: the stored file must have the declared size and SHA-256, and its
    content must match the declared content type. The attachment becomes
    ready, or rejected (and its bytes are removed). Only the uploader may
    complete it, once.
    """
    completeAttachmentUpload(input: CompleteAttachmentUploadInput!): CompleteAttachmentUploadPayload
  }
`;

type AttachmentRow = PgSelectSingleStep;

interface PendingUpload {
  storage_key: string;
  size: string;
  sha256: string;
  content_type: string;
}

export function attachmentsPlugin(deps: AttachmentDependencies): GraphileConfig.Plugin {
  const { pool, storage } = deps;

  const uploadTarget = async ([key, size, contentType, state]: readonly unknown[]): Promise<UploadTarget | null> =>
    state === "pending" && typeof key === "string"
      ? storage.uploadTarget({ key, size: Number(size), contentType: String(contentType) })
      : null;

  const downloadUrl = async ([key, state, fileName, contentType]: readonly unknown[]): Promise<string | null> =>
    state === "ready" && typeof key === "string"
      ? storage.downloadUrl({ key, fileName: String(fileName), contentType: String(contentType) })
      : null;

  const complete = async ([input, auth]: readonly unknown[]): Promise<string> => {
    const claims = auth as AccessClaims | undefined;
    if (!claims) throw authError("UNAUTHENTICATED");
    const attachmentId = (input as { attachmentId: string }).attachmentId;
    const { rows } = await pool.query<PendingUpload>(
      "select storage_key, size, sha256, content_type from app_private.attachment_to_verify($1, $2)",
      [claims.userId, attachmentId],
    );
    const pending = rows[0]!;
    const reason = await verifyUpload(storage, {
      key: pending.storage_key,
      size: Number(pending.size),
      sha256: pending.sha256,
      contentType: pending.content_type,
    });
    await pool.query("select app_private.finish_attachment_upload($1, $2, $3)", [claims.userId, attachmentId, reason]);
    // Rejected bytes are never served: removed now (the clean-up job retries a failure).
    if (reason !== null) await storage.remove(pending.storage_key).catch(() => {});
    return attachmentId;
  };

  return extendSchema((build) => {
    const attachments = build.input.pgRegistry.pgResources.attachments;
    if (!attachments) throw new Error("attachmentsPlugin needs the app_public.attachments table");

    const $uploadTarget = ($payload: ObjectStep) => {
      const $row = $payload.get("result") as unknown as AttachmentRow;
      return lambda(
        list([$row.get("storage_key"), $row.get("size"), $row.get("content_type"), $row.get("state")]),
        uploadTarget,
      );
    };

    return {
      typeDefs,
      objects: {
        CreateAttachmentUploadPayload: {
          plans: {
            uploadUrl: ($payload: ObjectStep) => access($uploadTarget($payload), "url"),
            uploadHeaders: ($payload: ObjectStep) => access($uploadTarget($payload), "headers"),
            uploadExpiresAt: ($payload: ObjectStep) =>
              lambda($uploadTarget($payload), (target) => (target ? target.expiresAt.toISOString() : null), true),
          },
        },
        Attachment: {
          plans: {
            downloadUrl($attachment: AttachmentRow) {
              return lambda(
                list([
                  $attachment.get("storage_key"),
                  $attachment.get("state"),
                  $attachment.get("file_name"),
                  $attachment.get("content_type"),
                ]),
                downloadUrl,
              );
            },
          },
        },
        Mutation: {
          plans: {
            completeAttachmentUpload(_$root, fieldArgs) {
              const $context = context();
              const $id = sideEffect([fieldArgs.getRaw("input") as Step, $context.get("auth")], complete);
              return object({ id: $id });
            },
          },
        },
        CompleteAttachmentUploadPayload: {
          plans: {
            // Read back as the caller: their policies decide whether they still see it.
            attachment: ($payload: ObjectStep<{ id: Step<string> }>) => attachments.get({ id: $payload.get("id") }),
          },
        },
      },
    };
  }, "TicketingAttachmentsPlugin");
}
