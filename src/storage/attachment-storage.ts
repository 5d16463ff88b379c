/**
 * Where attachment bytes live. PostgreSQL keeps the rows and decides who may
 * see them (migrations: attachments); a driver only stores bytes under an
 * opaque key and signs short-lived URLs for one object and one method. Two
 * drivers: the local filesystem under the data directory, served by the API
 * itself (local-storage.ts), and S3-compatible object storage
 * (s3-storage.ts). See docs/attachments.md.
 */

/** How long an upload URL is valid: the client PUTs the bytes within it. */
export const UPLOAD_URL_SECONDS = 15 * 60;
/** How long a download URL is valid; a client asks for a new one each time. */
export const DOWNLOAD_URL_SECONDS = 5 * 60;

/** A storage key is 32 hex digits (a random UUID; the attachments_storage_key_shape constraint). */
export const STORAGE_KEY = /^[0-9a-f]{32}$/;

export interface UploadTarget {
  /** Where to PUT the bytes (the local driver's URLs are relative to the API's origin). */
  url: string;
  /** Headers the PUT must carry (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface DeclaredUpload {
  key: string;
  size: number;
  contentType: string;
}

export interface DownloadRequest {
  key: string;
  fileName: string;
  contentType: string;
}

export interface StoredObject {
  key: string;
  modifiedAt: Date;
}

export interface AttachmentStorage {
  readonly driver: "local" | "s3";
  /** A signed PUT for exactly this object, size and content type. */
  uploadTarget(upload: DeclaredUpload): Promise<UploadTarget>;
  /** A signed GET answering with `Content-Disposition: attachment` and a safe content type. */
  downloadUrl(download: DownloadRequest): Promise<string>;
  /**
   * Stores bytes the API received itself (the files of an inbound mail),
   * written once like an upload: an existing object is never replaced.
   */
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The stored bytes, or undefined when nothing was uploaded under the key. */
  open(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Removes the object; nothing happens when it is absent. */
  remove(key: string): Promise<void>;
  /** Every stored object (the clean-up job compares them with the rows). */
  list(): AsyncIterable<StoredObject>;
}

/**
 * Types a browser would render or run in the API's (or the bucket's) origin.
 * They are served as application/octet-stream, and every download is an
 * attachment anyway, never inline.
 */
const ACTIVE_CONTENT = new Set([
  "text/html",
  "application/xhtml+xml",
  "image/svg+xml",
  "text/xml",
  "application/xml",
  "text/javascript",
  "application/javascript",
  "application/ecmascript",
  "text/ecmascript",
  "application/x-shockwave-flash",
  "application/pdf+html",
  "text/xsl",
  "application/vnd.wap.xhtml+xml",
  "multipart/x-mixed-replace",
]);

/** The Content-Type a download is served with: the stored type, unless it is active content. */
export function servedContentType(contentType: string): string {
  return ACTIVE_CONTENT.has(contentType) ? "application/octet-stream" : contentType;
}

/**
 * `attachment` with the file name; a name that is not plain ASCII also gets
 * its exact form in RFC 5987 notation (filename*) after an ASCII fallback.
 * The stored name is already sanitised (no quotes, separators or control
 * characters: constraint attachments_file_name_safe).
 */
export function attachmentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%;]/g, "_");
  if (fallback === fileName) return `attachment; filename="${fileName}"`;
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(fileName)}`;
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
