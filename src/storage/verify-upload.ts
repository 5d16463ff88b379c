import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { fileTypeFromStream, supportedMimeTypes } from "file-type";
import type { AttachmentStorage } from "./attachment-storage.ts";

/**
 * The check of completeAttachmentUpload: the stored bytes are read back and
 * must have the declared size and SHA-256, and their content must not
 * contradict the declared type. The type is sniffed from the first bytes
 * with `file-type` (magic numbers of some 150 binary formats): a file whose
 * bytes are a known format must be declared as that format, and a file
 * declared as a format file-type knows must have its magic number. Formats
 * without one (plain text, CSV, JSON) pass on the other checks.
 */
export interface DeclaredFile {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
}

/** Null when the bytes are what was declared, otherwise why they are not (stored as the rejection reason). */
export async function verifyUpload(storage: AttachmentStorage, file: DeclaredFile): Promise<string | null> {
  const body = await storage.open(file.key);
  if (!body) return "Nothing was uploaded";
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    // Leaving the loop closes the stream: nothing more is read.
    if (size > file.size) return "The file is larger than declared";
    hash.update(chunk);
  }
  if (size !== file.size) return "The file is smaller than declared";
  if (hash.digest("hex") !== file.sha256) return "The SHA-256 does not match";
  // A second read for the sniffing: file-type reads as far as the format
  // needs (an Office document is found inside its zip), usually a few KiB.
  const again = (await storage.open(file.key)) as Readable | undefined;
  if (!again) return "Nothing was uploaded";
  let sniffed: Awaited<ReturnType<typeof fileTypeFromStream>>;
  try {
    sniffed = await fileTypeFromStream(again);
  } finally {
    again.destroy();
  }
  if (sniffed && sniffed.mime !== file.contentType) return `The content is ${sniffed.mime}, not ${file.contentType}`;
  if (!sniffed && supportedMimeTypes.has(file.contentType as never)) return `The content is not ${file.contentType}`;
  return null;
}
